package outbound

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
)

// DefaultMaxRetryAge is how long a request is retried (through the queue and the table)
// before it is failed with retries_exhausted.
const DefaultMaxRetryAge = 24 * time.Hour

// lastReceive keeps the messages of one group out of the DLQ. When the first unfinished message
// of the group, or one behind it, is on its last receive, the whole unfinished tail is parked
// in the table in order (deferred records that hold the conversation), and acknowledged; the
// requeue brings them back with a fresh receive count. A message that cannot be parked (the
// table is failing) and will reach the DLQ gets a dead_lettered record when the table allows.
func (c *Consumer) lastReceive(ctx context.Context, batch []Delivery, idx []int, results []outcome) {
	first := -1
	for n, i := range idx {
		if results[i].retry {
			first = n
			break
		}
	}
	if first < 0 {
		return
	}
	tail := idx[first:]
	last := false
	for _, i := range tail {
		last = last || batch[i].ReceiveCount >= c.o.MaxReceiveCount
	}
	if !last {
		return
	}
	// A parking write needs a moment even when the invocation is about to end.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for n, i := range tail {
		if c.park(pctx, batch[i], results[i]) {
			results[i] = outcome{}
			continue
		}
		for _, r := range tail[n:] {
			c.deadLetter(pctx, batch[r], results[r])
		}
		return
	}
}

// park records d's request as deferred (behind its conversation's hold) until its retry was
// due, and reports whether that worked so the message may be acknowledged.
func (c *Consumer) park(ctx context.Context, d Delivery, o outcome) bool {
	req, nums, err := decode([]byte(d.Body))
	if err != nil {
		return !c.rejectInvalid(ctx, d, req, err).retry
	}
	now := c.o.Clock.Now()
	j := &job{d: d, req: req, to: nums.to}
	rec, err := c.o.Store.GetRecord(ctx, req.ID)
	switch {
	case errors.Is(err, persist.ErrNotFound):
		rec = nil
	case err != nil:
		c.log.Warn("outbound: park: read record", "id", req.ID, "error", err.Error())
		return false
	}
	f := final{status: StatusDeferred, reason: o.reason, next: now.Add(max(o.delay, time.Second))}
	if rec != nil {
		if settled(rec) {
			return true
		}
		if rec.Request != nil {
			j.req = *rec.Request
			nums, _ = validate(j.req)
			j.to = nums.to
		}
		j.attempts = rec.Attempts
		f.code, f.title = rec.ErrorCode, rec.ErrorTitle
		if !rec.CreatedAt.IsZero() && now.Sub(rec.CreatedAt) >= c.o.MaxRetryAge {
			f = final{status: StatusFailed, reason: ReasonRetriesExhausted, code: rec.ErrorCode, title: rec.ErrorTitle,
				detail: fmt.Sprintf("not sent after %s of retries (last: %s)", c.o.MaxRetryAge, orUnknown(o.reason))}
		}
	}
	j.conv = GroupID(j.req)
	if f.status == StatusDeferred {
		f.detail = fmt.Sprintf("not finished after %d receives (%s): kept in the table instead of the dead-letter queue and tried again at %s",
			d.ReceiveCount, orUnknown(o.reason), f.next.UTC().Format(time.RFC3339))
	}
	out := c.finish(ctx, j, f)
	return !out.retry
}

// deadLetter records that d's request is going to the DLQ, with the last reason.
func (c *Consumer) deadLetter(ctx context.Context, d Delivery, o outcome) {
	if d.ReceiveCount < c.o.MaxReceiveCount {
		return
	}
	req, nums, err := decode([]byte(d.Body))
	if err != nil {
		return
	}
	j := &job{d: d, req: req, to: nums.to}
	if rec, err := c.o.Store.GetRecord(ctx, req.ID); err == nil {
		j.attempts = rec.Attempts
	}
	f := final{status: StatusQueued, reason: ReasonDeadLettered,
		detail: fmt.Sprintf("%s on receive %d of %d: SQS moves the message to the dead-letter queue; redrive it once the cause is fixed",
			orUnknown(o.reason), d.ReceiveCount, c.o.MaxReceiveCount)}
	if err := c.write(ctx, j, f); err != nil {
		c.log.Error("outbound: message goes to the dead-letter queue unrecorded", "id", req.ID, "message_id", d.MessageID, "error", err.Error())
		return
	}
	c.log.Error("outbound: message goes to the dead-letter queue", "id", req.ID, "reason", o.reason)
}
