// Package outboundtest helps tests and benchmarks drive the outbound pipeline: a fake clock
// whose Sleep advances it, and a poller that feeds a consumer from a real queue (fauxqs or SQS)
// the way Lambda's SQS event source does. It is imported by tests only.
package outboundtest

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Clock is a settable clock whose Sleep advances it instead of waiting. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
	// Slept is the total time slept.
	Slept time.Duration
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Sleep advances the clock by d (at once) unless ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.Slept += d
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// SQS is what the poller calls.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Handler is the outbound Lambda handler's signature.
type Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// PollOnce receives one batch (up to 10 messages), hands it to handle and deletes what was
// not reported failed. It returns the number of messages received and failed.
func PollOnce(ctx context.Context, api SQS, queueURL string, handle Handler) (received, failed int, err error) {
	out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(queueURL),
		MaxNumberOfMessages:         10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil || len(out.Messages) == 0 {
		return 0, 0, err
	}
	ev := Event(out.Messages)
	res, err := handle(ctx, ev)
	if err != nil {
		return len(out.Messages), len(out.Messages), err
	}
	bad := map[string]bool{}
	for _, f := range res.BatchItemFailures {
		bad[f.ItemIdentifier] = true
	}
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		if !bad[aws.ToString(m.MessageId)] {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(del) > 0 {
		if _, err := api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: del}); err != nil {
			return len(out.Messages), len(bad), err
		}
	}
	return len(out.Messages), len(bad), nil
}

// Drain polls until idle consecutive receives come back empty (or ctx ends) and returns the
// number of messages received in all.
func Drain(ctx context.Context, api SQS, queueURL string, handle Handler, idle int) (int, error) {
	total, empty := 0, 0
	for empty < idle {
		n, _, err := PollOnce(ctx, api, queueURL, handle)
		if err != nil {
			return total, err
		}
		total += n
		if n == 0 {
			empty++
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		empty = 0
	}
	return total, nil
}

// Event turns received messages into the event Lambda would deliver.
func Event(msgs []types.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:     aws.ToString(m.MessageId),
			ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body:          aws.ToString(m.Body),
			Md5OfBody:     aws.ToString(m.MD5OfBody),
			Attributes:    m.Attributes,
			EventSource:   "aws:sqs",
			AWSRegion:     "us-east-1",
		})
	}
	return ev
}
