package webhook_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/persist"
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
	if _, err := e.st.UpdateSender(e.ctx, pnid, func(s *sender.Sender) (*sender.Sender, error) {
		return s, s.Suspend("account_restricted (code 368)", time.Time{}, false, sender.SourceOutbound, fixtureTime.Add(-time.Hour))
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

// TestUndeliverableThenDeliveredAnyOrder: a 131026 and a delivery of the same message (a
// multi-device customer) leave the customer reachable whichever arrives first, and a 131026
// alone still marks the customer.
func TestUndeliverableThenDeliveredAnyOrder(t *testing.T) {
	t.Parallel()
	const wamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIOUM3RUQyODc3NzFBMUU2NjU3NzQAA=="
	both := fixture(t, "statuses_failed_131026_then_delivered")
	var n map[string]any
	if err := json.Unmarshal(both, &n); err != nil {
		t.Fatal(err)
	}
	val := n["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
	sts := val["statuses"].([]any)
	one := func(i int) []byte {
		val["statuses"] = []any{sts[i]}
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	failed, delivered := one(0), one(1)
	for name, order := range map[string][][]byte{
		"failed then delivered":           {failed, delivered},
		"delivered then failed":           {delivered, failed},
		"failed, delivered, failed again": {failed, delivered, failed},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seedRecord("req_undeliverable", wamid, false)
			for _, b := range order {
				e.mustPost(b)
			}
			d, err := e.st.GetDeliverability(e.ctx, waba, customer.Ref{Phone: custPhone})
			if err != nil && !errors.Is(err, persist.ErrNotFound) {
				t.Fatal(err)
			}
			if !d.UndeliverableUntil.IsZero() {
				t.Fatalf("customer blocked until %v after a delivery of the same message", d.UndeliverableUntil)
			}
		})
	}
}

// TestTierTieRule: a portfolio-wide and a per-number limit event with the same timestamp end
// in the same tier on the portfolio and on the sender, whatever their order.
func TestTierTieRule(t *testing.T) {
	t.Parallel()
	capability := withTime(t, withValue(t, fixture(t, "business_capability_update_tier_10k"), "max_daily_conversations_per_business", "TIER_10K"), 1764009000)
	quality := withTime(t, withValue(t, fixture(t, "phone_number_quality_update_legacy_downgrade"), "max_daily_conversations_per_business", "TIER_2K"), 1764009000)
	results := map[string]string{}
	for name, order := range map[string][][]byte{"capability first": {capability, quality}, "quality first": {quality, capability}} {
		e := newEnv(t)
		e.seedSender()
		for _, b := range order {
			e.mustPost(b)
		}
		p, err := e.st.GetPortfolio(e.ctx, "biz:"+business)
		if err != nil {
			t.Fatal(err)
		}
		results[name] = p.Tier + "/" + e.sender().MessagingLimit
	}
	if results["capability first"] != results["quality first"] || results["quality first"] != "TIER_10K/TIER_10K" {
		t.Fatalf("tie resolved by arrival order: %v", results)
	}
}
