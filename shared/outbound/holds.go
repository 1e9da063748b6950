package outbound

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
)

// Hold keeps a conversation's order across deferrals: the ids of its deferred requests, oldest
// first. While a conversation has one, its later requests are deferred behind it, and only the
// first member may be sent; each member leaves it once settled.
type Hold struct {
	Members []string `json:"members"`
	// Until is the latest NextAttemptAt of the members.
	Until time.Time `json:"until"`
}

// Holds is the port to conversation holds (keyed by GroupID).
type Holds interface {
	// GetHold returns the hold of conv; a zero Hold when there is none.
	GetHold(ctx context.Context, conv string) (Hold, error)
	// UpdateHold applies fn (cur nil when there is none); a result without members deletes it.
	UpdateHold(ctx context.Context, conv string, fn persist.Update[Hold]) error
}

// HoldGrace is how long past a hold's end its first member may take to come back from the
// table (the requeue period and the queue's lag) before a later request checks on it.
const HoldGrace = 15 * time.Minute

// checkHold defers j behind its conversation's hold, unless j is the hold's first member (it
// then goes on, j.held set). A first member that is settled, or long overdue without a record
// saying it is still waiting, is dropped from the hold so the conversation cannot stay stuck.
func (c *Consumer) checkHold(ctx context.Context, j *job, now time.Time) (outcome, bool) {
	h := j.state.Hold
	for range 3 {
		if len(h.Members) == 0 {
			return outcome{}, false
		}
		head := h.Members[0]
		if head == j.req.ID {
			j.held = true
			return outcome{}, false
		}
		if !now.After(h.Until.Add(HoldGrace)) || !c.headGone(ctx, head) {
			break
		}
		c.log.Warn("outbound: conversation hold released: its first request is no longer waiting", "id", head)
		if err := c.leaveHold(ctx, j.conv, head); err != nil {
			return c.storeFailed(j.d, "release conversation hold", err), true
		}
		var err error
		if h, err = c.o.Store.GetHold(ctx, j.conv); err != nil {
			return c.storeFailed(j.d, "read conversation hold", err), true
		}
	}
	if len(h.Members) == 0 {
		return outcome{}, false
	}
	j.held = slices.Contains(h.Members, j.req.ID)
	pos := len(h.Members)
	if i := slices.Index(h.Members, j.req.ID); i >= 0 {
		pos = i
	}
	// Each member due a little after the one before it: the due index then requeues them in
	// the conversation's order.
	next := later(h.Until, now).Add(time.Duration(pos+1) * time.Millisecond)
	return c.finish(ctx, j, final{status: StatusDeferred, reason: ReasonConversationHeld, next: next,
		detail: fmt.Sprintf("an earlier request to this recipient (%s) is deferred; this one follows it", h.Members[0])}), true
}

// headGone reports that the request heading a hold is no longer waiting to be sent.
func (c *Consumer) headGone(ctx context.Context, id string) bool {
	rec, err := c.o.Store.GetRecord(ctx, id)
	if errors.Is(err, persist.ErrNotFound) {
		return true
	}
	return err == nil && rec.Status != StatusDeferred && rec.Status != StatusQueued && rec.Status != StatusSending
}

// joinHold adds j to its conversation's hold (at the end, once) and extends the hold to next.
func (c *Consumer) joinHold(ctx context.Context, j *job, next time.Time) error {
	err := c.o.Store.UpdateHold(ctx, j.conv, func(cur *Hold) (*Hold, error) {
		if cur == nil {
			cur = &Hold{}
		}
		if slices.Contains(cur.Members, j.req.ID) && !next.After(cur.Until) {
			return nil, persist.ErrNoChange
		}
		if !slices.Contains(cur.Members, j.req.ID) {
			cur.Members = append(cur.Members, j.req.ID)
		}
		cur.Until = later(cur.Until, next)
		return cur, nil
	})
	if err == nil {
		j.held = true
	}
	return err
}

// leaveHold removes id from the hold of conv (deleting it with its last member).
func (c *Consumer) leaveHold(ctx context.Context, conv, id string) error {
	return c.o.Store.UpdateHold(ctx, conv, func(cur *Hold) (*Hold, error) {
		if cur == nil || !slices.Contains(cur.Members, id) {
			return nil, persist.ErrNoChange
		}
		cur.Members = slices.DeleteFunc(cur.Members, func(m string) bool { return m == id })
		return cur, nil
	})
}
