package webhook_test

import (
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/webhook"
)

// TestReinstateLiftsOnlyBanSuspensions: a WABA REINSTATE lifts the suspension its ban caused,
// not one with another cause (a 368 on a send), which stays for the reconciler to lift when
// Meta reports the number healthy.
func TestReinstateLiftsOnlyBanSuspensions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seedSender()
	if _, err := e.st.UpdateSender(e.ctx, pnid, func(s *sender.Sender) error {
		return s.Suspend("account_restricted (code 368)", time.Time{}, false, sender.SourceOutbound, fixtureTime.Add(-time.Hour))
	}); err != nil {
		t.Fatal(err)
	}
	e.mustPost(fixture(t, "account_update_reinstate"))
	if s := e.sender(); s.Status != sender.StatusSuspended || s.Suspension == nil || s.Suspension.Reason != "account_restricted (code 368)" {
		t.Fatalf("a REINSTATE lifted a suspension no ban caused: %s %+v", s.Status, s.Suspension)
	}
}

// TestViolationNotedOnSenders: ACCOUNT_VIOLATION leaves a history note on every sender of the
// WABA (no status change), once however often it is delivered.
func TestViolationNotedOnSenders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seedSender()
	e.mustPost(fixture(t, "account_update_violation"))
	e.mustPost(fixture(t, "account_update_violation"))
	s := e.sender()
	var notes int
	for _, h := range s.StatusHistory {
		if h.Reason == webhook.ReasonPolicyViolation+":SCAM" && h.From == h.To && h.Source == sender.SourceWebhook {
			notes++
		}
	}
	if notes != 1 || s.Status != sender.StatusOnline {
		t.Fatalf("violation notes %d, status %s; history %+v", notes, s.Status, s.StatusHistory)
	}
}
