package sender

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// same marks an accepted event that changes no status; refused marks a refusal.
const (
	same    Status = "="
	refused Status = ""
)

// machine is the specification: for every status and event (fired by a source allowed to fire
// it), the resulting status. Written out in full so a change to the state machine must change
// this table too.
var machine = map[Status]map[Event]Status{
	StatusPending: {
		EventStartVerification: same, EventCodeVerified: StatusConnecting, EventRegistered: refused,
		EventSetupFailed: StatusFailed, EventRegistrationLost: refused, EventEnable: refused,
		EventDisable: refused, EventSuspend: StatusSuspended, EventReinstate: refused,
	},
	StatusConnecting: {
		EventStartVerification: refused, EventCodeVerified: refused, EventRegistered: StatusOnline,
		// Online only through a successful register, never by an operator's PATCH.
		EventSetupFailed: StatusFailed, EventRegistrationLost: StatusFailed, EventEnable: refused,
		EventDisable: refused, EventSuspend: StatusSuspended, EventReinstate: refused,
	},
	StatusOnline: {
		EventStartVerification: refused, EventCodeVerified: refused, EventRegistered: refused,
		EventSetupFailed: refused, EventRegistrationLost: StatusFailed, EventEnable: refused,
		EventDisable: StatusOffline, EventSuspend: StatusSuspended, EventReinstate: refused,
	},
	StatusOffline: {
		EventStartVerification: refused, EventCodeVerified: refused, EventRegistered: refused,
		EventSetupFailed: refused, EventRegistrationLost: StatusFailed, EventEnable: StatusOnline,
		EventDisable: refused, EventSuspend: StatusSuspended, EventReinstate: refused,
	},
	StatusSuspended: {
		// Reinstatement returns to Suspension.Previous (online in this test).
		EventStartVerification: refused, EventCodeVerified: refused, EventRegistered: refused,
		EventSetupFailed: refused, EventRegistrationLost: refused, EventEnable: refused,
		EventDisable: refused, EventSuspend: same, EventReinstate: StatusOnline,
	},
	StatusFailed: {
		EventStartVerification: StatusPending, EventCodeVerified: refused, EventRegistered: refused,
		EventSetupFailed: refused, EventRegistrationLost: refused, EventEnable: refused,
		EventDisable: refused, EventSuspend: StatusSuspended, EventReinstate: refused,
	},
}

// allowed lists who may fire each event.
var allowed = map[Event][]Source{
	EventStartVerification: {SourceOperator},
	EventCodeVerified:      {SourceOperator},
	EventRegistered:        {SourceOperator, SourceReconciler},
	EventEnable:            {SourceOperator},
	EventDisable:           {SourceOperator},
	EventSetupFailed:       {SourceOperator, SourceWebhook, SourceReconciler, SourceOutbound},
	EventRegistrationLost:  {SourceWebhook, SourceReconciler, SourceOutbound},
	EventSuspend:           {SourceWebhook, SourceReconciler, SourceOutbound},
	EventReinstate:         {SourceWebhook, SourceReconciler, SourceOutbound},
}

func senderIn(st Status) *Sender {
	s := New("1001", TypeExternal, "+40721234567", "w1", "", "Shop", nil, SourceOperator, t0)
	s.Status = st
	if st == StatusSuspended {
		s.Suspension = &Suspension{Reason: "DISABLE", Previous: StatusOnline, Source: SourceWebhook}
	}
	return s
}

func isAllowed(ev Event, src Source) bool {
	for _, s := range allowed[ev] {
		if s == src {
			return true
		}
	}
	return false
}

