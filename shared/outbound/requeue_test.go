package outbound_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/outboundtest"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestMessagingLimitBudgetAndRequeue: over the portfolio's limit a template is deferred (not
// dropped), recipients already counted still get theirs, an unlimited portfolio is not
// counted, and Requeue puts the deferred request back on the (fauxqs) queue once room frees up.
func TestMessagingLimitBudgetAndRequeue(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	sq := testenv.SQS(t)
	outboundURL, _, _ := testenv.Queues(t, sq)
	h := newHarness(t, func(o *outbound.Options) { o.Queue, o.QueueURL = queue.New(sq), outboundURL })
	start := h.clock.Now()

	snd := h.newSender(func(s *sender.Sender) { s.BusinessID = "biz-" + s.ID })
	if _, err := h.st.SetPortfolioTier(h.ctx, snd.PortfolioKey(), "TIER_50", start); err != nil {
		t.Fatal(err)
	}
	var counted []string
	for range 50 {
		to := h.recipient()
		counted = append(counted, to)
		if c, err := h.st.ClaimBudget(h.ctx, snd.PortfolioKey(), customer.Ref{Phone: to}.Key(), 50); err != nil || !c.Counted {
			t.Fatalf("pre-claim: %+v %v", c, err)
		}
	}

	// A new recipient is over the limit: deferred, with the time room frees up.
	newcomer := h.recipient()
	if _, failed := h.send(templateReq("over", snd, newcomer, outbound.CategoryUtility)); failed {
		t.Fatal("a budget deferral was a batch item failure")
	}
	rec := h.record("over")
	wantNext := start.Truncate(time.Hour).Add(25 * time.Hour)
	if rec.Status != outbound.StatusDeferred || rec.Reason != outbound.ReasonMessagingLimit || !rec.NextAttemptAt.Equal(wantNext) {
		t.Fatalf("record %+v, want deferred messaging_limit until %v", rec, wantNext)
	}
	// A recipient counted already does not count again: its template goes out.
	h.send(templateReq("known", snd, counted[0], outbound.CategoryUtility))
	if r := h.record("known"); r.Status != outbound.StatusSent {
		t.Fatalf("known recipient: %+v", r)
	}
	// The deferred request delivered again early is acknowledged, not sent.
	h.send(templateReq("over", snd, newcomer, outbound.CategoryUtility))
	if n := h.callsFrom(snd.ID); n != 1 {
		t.Fatalf("%d calls to Meta, want 1", n)
	}

	// Unlimited portfolio: no budget.
	free := h.newSender(func(s *sender.Sender) { s.BusinessID = "biz-free-" + s.ID })
	if _, err := h.st.SetPortfolioTier(h.ctx, free.PortfolioKey(), "TIER_UNLIMITED", start); err != nil {
		t.Fatal(err)
	}
	h.send(templateReq("unlimited", free, h.recipient(), outbound.CategoryUtility))
	if r := h.record("unlimited"); r.Status != outbound.StatusSent {
		t.Fatalf("unlimited: %+v", r)
	}
	if used, _ := h.st.BudgetUsed(h.ctx, free.PortfolioKey()); used != 0 {
		t.Errorf("unlimited portfolio counted %d", used)
	}

	// Nothing is due yet.
	if n, err := h.c.Requeue(h.ctx, h.clock.Now()); err != nil || n != 0 {
		t.Fatalf("early requeue %d %v", n, err)
	}
	// Once the oldest slot drops out, Requeue puts it back and the consumer sends it.
	h.clock.Set(wantNext)
	n, err := h.c.Requeue(h.ctx, h.clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("requeue %d %v", n, err)
	}
	if r := h.record("over"); r.Status != outbound.StatusQueued || r.Reason != outbound.ReasonRequeued {
		t.Fatalf("after requeue %+v", r)
	}
	// A second run finds nothing due (the index dropped the record).
	if n, _ := h.c.Requeue(h.ctx, h.clock.Now()); n != 0 {
		t.Fatalf("second requeue %d", n)
	}
	if _, err := outboundtest.Drain(h.ctx, sq, outboundURL, h.c.HandleEvent, 3); err != nil {
		t.Fatal(err)
	}
	if r := h.record("over"); r.Status != outbound.StatusSent || r.Attempts != 1 {
		t.Fatalf("after the requeued delivery %+v", r)
	}
	if used, _ := h.st.BudgetUsed(h.ctx, snd.PortfolioKey()); used != 1 {
		t.Errorf("budget used %d after the window slid, want 1", used)
	}
}

