package outbound

import (
	"context"
	"errors"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/persist"
)

func isNoChange(err error) bool { return errors.Is(err, persist.ErrNoChange) }

// retry records a retryable failure and hands the message back to SQS after the backoff.
func (c *Consumer) retry(ctx context.Context, j *job, dec Decision, class graph.Class, code int, title string) outcome {
	delay := c.o.Backoff(class, j.d.ReceiveCount)
	f := final{status: StatusQueued, mode: dec.Mode, reason: string(class), code: code, title: title, next: c.o.Clock.Now().Add(delay)}
	if err := c.write(ctx, j, f); err != nil {
		c.log.Warn("outbound: record retry", "id", j.req.ID, "error", err.Error())
	}
	return outcome{retry: true, delay: delay, reason: string(class)}
}

// storeFailed hands a message back to SQS when the table cannot be read or written: nothing is
// recorded (the table is the problem) and nothing is lost (SQS keeps the message).
func (c *Consumer) storeFailed(d Delivery, what string, err error) outcome {
	c.log.Warn("outbound: "+what, "message_id", d.MessageID, "error", err.Error())
	return outcome{retry: true, delay: c.o.Backoff(graph.ClassTransient, d.ReceiveCount), reason: ReasonStoreUnavailable}
}

// rejectInvalid records an invalid request as rejected (never retried). A request without a
// usable id is recorded under "sqs-" + its MessageId.
func (c *Consumer) rejectInvalid(ctx context.Context, d Delivery, req Request, verr error) outcome {
	j := &job{d: d, req: req}
	if j.req.ID == "" {
		j.req = Request{ID: "sqs-" + d.MessageID}
	}
	// A valid request recorded under the same id wins: an invalid repeat never overwrites it.
	f := final{status: StatusRejected, reason: ReasonInvalidRequest, detail: verr.Error(), onlyNew: true}
	if err := c.write(ctx, j, f); err != nil {
		return c.storeFailed(d, "record invalid request", err)
	}
	c.log.Info("outbound: invalid request rejected", "id", j.req.ID, "message_id", d.MessageID, "error", verr.Error())
	return outcome{}
}

// final is the state a record is written in.
type final struct {
	status Status
	mode   Mode
	reason string
	detail string
	code   int
	title  string
	next   time.Time
	wamid  string
	// sendingAt is the start of a send attempt (status sending).
	sendingAt time.Time
	// onlyNew writes the record only if none exists yet.
	onlyNew bool
}

// finish writes the record of a settled (or deferred) request and acknowledges the message; a
// failed write hands the message back to SQS instead, so the outcome is never lost.
func (c *Consumer) finish(ctx context.Context, j *job, f final) outcome {
	// A deferral joins the conversation's hold before its record says deferred, so no later
	// request can overtake it; a member leaves once its record is settled.
	if f.status == StatusDeferred && j.conv != "" {
		if err := c.joinHold(ctx, j, f.next); err != nil {
			return c.storeFailed(j.d, "hold conversation", err)
		}
	}
	if err := c.write(ctx, j, f); err != nil {
		return c.storeFailed(j.d, "write record", err)
	}
	if f.status == StatusRejected || f.status == StatusFailed {
		c.releaseBudget(ctx, j)
	}
	if j.held && (f.status == StatusRejected || f.status == StatusFailed) {
		if err := c.leaveHold(ctx, j.conv, j.req.ID); err != nil {
			// Released after HoldGrace by the next request of the conversation.
			c.log.Warn("outbound: leave conversation hold", "id", j.req.ID, "error", err.Error())
		}
	}
	sid := ""
	if j.snd != nil {
		sid = j.snd.ID
	}
	c.log.Info("outbound: "+string(f.status), "id", j.req.ID, "sender", sid, "reason", f.reason, "error_code", f.code)
	return outcome{}
}

// write applies f to the record of j: a conditional put on the version j last saw when it is
// known (one call), else a read-modify-write.
func (c *Consumer) write(ctx context.Context, j *job, f final) error {
	fn := c.recordUpdate(j, f)
	if j.known {
		next, err := fn(j.copyRec())
		if isNoChange(err) {
			return nil
		}
		if err != nil {
			return err
		}
		next.ID = j.req.ID
		v, err := c.o.Store.PutRecord(ctx, next, j.version)
		if err == nil {
			j.rec, j.version = next, v
			c.m.recorded(f.status, f.reason)
			return nil
		}
		if !errors.Is(err, persist.ErrConflict) {
			return err
		}
		j.known = false // another document write came first (the webhook's template fallback id, or another delivery of this request): read it
	}
	applied := false // the closure may run again on a conflict: the last run counts
	_, err := c.o.Store.UpdateRecord(ctx, j.req.ID, func(cur *Record) (*Record, error) {
		next, err := fn(cur)
		applied = err == nil
		return next, err
	})
	if isNoChange(err) {
		return nil
	}
	if err == nil && applied {
		c.m.recorded(f.status, f.reason)
	}
	return err
}

// copyRec is a copy of the record j last saw (nil when none), for an update closure.
func (j *job) copyRec() *Record {
	if j.rec == nil {
		return nil
	}
	cp := *j.rec
	return &cp
}

// recordUpdate is f as an update of j's record. A record that is already settled is never
// overwritten, except that a send fills in its wamid and mode under a status that overtook it.
func (c *Consumer) recordUpdate(j *job, f final) persist.Update[Record] {
	now := c.o.Clock.Now()
	return func(cur *Record) (*Record, error) {
		if cur != nil && f.onlyNew {
			return nil, persist.ErrNoChange
		}
		if cur != nil && settled(cur) {
			if f.status != StatusSent || (cur.WAMID != "" && cur.Mode != "") {
				return nil, persist.ErrNoChange
			}
			if cur.WAMID == "" {
				cur.WAMID = f.wamid
			}
			if cur.Mode == "" {
				cur.Mode = f.mode
			}
			cur.Attempts, cur.UpdatedAt = j.attempts, now
			return cur, nil
		}
		if cur == nil {
			cur = &Record{}
		}
		if cur.CreatedAt.IsZero() {
			cur.CreatedAt = now
		}
		req := j.req
		cur.Request = &req
		if cur.SenderID == "" && cur.From == "" {
			cur.SenderID, cur.From = req.SenderID, req.From
		}
		if j.snd != nil {
			cur.SenderID, cur.From = j.snd.ID, j.snd.PhoneNumber
		}
		cur.To, cur.ToUserID, cur.AssistantID = req.To, req.ToUserID, req.AssistantID
		if j.to != "" {
			cur.To = j.to
		}
		cur.Status, cur.Reason, cur.Detail = f.status, f.reason, f.detail
		if f.mode != "" {
			cur.Mode = f.mode
		}
		cur.ErrorCode, cur.ErrorTitle = f.code, f.title
		cur.NextAttemptAt = f.next
		switch {
		case f.status != StatusSending:
			cur.SendingAt = time.Time{}
		case !f.sendingAt.IsZero():
			cur.SendingAt = f.sendingAt
		}
		if f.wamid != "" {
			cur.WAMID = f.wamid
		}
		cur.Attempts, cur.UpdatedAt = j.attempts, now
		return cur, nil
	}
}
