package outbound_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/enqueue"
	"github.com/aloro/wa-senders/shared/outbound/outboundtest"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestNothingLost enqueues a batch that mixes every kind of outcome on a fauxqs FIFO queue with
// its DLQ (template.yaml's redrive policy), runs the consumer the way Lambda's event source
// does, requeues deferred requests as the clock moves on, and checks that every request ends
// in a terminal record (none in the DLQ), and that the queue is empty.
func TestNothingLost(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	sq := testenv.SQS(t)
	outboundURL, _, dlqURL := testenv.Queues(t, sq)
	q := queue.New(sq)
	h := newStackHarness(t, func(o *outbound.Options) {
		o.Queue, o.QueueURL, o.Visibility = q, outboundURL, app.SQSVisibility{API: sq}
		o.Backoff = func(graph.Class, int) time.Duration { return 0 } // retry at once
	})
	enq := enqueue.New(q, outboundURL)
	ctx := h.ctx

	var ids []string
	add := func(req outbound.Request) {
		t.Helper()
		if err := enq.Enqueue(ctx, req); err != nil {
			t.Fatalf("enqueue %s: %v", req.ID, err)
		}
		ids = append(ids, req.ID)
	}
	raw := func(id, body string) {
		t.Helper()
		if err := q.Send(ctx, outboundURL, "raw-"+id, id, body); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}

	ok := h.newSender(nil)
	for i := range 5 {
		to := h.recipient()
		h.openWindow(ok, customer.Ref{Phone: to})
		add(textReq(fmt.Sprintf("freeform-%d", i), ok, to))
	}
	add(templateReq("template", ok, h.recipient(), outbound.CategoryUtility))
	fallback := textReq("fallback-131047", ok, h.recipient())
	h.openWindow(ok, customer.Ref{Phone: fallback.To})
	fallback.Template = templateReq("", ok, fallback.To, outbound.CategoryUtility).Template
	h.script(graphfake.Script{Path: graphfake.PathMessages, Recipient: fallback.To, ErrorCode: 131047})
	add(fallback)
	raw("invalid", `{"id":"invalid","from":"+40721234567","to":"0721 234 567","text":"x"}`)
	raw("sqs-garbage", `{{{`)
	add(outbound.Request{ID: "unknown-sender", SenderID: "1", To: h.recipient(), Text: "x"})
	// The same request id again, past SQS's deduplication (another dedupe id).
	dup := textReq("freeform-0", ok, "")
	dup.To = fmt.Sprintf("+447911%06d", 2)
	body, _ := json.Marshal(dup)
	if err := q.Send(ctx, outboundURL, outbound.GroupID(dup), "another-dedupe-id", string(body)); err != nil {
		t.Fatal(err)
	}
	optedOut := h.recipient()
	optOut(h, ok, customer.Ref{Phone: optedOut}, false)
	add(templateReq("opted-out", ok, optedOut, outbound.CategoryMarketing))

	flaky := h.newSender(nil)
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: flaky.ID, ErrorCode: 131000, Times: 2})
	add(templateReq("transient-twice", flaky, h.recipient(), outbound.CategoryUtility))
	permanentTo := h.recipient()
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: flaky.ID, Recipient: permanentTo, ErrorCode: 132000})
	add(templateReq("permanent", flaky, permanentTo, outbound.CategoryUtility))

	broken := h.newSender(nil)
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: broken.ID, ErrorCode: 131016, Times: -1})
	add(templateReq("always-503", broken, h.recipient(), outbound.CategoryUtility))

	limited := h.newSender(func(s *sender.Sender) { s.BusinessID = "biz-limited" })
	if _, err := h.st.SetPortfolioTier(ctx, limited.PortfolioKey(), "TIER_50", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		_, _ = h.st.ClaimBudget(ctx, limited.PortfolioKey(), fmt.Sprintf("tel:+40722%06d", i), 50)
	}
	add(templateReq("over-budget", limited, h.recipient(), outbound.CategoryUtility))

	// Run until the queue is drained, moving the clock a day on and requeueing in between.
	for round := 0; round < 4; round++ {
		if _, err := outboundtest.Drain(ctx, sq, outboundURL, h.c.HandleEvent, 5); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(26 * time.Hour)
		if _, err := h.c.Requeue(ctx, h.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}

	inDLQ := dlqIDs(t, ctx, sq, dlqURL)
	want := map[string]outbound.Status{
		"freeform-0": outbound.StatusSent, "template": outbound.StatusSent, "fallback-131047": outbound.StatusSent,
		"invalid": outbound.StatusRejected, "unknown-sender": outbound.StatusRejected, "opted-out": outbound.StatusRejected,
		"transient-twice": outbound.StatusSent, "permanent": outbound.StatusFailed, "over-budget": outbound.StatusSent,
		"always-503": outbound.StatusFailed,
	}
	for _, id := range ids {
		r, err := h.st.GetRecord(ctx, id)
		if inDLQ[id] {
			if err != nil || r.Status != outbound.StatusQueued || r.Reason != outbound.ReasonDeadLettered {
				t.Errorf("%s is in the DLQ; its record should say so: %+v %v", id, r, err)
			}
			continue
		}
		if id == "sqs-garbage" {
			continue // recorded under its MessageId, checked below
		}
		if err != nil {
			t.Errorf("%s: neither a record nor in the DLQ: %v", id, err)
			continue
		}
		switch r.Status {
		case outbound.StatusSent, outbound.StatusFailed, outbound.StatusRejected:
		default:
			t.Errorf("%s ended %s/%s: not terminal", id, r.Status, r.Reason)
		}
		if w, ok := want[id]; ok && r.Status != w {
			t.Errorf("%s ended %s/%s, want %s", id, r.Status, r.Reason, w)
		}
	}
	// A request Meta never takes is parked in the table on each last receive, never
	// dead-lettered, and failed once it has been retried for a day.
	if len(inDLQ) != 0 {
		t.Errorf("DLQ holds %v, want nothing", inDLQ)
	}
	if r, err := h.st.GetRecord(ctx, "always-503"); err != nil || r.Reason != outbound.ReasonRetriesExhausted {
		t.Errorf("always-503: %+v %v, want failed/%s", r, err, outbound.ReasonRetriesExhausted)
	}
	if n := h.callsFrom(broken.ID); n != 16 {
		t.Errorf("always-503 was tried %d times, want 2 × maxReceiveCount", n)
	}
	sentFreeform0 := 0
	for _, s := range h.fake.Sends() {
		if s.BizOpaqueCallbackData == "freeform-0" {
			sentFreeform0++
		}
	}
	if sentFreeform0 != 1 {
		t.Errorf("freeform-0 sent %d times, want once", sentFreeform0)
	}
	if left := approxMessages(t, ctx, sq, outboundURL); left != 0 {
		t.Errorf("%d messages left on the queue", left)
	}
}

// dlqIDs drains the DLQ and returns the request ids found there.
func dlqIDs(t *testing.T, ctx context.Context, sq *sqs.Client, url string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for empty := 0; empty < 3; {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			var r outbound.Request
			_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &r)
			ids[r.ID] = true
			if _, err := sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids
}

func approxMessages(t *testing.T, ctx context.Context, sq *sqs.Client, url string) int {
	t.Helper()
	out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Messages)
}
