package webhook_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/webhook"
)

// failureBatch is one POST mixing customer messages, statuses (a 131047 with its fallback),
// account changes and limits: every kind of effect, several per storage call pattern.
func failureBatch(t *testing.T) []byte {
	var us []unit
	for _, name := range []string{"batch_mixed", "messages_text", "messages_text_stop", "messages_text_referral",
		"statuses_failed_131047", "statuses_read", "account_update_disable", "business_capability_update_tier_10k",
		"user_preferences_stop", "message_template_status_update_paused", "messages_system_user_changed_user_id"} {
		us = append(us, splitFixture(t, name)...)
	}
	return body(t, us)
}

// TestStoreDownThenBack: with DynamoDB unreachable the POST answers 500 and forwards nothing;
// with DynamoDB dying at every point of the POST it answers 500; once it is back, Meta's retry
// answers 200 and the table ends exactly as after one clean delivery, each message forwarded
// once and the fallback enqueued once.
func TestStoreDownThenBack(t *testing.T) {
	t.Parallel()
	b := failureBatch(t)

	clean := newEnv(t)
	seedScenario(clean)
	clean.mustPost(b)
	want := state(t, clean)
	wantMsgs := countForwarded(t, clean)
	if len(clean.outbound()) != 1 {
		t.Fatal("clean run: no fallback")
	}

	storeClk := &clock{t: fixtureTime}
	e := newEnv(t, func(o *envOptions) { o.noRetry = true; o.storeClock = storeClk })
	seedScenario(e)

	e.ddbN.down.Store(true)
	if code := e.post(b); code != http.StatusInternalServerError {
		t.Fatalf("store down: %d, want 500", code)
	}
	// The 500 is what the NotApplied alarm counts (the function answered: no Lambda error).
	if got := e.metric("NotApplied"); got != 1 {
		t.Errorf("NotApplied = %d after one 500, want 1", got)
	}
	e.ddbN.down.Store(false)
	if got := e.drain(e.inURL); len(got) != 0 {
		t.Fatalf("store down: %d messages forwarded", len(got))
	}

	// The store fails after k requests, for growing k: every prefix of the POST's writes.
	calls := e.ddbN.n.Load()
	for k := int64(1); k < 120; k += 3 {
		e.ddbN.arm(k)
		code := e.post(b)
		e.ddbN.failAfter.Store(0)
		if code == http.StatusOK {
			t.Logf("the POST completed within %d store requests", k)
			break
		}
		if code != http.StatusInternalServerError {
			t.Fatalf("store failing after %d requests: %d, want 500", k, code)
		}
	}
	t.Logf("%d store requests over the failing attempts", e.ddbN.n.Load()-calls)

	// Claims whose release failed with the store are held until their lease runs out; Meta's
	// later retry finds them expired.
	storeClk.Set(fixtureTime.Add(webhook.DefaultClaimLease + time.Second))
	e.mustPost(b)
	if d := cmp.Diff(withoutBookkeepingTimes(want), withoutBookkeepingTimes(state(t, e))); d != "" {
		t.Fatalf("state after failures and a retry differs from one clean delivery (-clean +retried):\n%s", d)
	}
	// At least once, and more only where the store failed between a send and its mark.
	markFailed := strings.Count(e.logs.String(), "mark forwarded messages of a failed POST")
	got := countForwarded(t, e)
	dups := 0
	for id := range wantMsgs {
		switch n := got[id]; {
		case n == 0:
			t.Fatalf("%s never forwarded", id)
		case n > 1:
			dups += n - 1
		}
	}
	if len(got) != len(wantMsgs) || dups > 0 && markFailed == 0 {
		t.Fatalf("forwarded %v, want each of %v once (mark failures: %d)", got, wantMsgs, markFailed)
	}
	t.Logf("%d duplicate forwards, after %d attempts whose mark failed", dups, markFailed)
	if fb := e.outbound(); len(fb) != 1 {
		t.Fatalf("fallbacks: %d, want 1 (FIFO deduplication absorbs a repeat within 5 minutes)", len(fb))
	}
}

// withoutBookkeepingTimes drops what the store stamps with its own clock on dedupe records
// (claim and mark times, their TTL, forward marks), which a clean delivery does not write.
func withoutBookkeepingTimes(st map[string]map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for k, v := range st {
		cp := map[string]any{}
		for a, x := range v {
			cp[a] = x
		}
		if _, marked := cp["fwdMs"]; marked {
			continue // the forward mark of a message whose POST failed after sending it
		}
		if strings.HasPrefix(k, "WINDOW#") {
			// A forward mark keeps the window item (its TTL) for Meta's retry horizon.
			delete(cp, "fwd")
			delete(cp, "fwdKeep")
			delete(cp, "expiresAt")
		}
		if strings.HasPrefix(k, "INBOUND#") {
			delete(cp, "claimedMs")
			delete(cp, "doneMs")
			delete(cp, "expiresAt")
		}
		if strings.Contains(k, "| STATUS#") { // orphan statuses live 30 days from their write
			delete(cp, "expiresAt")
		}
		out[k] = cp
	}
	return out
}

// TestQueueDownThenBack: with SQS unreachable the POST answers 500 having forwarded nothing, so
// Meta's retry forwards every message, exactly once.
func TestQueueDownThenBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noRetry = true })
	seedScenario(e)
	b := failureBatch(t)
	e.sqsN.down.Store(true)
	if code := e.post(b); code != http.StatusInternalServerError {
		t.Fatalf("queue down: %d, want 500", code)
	}
	e.sqsN.down.Store(false)
	e.mustPost(b)
	got := countForwarded(t, e)
	if len(got) != 5 {
		t.Fatalf("forwarded %v, want 5 messages", got)
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("%s forwarded %d times", id, n)
		}
	}
	if fb := e.outbound(); len(fb) != 1 {
		t.Fatalf("fallbacks: %d, want 1", len(fb))
	}
}