// TestMachineExhaustive fires every event from every source in every status.
func TestMachineExhaustive(t *testing.T) {
	t.Parallel()
	if len(machine) != len(Statuses) {
		t.Fatalf("spec covers %d statuses, domain has %d", len(machine), len(Statuses))
	}
	for _, st := range Statuses {
		if len(machine[st]) != len(Events) {
			t.Fatalf("spec for %s covers %d events, domain has %d", st, len(machine[st]), len(Events))
		}
		for _, ev := range Events {
			for _, src := range Sources {
				t.Run(fmt.Sprintf("%s/%s/%s", st, ev, src), func(t *testing.T) {
					t.Parallel()
					want := machine[st][ev]
					if !isAllowed(ev, src) {
						want = refused
					}
					s := senderIn(st)
					before := *s
					before.StatusHistory = append([]StatusChange(nil), s.StatusHistory...)
					at := t0.Add(time.Hour)
					err := s.Fire(ev, src, "because", at)
					switch want {
					case refused:
						var te *TransitionError
						if !errors.As(err, &te) || !errors.Is(err, ErrTransitionRefused) {
							t.Fatalf("Fire = %v, want a *TransitionError", err)
						}
						if te.Reason == "" || te.From != st || te.Event != ev {
							t.Errorf("refusal %+v lacks a reason or context", te)
						}
						if diff := cmp.Diff(&before, s); diff != "" {
							t.Errorf("refused transition changed the sender (-before +after):\n%s", diff)
						}
					case same:
						if err != nil {
							t.Fatalf("Fire = %v, want accepted", err)
						}
						if s.Status != st || len(s.StatusHistory) != len(before.StatusHistory) {
							t.Errorf("status %s, history %d entries; want unchanged", s.Status, len(s.StatusHistory))
						}
					default:
						if err != nil {
							t.Fatalf("Fire = %v, want %s", err, want)
						}
						if s.Status != want {
							t.Fatalf("status = %s, want %s", s.Status, want)
						}
						last := s.StatusHistory[len(s.StatusHistory)-1]
						wantChange := StatusChange{From: st, To: want, At: at, Reason: "because", Source: src}
						if diff := cmp.Diff(wantChange, last); diff != "" {
							t.Errorf("history entry (-want +got):\n%s", diff)
						}
						if len(s.StatusHistory) != len(before.StatusHistory)+1 {
							t.Errorf("history grew by %d, want 1", len(s.StatusHistory)-len(before.StatusHistory))
						}
						if !s.UpdatedAt.Equal(at) {
							t.Errorf("UpdatedAt = %v, want %v", s.UpdatedAt, at)
						}
					}
				})
			}
		}
	}
}

func TestTransitionChoosesEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		from    Status
		to      Status
		src     Source
		wantErr bool
	}{
		{"register", StatusConnecting, StatusOnline, SourceOperator, false},
		{"enable", StatusOffline, StatusOnline, SourceOperator, false},
		{"disable", StatusOnline, StatusOffline, SourceOperator, false},
		{"online to online", StatusOnline, StatusOnline, SourceOperator, true},
		{"offline from pending", StatusPending, StatusOffline, SourceOperator, true},
		{"online from pending", StatusPending, StatusOnline, SourceOperator, true},
		{"online from failed", StatusFailed, StatusOnline, SourceOperator, true},
		{"retry", StatusFailed, StatusPending, SourceOperator, false},
		{"pending to pending", StatusPending, StatusPending, SourceOperator, true},
		{"setup failed", StatusConnecting, StatusFailed, SourceOperator, false},
		{"registration lost", StatusOnline, StatusFailed, SourceOutbound, false},
		{"operator cannot fail an online sender", StatusOnline, StatusFailed, SourceOperator, true},
		{"suspend", StatusOnline, StatusSuspended, SourceWebhook, false},
		{"operator cannot suspend", StatusOnline, StatusSuspended, SourceOperator, true},
		{"reinstate to previous", StatusSuspended, StatusOnline, SourceReconciler, false},
		{"reinstate elsewhere", StatusSuspended, StatusOffline, SourceReconciler, true},
		{"operator cannot lift", StatusSuspended, StatusOnline, SourceOperator, true},
		{"unknown status", StatusOnline, Status("gone"), SourceOperator, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := senderIn(tc.from)
			err := s.Transition(tc.to, tc.src, "r", t0)
			if tc.wantErr {
				if !IsRefused(err) {
					t.Fatalf("Transition = %v, want refused", err)
				}
				if s.Status != tc.from {
					t.Errorf("status changed to %s on refusal", s.Status)
				}
				return
			}
			if err != nil {
				t.Fatalf("Transition = %v", err)
			}
			if s.Status != tc.to {
				t.Errorf("status = %s, want %s", s.Status, tc.to)
			}
		})
	}
}

