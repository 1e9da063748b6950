package sender

import (
	"testing"
	"time"
)

// TestLostRegistrationIsASetupFailure: a number Meta reports unregistered ends failed, from
// which retry setup (new code, verify, register) leads back online; a suspension no ban caused
// does not hide it, and a ban keeps the sender suspended.
func TestLostRegistrationIsASetupFailure(t *testing.T) {
	t.Parallel()
	suspended := func(reason string, src Source) *Sender {
		s := senderIn(StatusOnline)
		if err := s.Suspend(reason, time.Time{}, false, src, t0); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name        string
		s           *Sender
		wantChanged bool
		want        Status
	}{
		{"online", senderIn(StatusOnline), true, StatusFailed},
		{"offline", senderIn(StatusOffline), true, StatusFailed},
		{"connecting", senderIn(StatusConnecting), true, StatusFailed},
		{"health block by the reconciler", suspended("Meta health_status BLOCKED", SourceReconciler), true, StatusFailed},
		{"policy suspension by outbound", suspended("account_restricted", SourceOutbound), true, StatusFailed},
		{"ban holds", suspended(ReasonWABADisabled, SourceWebhook), false, StatusSuspended},
		{"already failed", senderIn(StatusFailed), false, StatusFailed},
		{"pending", senderIn(StatusPending), false, StatusPending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			changed, err := tc.s.LoseRegistration("Meta reports DISCONNECTED", SourceReconciler, t0.Add(time.Hour))
			if err != nil || changed != tc.wantChanged || tc.s.Status != tc.want {
				t.Fatalf("LoseRegistration = %v, %v; status %s, want %v, %s", changed, err, tc.s.Status, tc.wantChanged, tc.want)
			}
			if !tc.wantChanged {
				return
			}
			last := tc.s.StatusHistory[len(tc.s.StatusHistory)-1]
			if last.To != StatusFailed || last.Reason != "Meta reports DISCONNECTED" || last.Source != SourceReconciler {
				t.Errorf("history %+v lacks the reason", last)
			}
			at := t0.Add(2 * time.Hour)
			for _, ev := range []Event{EventStartVerification, EventCodeVerified, EventRegistered} {
				if err := tc.s.Fire(ev, SourceOperator, "retry setup", at); err != nil {
					t.Fatalf("retry setup %s: %v", ev, err)
				}
			}
			if tc.s.Status != StatusOnline {
				t.Errorf("after retry setup: %s", tc.s.Status)
			}
		})
	}
}

// TestOnlineNeedsRegister: an operator cannot set a connecting sender online; the register
// (operator's confirm) or Meta reporting it registered (reconciler) can.
func TestOnlineNeedsRegister(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusConnecting)
	if err := s.Transition(StatusOnline, SourceOperator, "set online", t0); err != nil {
		t.Fatalf("Transition picks the register event for the operator's confirm flow: %v", err)
	}
	s = senderIn(StatusConnecting)
	if err := s.Fire(EventEnable, SourceOperator, "PATCH online", t0); !IsRefused(err) || s.Status != StatusConnecting {
		t.Fatalf("PATCH online from connecting = %v, status %s", err, s.Status)
	}
	if err := s.Fire(EventRegistered, SourceReconciler, "Meta reports CONNECTED", t0); err != nil || s.Status != StatusOnline {
		t.Fatalf("reconciler register = %v, status %s", err, s.Status)
	}
	if err := senderIn(StatusConnecting).Fire(EventRegistered, SourceWebhook, "", t0); !IsRefused(err) {
		t.Errorf("webhook register = %v, want refused", err)
	}
}

func TestWABABanInForce(t *testing.T) {
	t.Parallel()
	t1, t2 := t0, t0.Add(time.Hour)
	date := t0.Add(48 * time.Hour)
	tests := []struct {
		name   string
		b      WABABan
		now    time.Time
		want   bool
		reason string
	}{
		{"never told", WABABan{}, t2, false, ""},
		{"disabled", WABABan{State: BanDisable, EventAt: t1}, t2, true, ReasonWABADisabled},
		{"deleted", WABABan{State: BanAccountDeleted, EventAt: t1}, t2, true, ReasonAccountDeleted},
		{"reinstated", WABABan{State: BanReinstate, EventAt: t2}, t2, false, ""},
		{"scheduled, before the date", WABABan{ScheduledAt: date, ScheduledEventAt: t1}, date.Add(-time.Second), false, ""},
		{"scheduled, at the date", WABABan{ScheduledAt: date, ScheduledEventAt: t1}, date, true, ReasonWABADisabled},
		{"scheduled then reinstated", WABABan{State: BanReinstate, EventAt: t2, ScheduledAt: date, ScheduledEventAt: t1}, date, false, ""},
		{"reinstated then scheduled", WABABan{State: BanReinstate, EventAt: t1, ScheduledAt: date, ScheduledEventAt: t2}, date, true, ReasonWABADisabled},
		{"scheduled, date unreadable", WABABan{ScheduledEventAt: t1}, date, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, reason := tc.b.InForce(tc.now)
			if got != tc.want || reason != tc.reason {
				t.Errorf("InForce = %v %q, want %v %q", got, reason, tc.want, tc.reason)
			}
		})
	}
}

func TestNoteOnce(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusOnline)
	n := len(s.StatusHistory)
	if !s.Note("waba_policy_violation:ADULT", SourceWebhook, t0) || s.Note("waba_policy_violation:ADULT", SourceWebhook, t0) {
		t.Fatal("Note must record once per reason and time")
	}
	if len(s.StatusHistory) != n+1 || s.Status != StatusOnline {
		t.Errorf("history %d, status %s", len(s.StatusHistory), s.Status)
	}
}

func TestSuspendedByBan(t *testing.T) {
	t.Parallel()
	for reason, want := range map[string]bool{ReasonWABADisabled: true, ReasonAccountDeleted: true, "account_restricted": false} {
		s := senderIn(StatusOnline)
		_ = s.Suspend(reason, time.Time{}, false, SourceWebhook, t0)
		if s.SuspendedByBan() != want {
			t.Errorf("%s: SuspendedByBan = %v", reason, !want)
		}
	}
}

func TestNameDecision(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusOnline)
	if !s.RequestDisplayName("Shop Two", t0) || s.RequestDisplayName("Shop Two", t0) || s.DisplayName != "Shop" {
		t.Fatalf("request: %+v", s)
	}
	if !s.ApplyNameDecision("APPROVED", "Shop Two") || s.DisplayName != "Shop Two" || s.RequestedDisplayName != "" || !s.ReregisterNeeded {
		t.Fatalf("approval: %+v", s)
	}
	r := senderIn(StatusOnline)
	r.RequestDisplayName("Bad Name", t0)
	if !r.ApplyNameDecision("REJECTED", "") || r.RequestedDisplayName != "" || r.DisplayName != "Shop" || r.DisplayNameStatus != "REJECTED" {
		t.Fatalf("rejection: %+v", r)
	}
	p := senderIn(StatusPending)
	p.ApplyNameDecision("APPROVED", "Other")
	if p.ReregisterNeeded {
		t.Error("a number not registered needs no re-register")
	}
}
