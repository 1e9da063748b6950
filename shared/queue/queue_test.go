package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/testenv"
)

func TestSendBatchAgainstFauxqs(t *testing.T) {
	t.Parallel()
	sq := testenv.SQS(t)
	outURL, inURL, _ := testenv.Queues(t, sq)
	q := queue.New(sq)
	ctx := context.Background()

	// 23 small messages and 3 of 100 KiB: at least 5 calls (≤ 10 entries, ≤ 256 KiB each).
	var bodies []string
	for i := 0; i < 23; i++ {
		bodies = append(bodies, fmt.Sprintf(`{"n":%d}`, i))
	}
	for i := 0; i < 3; i++ {
		bodies = append(bodies, `{"big":"`+strings.Repeat("x", 100<<10)+`"}`)
	}
	bodies = append(bodies, strings.Repeat("y", queue.MaxMessageBytes+1)) // too large: reported
	// The inbound queue is FIFO: a group per body here, and ids that SQS deduplicates on.
	fifo := func(i int) (string, string) { return fmt.Sprintf("g%d", i%4), fmt.Sprintf("m%d", i) }
	err := q.SendBatch(ctx, inURL, bodies, fifo)
	var be *queue.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[0].Index != len(bodies)-1 || be.Failed[0].Code != "TooLarge" {
		t.Fatalf("want only the oversized message reported, got %v", err)
	}
	got := map[string]bool{}
	for empty := 0; empty < 2; {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(inURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)] = true
			_, _ = sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(inURL), ReceiptHandle: m.ReceiptHandle})
		}
	}
	for _, b := range bodies[:len(bodies)-1] {
		if !got[b] {
			t.Fatalf("message %.20q not received", b)
		}
	}

	// A resend of the same batch (the webhook after an ambiguous failure) adds nothing.
	if err := q.SendBatch(ctx, inURL, bodies[:5], fifo); err != nil {
		t.Fatal(err)
	}
	if out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(inURL), MaxNumberOfMessages: 10}); err != nil || len(out.Messages) != 0 {
		t.Fatalf("resend was delivered again: %d messages, %v", len(out.Messages), err)
	}

	// FIFO: group and deduplication ids; a repeat within 5 minutes is dropped by SQS.
	for i := 0; i < 2; i++ {
		if err := q.Send(ctx, outURL, "106540352242922|+16505551234", "req-1:t", `{"id":"req-1:t"}`); err != nil {
			t.Fatal(err)
		}
	}
	out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(outURL), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameMessageGroupId}})
	if err != nil || len(out.Messages) != 1 || out.Messages[0].Attributes["MessageGroupId"] != "106540352242922|+16505551234" {
		t.Fatalf("FIFO receive: %+v %v", out, err)
	}
	if err := q.Send(ctx, outURL, "", "x", "{}"); !errors.Is(err, queue.ErrFIFOArgs) {
		t.Fatalf("missing group id: %v", err)
	}
}

// fakeSQS fails the first attempt of chosen entries (as SQS does under throttling) and
// records every call. It stands in for SQS only where fauxqs cannot fail on demand.
type fakeSQS struct {
	mu        sync.Mutex
	calls     []int // entries per call
	failOnce  map[string]bool
	senderBad map[string]bool
	sent      map[string]int
}

func (f *fakeSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, len(in.Entries))
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		switch {
		case f.senderBad[body]:
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidMessageContents"), SenderFault: true})
		case f.failOnce[body]:
			delete(f.failOnce, body)
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
		default:
			f.sent[body]++
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
		}
	}
	return out, nil
}

func TestSendBatchRetriesFailedEntries(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{failOnce: map[string]bool{"b3": true, "b14": true}, senderBad: map[string]bool{"b7": true}, sent: map[string]int{}}
	q := queue.New(f, queue.WithBackoff(func(int) time.Duration { return time.Millisecond }))
	var bodies []string
	for i := 0; i < 15; i++ {
		bodies = append(bodies, "b"+strconv.Itoa(i))
	}
	err := q.SendBatch(context.Background(), "url", bodies, nil)
	var fi interface{ FailedIndexes() []int }
	if !errors.As(err, &fi) || len(fi.FailedIndexes()) != 1 || fi.FailedIndexes()[0] != 7 {
		t.Fatalf("want only b7 (sender fault, not retried) failed: %v", err)
	}
	for _, b := range bodies {
		if want := map[bool]int{true: 0, false: 1}[b == "b7"]; f.sent[b] != want {
			t.Fatalf("%s sent %d times", b, f.sent[b])
		}
	}
	// Two batches (10 + 5), then one retry call per batch that had a retryable failure.
	slices.Sort(f.calls)
	if !slices.Equal(f.calls, []int{1, 1, 5, 10}) {
		t.Fatalf("calls %v: want 2 batches then 2 single-entry retries", f.calls)
	}
}