func TestSuspendAndReinstate(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusOffline)
	until := t0.Add(24 * time.Hour)
	if err := s.Suspend("131048 spam rate limit", until, true, SourceOutbound, t0); err != nil {
		t.Fatal(err)
	}
	want := &Suspension{Reason: "131048 spam rate limit", Until: until, Previous: StatusOffline, Soft: true, Source: SourceOutbound}
	if diff := cmp.Diff(want, s.Suspension); diff != "" {
		t.Fatalf("suspension (-want +got):\n%s", diff)
	}
	if s.SuspensionLapsed(until.Add(-time.Second)) || !s.SuspensionLapsed(until) {
		t.Error("SuspensionLapsed wrong around Until")
	}
	n := len(s.StatusHistory)

	// A hard suspension on top hardens it, keeps Previous, takes its source, adds no entry.
	if err := s.Suspend("DISABLE", time.Time{}, false, SourceWebhook, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	want = &Suspension{Reason: "DISABLE", Previous: StatusOffline, Source: SourceWebhook}
	if diff := cmp.Diff(want, s.Suspension); diff != "" {
		t.Fatalf("refreshed suspension (-want +got):\n%s", diff)
	}
	// A soft one never softens it again.
	if err := s.Suspend("131048", until, true, SourceOutbound, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s.Suspension.Soft || !s.Suspension.Until.IsZero() || s.Suspension.Source != SourceWebhook {
		t.Errorf("suspension softened: %+v", s.Suspension)
	}
	if len(s.StatusHistory) != n {
		t.Errorf("refresh added history entries")
	}

	if err := s.Reinstate(SourceWebhook, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusOffline || s.Suspension != nil {
		t.Errorf("after reinstate: status %s suspension %+v", s.Status, s.Suspension)
	}
	if err := s.Reinstate(SourceWebhook, t0.Add(time.Hour)); !IsRefused(err) {
		t.Errorf("second reinstate = %v, want refused", err)
	}
}

func TestSuspendLaterExpiryWins(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusOnline)
	a, b := t0.Add(time.Hour), t0.Add(2*time.Hour)
	_ = s.Suspend("r1", b, false, SourceWebhook, t0)
	_ = s.Suspend("r2", a, false, SourceWebhook, t0)
	if !s.Suspension.Until.Equal(b) {
		t.Errorf("Until = %v, want the later %v", s.Suspension.Until, b)
	}
}

func TestReinstateWithoutPrevious(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusSuspended)
	s.Suspension = nil
	if err := s.Reinstate(SourceReconciler, t0); err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusOffline {
		t.Errorf("status = %s, want offline (safe default)", s.Status)
	}
}

func TestRetryResetsAttempts(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusFailed)
	s.FailedCodeAttempts = 5
	if err := s.Fire(EventStartVerification, SourceOperator, "retry setup", t0); err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusPending || s.FailedCodeAttempts != 0 {
		t.Errorf("status %s attempts %d", s.Status, s.FailedCodeAttempts)
	}
}

func TestHistoryBounded(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusOnline)
	for i := range MaxHistory + 10 {
		ev := EventDisable
		if i%2 == 1 {
			ev = EventEnable
		}
		if err := s.Fire(ev, SourceOperator, "flip", t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.StatusHistory) != MaxHistory {
		t.Fatalf("history has %d entries, want %d", len(s.StatusHistory), MaxHistory)
	}
	if last := s.StatusHistory[MaxHistory-1]; !last.At.Equal(t0.Add(time.Duration(MaxHistory+9) * time.Second)) {
		t.Errorf("newest entry lost: %+v", last)
	}
}

func TestUnknownStatusRefused(t *testing.T) {
	t.Parallel()
	s := senderIn(Status("archived"))
	for _, ev := range Events {
		if err := s.Fire(ev, SourceWebhook, "", t0); !IsRefused(err) {
			t.Errorf("%s from unknown status = %v, want refused", ev, err)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	s := New("1", TypePlatform, "+40721234567", "w", "b", "Shop", nil, SourceOperator, t0)
	if s.Status != StatusPending || s.QualityRating != QualityNew || s.Assistants == nil ||
		len(s.StatusHistory) != 1 || s.StatusHistory[0].To != StatusPending {
		t.Errorf("New = %+v", s)
	}
}

func TestCodeRejectedFailsAtLimit(t *testing.T) {
	t.Parallel()
	s := senderIn(StatusPending)
	for i := 1; i < MaxFailedCodeAttempts; i++ {
		failed, err := s.CodeRejected(t0)
		if err != nil || failed {
			t.Fatalf("attempt %d: failed=%v err=%v", i, failed, err)
		}
		if s.CodeAttemptsLeft() != MaxFailedCodeAttempts-i {
			t.Fatalf("attempts left %d after %d", s.CodeAttemptsLeft(), i)
		}
	}
	failed, err := s.CodeRejected(t0)
	if err != nil || !failed || s.Status != StatusFailed {
		t.Fatalf("last attempt: failed=%v err=%v status=%s", failed, err, s.Status)
	}
	if _, err := s.CodeRejected(t0); !IsRefused(err) {
		t.Errorf("code on a failed sender = %v, want refused", err)
	}
	if err := s.Fire(EventStartVerification, SourceOperator, "retry setup", t0); err != nil || s.CodeAttemptsLeft() != MaxFailedCodeAttempts {
		t.Errorf("retry: err=%v left=%d", err, s.CodeAttemptsLeft())
	}
}
