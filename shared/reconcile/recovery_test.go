package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/reconcile"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/webhook"
)

// TestReconcileRecoversSenders, against the local stack: a 368 suspension by the outbound
// function is lifted once Meta reports the number healthy (history source reconciler); a ban
// still in force on the account item keeps its senders suspended; a SCHEDULE_FOR_DISABLE whose
// date has come suspends; a number Meta reports DISCONNECTED is failed, not suspended; a
// connecting number Meta reports CONNECTED is online.
func TestReconcileRecoversSenders(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	suspend := func(reason string, src sender.Source) func(*sender.Sender) {
		return func(s *sender.Sender) { _ = s.Suspend(reason, time.Time{}, false, src, now.Add(-time.Hour)) }
	}
	r.put(t, "1001", sender.StatusOnline, suspend("account_restricted (code 368)", sender.SourceOutbound))
	r.put(t, "1002", sender.StatusOnline, nil)
	r.fake.SetPhoneNumber("1002", graphfake.PhoneNumberState{Status: "DISCONNECTED"})
	r.put(t, "1003", sender.StatusConnecting, nil)
	// WABA 2002 is banned (its webhook said so) though health reads AVAILABLE; WABA 2003 was
	// scheduled for disable at a date now past.
	r.put(t, "1004", sender.StatusOnline, func(s *sender.Sender) {
		s.WABAID = "2002"
		suspend(sender.ReasonWABADisabled, sender.SourceWebhook)(s)
	})
	r.put(t, "1005", sender.StatusOnline, func(s *sender.Sender) { s.WABAID = "2003" })
	if _, err := r.store.UpdateAccount(ctx, "2002", func(a *webhook.Account) (*webhook.Account, error) {
		if a == nil {
			a = &webhook.Account{}
		}
		a.WABAID, a.Ban = "2002", &webhook.BanState{State: "DISABLE", EventAt: now.Add(-time.Hour)}
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.UpdateAccount(ctx, "2003", func(a *webhook.Account) (*webhook.Account, error) {
		if a == nil {
			a = &webhook.Account{}
		}
		a.WABAID = "2003"
		a.ScheduledDisable = &webhook.ScheduledDisable{Date: "November 25, 2026", At: now.Add(-12 * time.Hour), EventAt: now.Add(-72 * time.Hour)}
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}

	if _, err := r.reconciler(10, nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]sender.Status{"1001": sender.StatusOnline, "1002": sender.StatusFailed, "1003": sender.StatusOnline,
		"1004": sender.StatusSuspended, "1005": sender.StatusSuspended}
	for id, st := range want {
		s := r.get(t, id)
		if s.Status != st {
			t.Errorf("%s: %s, want %s (%+v)", id, s.Status, st, s.Suspension)
			continue
		}
		last := s.StatusHistory[len(s.StatusHistory)-1]
		if id != "1004" && (last.Source != sender.SourceReconciler || last.To != st) {
			t.Errorf("%s: last history entry %+v", id, last)
		}
	}
	if s := r.get(t, "1002"); !strings.Contains(s.StatusHistory[len(s.StatusHistory)-1].Reason, "DISCONNECTED") {
		t.Errorf("lost registration reason: %+v", s.StatusHistory[len(s.StatusHistory)-1])
	}
	if s := r.get(t, "1005"); s.Suspension == nil || s.Suspension.Reason != sender.ReasonWABADisabled {
		t.Errorf("scheduled disable: %+v", s.Suspension)
	}
}

// pins is a PINSource test double holding PINs by number.
type pins map[string]string

func (p pins) PIN(_ context.Context, id string) (string, error) {
	if v, ok := p[id]; ok {
		return v, nil
	}
	return "", persist.ErrNotFound
}

// TestReregisterAfterNameApproval: after Meta approved a new display name the reconciler
// registers the number again with the kept PIN; with no PIN kept it says pin_unknown once and
// keeps asking.
func TestReregisterAfterNameApproval(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.put(t, "1001", sender.StatusOnline, func(s *sender.Sender) { s.ReregisterNeeded = true })
	r.put(t, "1002", sender.StatusOnline, func(s *sender.Sender) { s.ReregisterNeeded = true })
	rec := reconcile.New(reconcile.Options{Store: app.ReconcileStore{S: r.store}, Graph: r.graph,
		Now: func() time.Time { return now }, Pace: r.pace, PINs: pins{"1001": "482913"}})
	for range 2 {
		if _, err := rec.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var regs []string
	for _, q := range r.fake.Requests() {
		if q.Edge == "register" {
			regs = append(regs, q.PhoneNumberID+":"+string(q.Body))
		}
	}
	if len(regs) != 1 || !strings.HasPrefix(regs[0], "1001:") || !strings.Contains(regs[0], "482913") {
		t.Fatalf("register calls: %v", regs)
	}
	if s := r.get(t, "1001"); s.ReregisterNeeded || s.StatusHistory[len(s.StatusHistory)-1].Reason != reconcile.ReasonReregistered {
		t.Fatalf("1001: %+v", s.StatusHistory[len(s.StatusHistory)-1])
	}
	s := r.get(t, "1002")
	notes := 0
	for _, h := range s.StatusHistory {
		if h.Reason == reconcile.ReasonReregisterNoPIN {
			notes++
		}
	}
	if !s.ReregisterNeeded || notes != 1 {
		t.Fatalf("1002: flag %v, %d pin_unknown notes", s.ReregisterNeeded, notes)
	}
}

// TestReregisterFailureRetried: a register Meta fails leaves the flag for the next run, which
// registers the number.
func TestReregisterFailureRetried(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.put(t, "1001", sender.StatusOnline, func(s *sender.Sender) { s.ReregisterNeeded = true })
	if err := r.fake.Script(graphfake.Script{Path: "*/register", ErrorCode: 131000}); err != nil {
		t.Fatal(err)
	}
	rec := reconcile.New(reconcile.Options{Store: app.ReconcileStore{S: r.store}, Graph: r.graph,
		Now: func() time.Time { return now }, Pace: r.pace, PINs: pins{"1001": "482913"}})
	if _, err := rec.Run(ctx); err != nil {
		t.Fatal(err)
	}
	s := r.get(t, "1001")
	if !s.ReregisterNeeded || !strings.HasPrefix(s.StatusHistory[len(s.StatusHistory)-1].Reason, reconcile.ReasonReregisterFailed) {
		t.Fatalf("after a failed register: %v %+v", s.ReregisterNeeded, s.StatusHistory[len(s.StatusHistory)-1])
	}
	if _, err := rec.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.get(t, "1001"); s.ReregisterNeeded {
		t.Fatal("the next run did not register again")
	}
}
