package outbound_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/outboundtest"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/testenv"
)

// outage makes every send of senderID answer HTTP 503 until cleared.
func (h *harness) outage(senderID string) {
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: senderID, Times: -1,
		Status: http.StatusServiceUnavailable, Body: "upstream connect error"})
}

// sentOrder returns the request ids Meta accepted from senderID, in order.
func (h *harness) sentOrder(senderID string) []string {
	var ids []string
	for _, s := range h.sendsFrom(senderID) {
		ids = append(ids, s.BizOpaqueCallbackData)
	}
	return ids
}

// TestMetaOutageOfAnHour: Meta answers 503 for 65 minutes to one conversation of three
// messages. SQS redelivers the group with the consumer's retry delays (the queue's redrive
// sends a message to the DLQ when it fails its 8th receive); no message fails its last
// receive, and the three go out once each, in order, when Meta is back.
func TestMetaOutageOfAnHour(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *outbound.Options) { o.Backoff = outbound.DefaultBackoff })
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	h.outage(snd.ID)
	end := h.clock.Now().Add(65 * time.Minute)

	var pending []outbound.Delivery
	for i := range 3 {
		pending = append(pending, h.delivery(textReq(fmt.Sprintf("m%d", i), snd, to)))
	}
	for receive := 1; len(pending) > 0; receive++ {
		if receive > 8 {
			t.Fatalf("still %d messages unfinished after 8 receives: the DLQ would take them", len(pending))
		}
		for i := range pending {
			pending[i].ReceiveCount = receive
		}
		failed := h.handle(pending...)
		pending = slices.DeleteFunc(pending, func(d outbound.Delivery) bool { return !failed[d.MessageID] })
		if len(pending) == 0 {
			break
		}
		delay, ok := h.vis.delayOf(pending[0].ReceiptHandle)
		if !ok {
			t.Fatal("no retry delay set")
		}
		h.clock.Advance(delay)
		if !h.clock.Now().Before(end) {
			h.fake.ClearScripts()
		}
	}
	if got, want := h.sentOrder(snd.ID), []string{"m0", "m1", "m2"}; !slices.Equal(got, want) {
		t.Errorf("Meta got %v, want %v", got, want)
	}
}

// TestLongOutageParksInOrder: an outage longer than the queue's retries. On the last receive
// the conversation is parked in the table (deferred, holding the conversation) instead of
// going to the DLQ; a request that arrives meanwhile waits behind it; once Meta is back the
// requeue brings them back and they go out once each, in order. Runs on fauxqs with
// template.yaml's redrive policy.
func TestLongOutageParksInOrder(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	sq := testenv.SQS(t)
	outboundURL, _, dlqURL := testenv.Queues(t, sq)
	q := queue.New(sq)
	h := newHarness(t, func(o *outbound.Options) {
		o.Queue, o.QueueURL, o.Visibility = q, outboundURL, app.SQSVisibility{API: sq}
		o.Backoff = func(graph.Class, int) time.Duration { return 0 } // redelivered at once
	})
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	h.outage(snd.ID)
	ctx := h.ctx
	enqueue := func(id string) {
		t.Helper()
		req := textReq(id, snd, to)
		body := mustJSON(t, req)
		if err := q.Send(ctx, outboundURL, outbound.GroupID(req), id, body); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		enqueue(fmt.Sprintf("m%d", i))
	}
	if _, err := outboundtest.Drain(ctx, sq, outboundURL, h.c.HandleEvent, 3); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if rec := h.record(fmt.Sprintf("m%d", i)); rec.Status != outbound.StatusDeferred {
			t.Fatalf("m%d after the queue's retries: %s/%s, want deferred", i, rec.Status, rec.Reason)
		}
	}
	enqueue("m3") // arrives during the outage, after the others were parked
	if _, err := outboundtest.Drain(ctx, sq, outboundURL, h.c.HandleEvent, 3); err != nil {
		t.Fatal(err)
	}
	if rec := h.record("m3"); rec.Status != outbound.StatusDeferred || rec.Reason != outbound.ReasonConversationHeld {
		t.Errorf("m3: %s/%s, want deferred behind the conversation", rec.Status, rec.Reason)
	}

	h.fake.ClearScripts()
	for range 6 {
		h.clock.Advance(time.Hour)
		if _, err := h.c.Requeue(ctx, h.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := outboundtest.Drain(ctx, sq, outboundURL, h.c.HandleEvent, 3); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := h.sentOrder(snd.ID), []string{"m0", "m1", "m2", "m3"}; !slices.Equal(got, want) {
		t.Errorf("Meta got %v, want %v", got, want)
	}
	if inDLQ := dlqIDs(t, ctx, sq, dlqURL); len(inDLQ) != 0 {
		t.Errorf("DLQ holds %v, want nothing", inDLQ)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
