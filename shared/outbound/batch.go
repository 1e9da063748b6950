package outbound

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// HandleEvent is the Lambda handler: failed messages are reported as batch item failures
// (keyed by MessageId) so that SQS redelivers them; everything else is deleted.
func (c *Consumer) HandleEvent(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ds := make([]Delivery, len(ev.Records))
	for i, r := range ev.Records {
		n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
		ds[i] = Delivery{MessageID: r.MessageId, ReceiptHandle: r.ReceiptHandle, Body: r.Body,
			GroupID: r.Attributes["MessageGroupId"], ReceiveCount: n}
	}
	failed := c.Handle(ctx, ds)
	defer func() { _ = c.m.flush(c.o.Clock.Now()) }()
	resp := events.SQSEventResponse{BatchItemFailures: make([]events.SQSBatchItemFailure, 0, len(failed))}
	for _, id := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return resp, nil
}

// Handle processes one batch and returns the MessageIds to redeliver. Groups run concurrently,
// the messages of a group in order; once one fails, the later ones of its group are failed
// unprocessed (FIFO order), with the same retry delay.
func (c *Consumer) Handle(ctx context.Context, batch []Delivery) []string {
	var order []string
	groups := map[string][]int{}
	for i, d := range batch {
		g := d.GroupID
		if g == "" {
			g = "\x00" + d.MessageID
		}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	results := make([]outcome, len(batch))
	sem := make(chan struct{}, c.o.Concurrency)
	var wg sync.WaitGroup
	for _, g := range order {
		idx := groups[g]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for k, i := range idx {
				var r outcome
				if c.outOfTime(ctx) {
					r = outcome{retry: true, reason: ReasonOutOfTime}
				} else {
					r = c.process(ctx, batch[i])
				}
				results[i] = r
				if r.retry {
					for _, later := range idx[k+1:] {
						results[later] = outcome{retry: true, delay: r.delay, reason: ReasonConversationHeld}
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, g := range order {
		c.lastReceive(ctx, batch, groups[g], results)
	}

	var failed []string
	var changes []VisibilityChange
	for i, r := range results {
		if r.retry {
			failed = append(failed, batch[i].MessageID)
			if batch[i].ReceiptHandle != "" {
				changes = append(changes, VisibilityChange{ReceiptHandle: batch[i].ReceiptHandle, Delay: r.delay})
			}
		}
	}
	if len(changes) > 0 && c.o.Visibility != nil {
		// Without a deadline of our own the change could outlive a cancelled invocation.
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := c.o.Visibility.ChangeVisibility(vctx, c.o.QueueURL, changes); err != nil {
			// The queue's own visibility timeout then decides when they come back.
			c.log.Warn("outbound: change visibility of failed messages", "count", len(changes), "error", err.Error())
		}
	}
	return failed
}

// outcome is what one delivery ends in: acknowledged (deleted), or redelivered after delay.
type outcome struct {
	retry bool
	delay time.Duration
	// reason is why a redelivered message was not finished (a Graph class, paced, …).
	reason string
}

// outOfTime reports that the invocation has too little time left to start a message.
func (c *Consumer) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < c.o.Reserve
}

// inlineWait is the longest pacing wait to sleep now.
func (c *Consumer) inlineWait(ctx context.Context) time.Duration {
	w := c.o.MaxInlineWait
	if dl, ok := ctx.Deadline(); ok {
		w = min(w, time.Until(dl)-c.o.Reserve)
	}
	return max(w, 0)
}
