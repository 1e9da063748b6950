package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/enqueue"
	"github.com/aloro/wa-senders/shared/outbound/outboundtest"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

// parkingFails is the real store whose conversation holds cannot be written: the consumer can
// then not park a message on its last receive (it parks rather than dead-letters otherwise).
type parkingFails struct{ outbound.Store }

func (parkingFails) UpdateHold(context.Context, string, persist.Update[outbound.Hold]) error {
	return errors.New("throttled")
}

// TestDLQRoundTrip: a request whose sends keep failing, and which cannot be parked in the table
// on its last receive, lands in the DLQ whole after maxReceiveCount (8) receives; once the
// cause is gone, redrive puts it back on the source queue with its group and deduplication ids
// and the consumer sends it, once.
func TestDLQRoundTrip(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	ddb, sq := testenv.DynamoDB(t), testenv.SQS(t)
	outboundURL, _, dlqURL := testenv.Queues(t, sq)
	clk := outboundtest.NewClock(time.Now().UTC())
	st := store.New(ddb, testenv.Table(t, ddb), clk.Now)
	fake := graphfake.New(graphfake.Options{})
	srv := httptest.NewServer(fake)
	defer srv.Close()

	deps := app.Deps{
		Config: config.Config{OutboundQueueURL: outboundURL, ThroughputPerSecond: 80},
		Store:  st, SQS: sq, Log: slog.New(slog.DiscardHandler), Now: clk.Now,
		Graph: graph.New(graph.Options{BaseURL: srv.URL, Version: "v26.0", Token: graphfake.DefaultToken}),
	}
	c, err := app.OutboundConsumer(deps, func(o *outbound.Options) {
		o.Clock = clk
		o.Backoff = func(graph.Class, int) time.Duration { return 0 }
		o.Store = parkingFails{o.Store}
	})
	if err != nil {
		t.Fatal(err)
	}

	snd := &sender.Sender{ID: "106540352242922", PhoneNumber: "+40721000555", WABAID: "waba-r", Status: sender.StatusOnline, Assistants: []string{}}
	if err := st.CreateSender(ctx, snd); err != nil {
		t.Fatal(err)
	}
	to := "+447911123456"
	if err := st.OpenWindow(ctx, snd.ID, customer.Ref{Phone: to}, customer.WindowFor(clk.Now().Add(-time.Hour), false, 0)); err != nil {
		t.Fatal(err)
	}
	if err := fake.Script(graphfake.Script{Path: graphfake.PathMessages, ErrorCode: 131016, Times: -1}); err != nil {
		t.Fatal(err)
	}
	req := outbound.Request{ID: "dlq-1", SenderID: snd.ID, To: to, Text: "hello"}
	if err := enqueue.New(queue.New(sq), outboundURL).Enqueue(ctx, req); err != nil {
		t.Fatal(err)
	}

	if _, err := outboundtest.Drain(ctx, sq, outboundURL, c.HandleEvent, 5); err != nil {
		t.Fatal(err)
	}
	rec, err := st.GetRecord(ctx, "dlq-1")
	if err != nil || rec.Status != outbound.StatusQueued || rec.Reason != outbound.ReasonDeadLettered || rec.Attempts != 8 {
		t.Fatalf("record after 8 failures: %+v %v", rec, err)
	}

	// Dry run moves nothing.
	var out bytes.Buffer
	if n, err := redrive(ctx, sq, options{from: dlqURL, to: outboundURL, dryRun: true}, &out); err != nil || n != 1 {
		t.Fatalf("dry run: %d %v\n%s", n, err, out.String())
	}
	fake.ClearScripts()

	out.Reset()
	n, err := redrive(ctx, sq, options{from: dlqURL, to: outboundURL}, &out)
	if err != nil || n != 1 {
		t.Fatalf("redrive: %d %v\n%s", n, err, out.String())
	}
	if strings.Contains(out.String(), "hello") {
		t.Error("redrive printed a message body")
	}
	// Back on the source queue with its group and deduplication ids (the original one was used
	// less than five minutes ago, so SQS dropped the first send and the derived one went in).
	res, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(outboundURL), MaxNumberOfMessages: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("source queue: %v %v", res, err)
	}
	attrs := res.Messages[0].Attributes
	if attrs["MessageGroupId"] != outbound.GroupID(req) || attrs["MessageDeduplicationId"] != "dlq-1~redrive" {
		t.Errorf("group %q dedupe %q", attrs["MessageGroupId"], attrs["MessageDeduplicationId"])
	}
	if _, err := sq.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(outboundURL),
		ReceiptHandle: res.Messages[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	if n, _ := redrive(ctx, sq, options{from: dlqURL, to: outboundURL}, &out); n != 0 {
		t.Fatalf("the DLQ still held %d", n)
	}

	if _, err := outboundtest.Drain(ctx, sq, outboundURL, c.HandleEvent, 5); err != nil {
		t.Fatal(err)
	}
	rec, err = st.GetRecord(ctx, "dlq-1")
	if err != nil || rec.Status != outbound.StatusSent || rec.Attempts != 9 {
		t.Fatalf("record after redrive: %+v %v", rec, err)
	}
	if sends := fake.Sends(); len(sends) != 1 || sends[0].BizOpaqueCallbackData != "dlq-1" {
		t.Fatalf("sends %+v", sends)
	}
}
