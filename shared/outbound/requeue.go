package outbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
)

// RequeueBatch bounds the deferred records one Requeue run puts back on the queue; the rest
// wait for the next run.
const RequeueBatch = 5000

// Requeue puts every deferred request whose NextAttemptAt has come back on the queue, in due
// order, and marks its record queued. Deferrals are long (a budget's hour, a marketing cap's
// 24 h, a token pause): they wait in the table, not in SQS, whose delays stop at 15 minutes and
// whose retention is bounded. The reconciler's schedule calls it (app.Requeue).
//
// The message is sent before the record is marked, so a crash in between re-sends it on the next
// run with the same deduplication id (SQS drops the copy; after five minutes the consumer's
// idempotency does).
func (c *Consumer) Requeue(ctx context.Context, now time.Time) (int, error) {
	if c.o.Queue == nil {
		return 0, errors.New("requeue: no queue to send to")
	}
	recs, err := c.o.Store.DueRecords(ctx, now, RequeueBatch)
	if err != nil {
		return 0, fmt.Errorf("requeue: %w", err)
	}
	n := 0
	var errs []error
	for _, r := range recs {
		if err := c.requeueOne(ctx, r); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		n++
	}
	if n > 0 {
		c.log.Info("outbound: deferred requests requeued", "count", n)
	}
	return n, errors.Join(errs...)
}

func (c *Consumer) requeueOne(ctx context.Context, r Record) error {
	if r.Request == nil {
		// Nothing to send: settle it rather than finding it due forever.
		_, err := c.o.Store.UpdateRecord(ctx, r.ID, func(cur *Record) (*Record, error) {
			if cur == nil || cur.Status != StatusDeferred {
				return nil, persist.ErrNoChange
			}
			cur.Status, cur.Reason, cur.Detail = StatusFailed, ReasonRequestMissing, "deferred record without its request"
			cur.NextAttemptAt, cur.UpdatedAt = time.Time{}, c.o.Clock.Now()
			return cur, nil
		})
		return err
	}
	body, err := json.Marshal(r.Request)
	if err != nil {
		return fmt.Errorf("requeue %s: %w", r.ID, err)
	}
	if err := c.o.Queue.Send(ctx, c.o.QueueURL, GroupID(*r.Request), RequeueDedupeID(r.ID, r.NextAttemptAt), string(body)); err != nil {
		return fmt.Errorf("requeue %s: %w", r.ID, err)
	}
	_, err = c.o.Store.UpdateRecord(ctx, r.ID, func(cur *Record) (*Record, error) {
		// The index is eventually consistent and the consumer may have got there first.
		if cur == nil || cur.Status != StatusDeferred || !cur.NextAttemptAt.Equal(r.NextAttemptAt) {
			return nil, persist.ErrNoChange
		}
		cur.Detail = fmt.Sprintf("deferred (%s) until %s; back on the queue", cur.Reason, cur.NextAttemptAt.UTC().Format(time.RFC3339))
		cur.Status, cur.Reason, cur.UpdatedAt = StatusQueued, ReasonRequeued, c.o.Clock.Now()
		return cur, nil
	})
	if err != nil && !errors.Is(err, persist.ErrNoChange) {
		return fmt.Errorf("requeue %s: mark queued: %w", r.ID, err)
	}
	return nil
}

// TemplateFallback returns the request that re-sends rec as its template after Meta reported
// 131047 on a status webhook (the consumer handles a synchronous 131047 itself). ok is false
// when rec was not free-form, has no template, or already has its fallback (rec.FallbackID).
// The caller enqueues it and records its id in rec.FallbackID, once.
func TemplateFallback(rec Record) (Request, bool) {
	if rec.Request == nil || rec.Request.Template == nil || rec.Mode != ModeFreeform || rec.FallbackID != "" {
		return Request{}, false
	}
	r := *rec.Request
	r.ID = fallbackID(rec.ID)
	r.ForceTemplate = true
	return r, true
}

// fallbackID derives the fallback's request id, within MaxIDLength.
func fallbackID(id string) string {
	const suffix = ":t"
	if len(id)+len(suffix) <= MaxIDLength {
		return id + suffix
	}
	sum := sha256.Sum256([]byte(id))
	return id[:MaxIDLength-len(suffix)-17] + "-" + hex.EncodeToString(sum[:8]) + suffix
}