// TestPacingThroughTheConsumer: with a fake clock, one sender's sends never exceed its rate in
// any second, and a burst to one recipient beyond the pair limit goes back to the queue for as
// long as the pair needs.
func TestPacingThroughTheConsumer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *outbound.Options) { o.Concurrency = 1; o.ThroughputPerSecond = 20 })
	snd := h.newSender(nil)
	var batch []outbound.Delivery
	for i := range 60 {
		to := h.recipient()
		h.openWindow(snd, customer.Ref{Phone: to})
		batch = append(batch, h.delivery(textReq(fmt.Sprintf("p%d", i), snd, to)))
	}
	start := h.clock.Now()
	for i := 0; i < len(batch); i += 10 {
		if failed := h.handle(batch[i:min(i+10, len(batch))]...); len(failed) != 0 {
			t.Fatalf("failed %v", failed)
		}
	}
	var sentAt []time.Time
	for i := range batch {
		sentAt = append(sentAt, h.record(fmt.Sprintf("p%d", i)).UpdatedAt)
	}
	for i := range sentAt {
		n := 0
		for j := range sentAt {
			if d := sentAt[j].Sub(sentAt[i]); d >= 0 && d < time.Second {
				n++
			}
		}
		if n > 20 {
			t.Fatalf("%d sends within a second of send %d (rate 20/s)", n, i)
		}
	}
	if took := h.clock.Now().Sub(start); took < 2900*time.Millisecond || took > 3100*time.Millisecond {
		t.Errorf("60 sends at 20/s took %v of clock, want about 3 s", took)
	}

	// The pair limit: 12 messages to one recipient in one batch.
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	var burst []outbound.Delivery
	for i := range 12 {
		burst = append(burst, h.delivery(textReq(fmt.Sprintf("b%d", i), snd, to)))
	}
	failed := h.handle(burst...)
	if len(failed) != 2 || !failed[burst[10].MessageID] || !failed[burst[11].MessageID] {
		t.Fatalf("failed %v, want the 11th and 12th", failed)
	}
	r := h.record("b10")
	delay, _ := h.vis.delayOf(burst[10].ReceiptHandle)
	if r.Status != outbound.StatusQueued || r.Reason != outbound.ReasonPaced || delay < 50*time.Second || delay > time.Duration(outbound.PairBurst)*outbound.PairInterval {
		t.Errorf("11th message: record %s/%s, back on the queue after %v", r.Status, r.Reason, delay)
	}
	if len(h.sendsFrom(snd.ID)) != 70 {
		t.Errorf("%d sends, want 70", len(h.sendsFrom(snd.ID)))
	}
}

// TestRequeueDrainsInOneRun: a token pause deferred more requests than one page of the due
// index holds; one run puts every due one back, and each conversation's in its order.
func TestRequeueDrainsInOneRun(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	sq := testenv.SQS(t)
	outboundURL, _, _ := testenv.Queues(t, sq)
	h := newHarness(t, func(o *outbound.Options) {
		o.Queue, o.QueueURL, o.RequeuePage = queue.New(sq), outboundURL, 40
	})
	snd := h.newSender(nil)
	if err := h.st.SetPause(h.ctx, outbound.Pause{Scope: outbound.PauseScopeTokenOf(snd), Until: h.clock.Now().Add(15 * time.Minute), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	const convs, per = 25, 4
	var batch []outbound.Delivery
	for c := range convs {
		to := h.recipient()
		h.openWindow(snd, customer.Ref{Phone: to})
		for m := range per {
			batch = append(batch, h.delivery(textReq(fmt.Sprintf("c%02d-m%d", c, m), snd, to)))
		}
	}
	for i := 0; i < len(batch); i += 10 {
		if failed := h.handle(batch[i:min(i+10, len(batch))]...); len(failed) != 0 {
			t.Fatalf("%d deferrals were batch item failures", len(failed))
		}
	}
	h.clock.Advance(16 * time.Minute)
	n, err := h.c.Requeue(h.ctx, h.clock.Now())
	if err != nil || n != convs*per {
		t.Fatalf("one run requeued %d (%v), want all %d (pages of 40)", n, err, convs*per)
	}
	if _, err := outboundtest.Drain(h.ctx, sq, outboundURL, h.c.HandleEvent, 3); err != nil {
		t.Fatal(err)
	}
	sent := map[string][]string{}
	for _, s := range h.sendsFrom(snd.ID) {
		c := s.BizOpaqueCallbackData[:3]
		sent[c] = append(sent[c], s.BizOpaqueCallbackData)
	}
	for c := range convs {
		key := fmt.Sprintf("c%02d", c)
		var want []string
		for m := range per {
			want = append(want, fmt.Sprintf("%s-m%d", key, m))
		}
		if fmt.Sprint(sent[key]) != fmt.Sprint(want) {
			t.Errorf("conversation %s sent %v, want %v", key, sent[key], want)
		}
	}
}
