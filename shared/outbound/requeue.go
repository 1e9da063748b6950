package outbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
)

// RequeuePage is how many due records one read of the due index returns; a run reads page
// after page until none is due or its time is nearly up.
const RequeuePage = 1000

// requeueWorkers is how many conversations are requeued at once.
const requeueWorkers = 8

// requeueReserve is the time kept back before the run's deadline: no page is started with less.
const requeueReserve = 20 * time.Second

// BatchEnqueuer sends several messages to a FIFO queue in as few calls as it can
// (*queue.Queue); an Options.Queue that has it requeues in batches.
type BatchEnqueuer interface {
	SendBatch(ctx context.Context, url string, bodies []string, fifo func(i int) (groupID, dedupID string)) error
}

// Requeue puts every deferred request whose NextAttemptAt has come back on the queue, in due
// order, and marks its record queued. Deferrals are long (a budget's hour, a marketing cap's
// 24 h, a token pause): they wait in the table, not in SQS, whose delays stop at 15 minutes and
// whose retention is bounded. The reconciler's schedule calls it (at the start of every run).
//
// One run drains everything due (a token pause at a campaign's rate defers tens of thousands),
// page after page while its time lasts: conversations in parallel, each one's records in due
// order and in batches. The message is sent before the record is marked, so a crash in between
// re-sends it on the next run with the same deduplication id (SQS drops the copy; after five
// minutes the consumer's idempotency does).
func (c *Consumer) Requeue(ctx context.Context, now time.Time) (int, error) {
	if c.o.Queue == nil {
		return 0, errors.New("requeue: no queue to send to")
	}
	total := 0
	var errs []error
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < requeueReserve {
			break
		}
		recs, err := c.o.Store.DueRecords(ctx, now, c.o.RequeuePage)
		if err != nil {
			errs = append(errs, fmt.Errorf("requeue: %w", err))
			break
		}
		n, err := c.requeuePage(ctx, recs)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
		// A short page is the last; a page that moved nothing would be read again as is.
		if len(recs) < c.o.RequeuePage || n == 0 || ctx.Err() != nil {
			break
		}
	}
	if total > 0 {
		c.log.Info("outbound: deferred requests requeued", "count", total)
	}
	return total, errors.Join(errs...)
}

// requeuePage requeues one page: each conversation's records by one worker, in order.
func (c *Consumer) requeuePage(ctx context.Context, recs []Record) (int, error) {
	var convs [][]Record
	index := map[string]int{}
	for _, r := range recs {
		g := r.ID
		if r.Request != nil {
			g = GroupID(*r.Request)
		}
		i, ok := index[g]
		if !ok {
			i = len(convs)
			index[g] = i
			convs = append(convs, nil)
		}
		convs[i] = append(convs[i], r)
	}
	var (
		mu   sync.Mutex
		n    int
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan []Record)
	for range min(requeueWorkers, len(convs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for conv := range work {
				k, err := c.requeueConversation(ctx, conv)
				mu.Lock()
				n += k
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, conv := range convs {
		work <- conv
	}
	close(work)
	wg.Wait()
	return n, errors.Join(errs...)
}

// requeueConversation sends one conversation's due records in order (in one batch call when
// the queue takes batches) and marks each queued; it stops at the first that fails, so that
// none overtakes it.
func (c *Consumer) requeueConversation(ctx context.Context, recs []Record) (int, error) {
	bq, ok := c.o.Queue.(BatchEnqueuer)
	if !ok || len(recs) == 1 {
		for i, r := range recs {
			if err := c.requeueOne(ctx, r); err != nil {
				return i, err
			}
		}
		return len(recs), nil
	}
	var bodies []string
	var sendable []Record
	for i, r := range recs {
		if r.Request == nil {
			if err := c.requeueOne(ctx, r); err != nil {
				return i, err
			}
			continue
		}
		body, err := json.Marshal(r.Request)
		if err != nil {
			return 0, fmt.Errorf("requeue %s: %w", r.ID, err)
		}
		bodies = append(bodies, string(body))
		sendable = append(sendable, r)
	}
	err := bq.SendBatch(ctx, c.o.QueueURL, bodies, func(i int) (string, string) {
		return GroupID(*sendable[i].Request), RequeueDedupeID(sendable[i].ID, sendable[i].NextAttemptAt)
	})
	sent := len(sendable)
	if err != nil {
		// Mark only those before the first failure: the conversation hold keeps later ones
		// that did reach the queue behind the one that did not.
		var be interface{ FailedIndexes() []int }
		if !errors.As(err, &be) || len(be.FailedIndexes()) == 0 {
			return 0, fmt.Errorf("requeue: %w", err)
		}
		sent = slices.Min(be.FailedIndexes())
	}
	for i, r := range sendable[:sent] {
		if err := c.markQueued(ctx, r); err != nil {
			return i, err
		}
	}
	if err != nil {
		return sent, fmt.Errorf("requeue: %w", err)
	}
	return sent, nil
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
	return c.markQueued(ctx, r)
}

// markQueued records that a due record is back on the queue.
func (c *Consumer) markQueued(ctx context.Context, r Record) error {
	_, err := c.o.Store.UpdateRecord(ctx, r.ID, func(cur *Record) (*Record, error) {
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
