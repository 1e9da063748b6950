package outbound_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/outboundtest"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestDeferralHoldsConversation: a request deferred by a token pause is not overtaken by a
// later request to the same customer that arrives once the pause is over but before the
// requeue brought the first one back; a request to another customer is not held.
func TestDeferralHoldsConversation(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	sq := testenv.SQS(t)
	outboundURL, _, _ := testenv.Queues(t, sq)
	q := queue.New(sq)
	h := newHarness(t, func(o *outbound.Options) {
		o.Queue, o.QueueURL, o.Visibility = q, outboundURL, app.SQSVisibility{API: sq}
	})
	snd := h.newSender(nil)
	to, other := h.recipient(), h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	h.openWindow(snd, customer.Ref{Phone: other})
	if err := h.st.SetPause(h.ctx, outbound.Pause{Scope: outbound.PauseScopeTokenOf(snd), Until: h.clock.Now().Add(15 * time.Minute), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	h.send(textReq("first", snd, to))
	if rec := h.record("first"); rec.Status != outbound.StatusDeferred {
		t.Fatalf("first: %s/%s, want deferred by the pause", rec.Status, rec.Reason)
	}

	h.clock.Advance(16 * time.Minute) // the pause is over; the requeue has not run yet
	if _, failed := h.send(textReq("second", snd, to)); failed {
		t.Fatal("second was handed back to SQS")
	}
	if rec := h.record("second"); rec.Status != outbound.StatusDeferred || rec.Reason != outbound.ReasonConversationHeld {
		t.Errorf("second: %s/%s, want deferred behind first", rec.Status, rec.Reason)
	}
	h.send(textReq("elsewhere", snd, other))
	if rec := h.record("elsewhere"); rec.Status != outbound.StatusSent {
		t.Errorf("another conversation: %s/%s, want sent", rec.Status, rec.Reason)
	}

	h.clock.Advance(time.Minute)
	if _, err := h.c.Requeue(h.ctx, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := outboundtest.Drain(h.ctx, sq, outboundURL, h.c.HandleEvent, 3); err != nil {
		t.Fatal(err)
	}
	if got, want := h.sentOrder(snd.ID), []string{"elsewhere", "first", "second"}; !slices.Equal(got, want) {
		t.Errorf("Meta got %v, want %v", got, want)
	}
	if hold, err := h.st.GetHold(h.ctx, outbound.GroupID(textReq("x", snd, to))); err != nil || len(hold.Members) != 0 {
		t.Errorf("hold left behind: %+v %v", hold, err)
	}
}
