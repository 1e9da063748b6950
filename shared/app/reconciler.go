package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/reconcile"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
)

// Reconciler builds the scheduled reconciliation run (functions/reconciler, `make run`, tests).
// The returned function fails only on storage errors: a run stopped by Meta's call-rate limits
// succeeds, and the next scheduled run resumes from the saved cursor.
func Reconciler(d Deps) (func(context.Context) error, error) {
	if d.Store == nil || d.Graph == nil {
		return nil, errors.New("reconciler: store and graph client are required")
	}
	requeue, err := reconcilerRequeue(d)
	if err != nil {
		return nil, err
	}
	ro := reconcile.Options{
		Store:   ReconcileStore{d.Store},
		Graph:   d.Graph,
		Log:     d.Log,
		Now:     d.Now,
		Requeue: requeue,
	}
	if d.Vault != nil {
		// The kept two-step PINs, for the re-register after a display-name approval.
		ro.PINs = d.Vault
	}
	r := reconcile.New(ro)
	pool := NumberPool(d)
	if pool != nil && d.Pool == nil {
		// Resumed onboardings claim our numbers as the admin API's do.
		d.Pool = pool
	}
	var onboardings *onboarding.Service
	if d.Vault != nil {
		if onboardings, err = Onboarding(d); err != nil {
			return nil, fmt.Errorf("reconciler: %w", err)
		}
	}
	poolRun := poolReconcile(d, pool)
	return func(ctx context.Context) error {
		if poolRun != nil {
			// The pool's failures are its own: they never stop the senders' pass.
			if err := poolRun(ctx); err != nil && d.Log != nil {
				d.Log.Warn("number pool reconcile failed", "error", err.Error())
			}
		}
		if onboardings != nil {
			// Onboardings left retrying (or abandoned by a dead process) resume on this schedule.
			n, err := onboardings.ResumeDue(ctx, 50)
			if d.Log != nil && (err != nil || n > 0) {
				d.Log.Info("onboardings resumed", "count", n, "error", fmt.Sprint(err))
			}
		}
		rep, err := r.Run(ctx)
		if d.Log != nil {
			d.Log.Info("reconcile run", "examined", rep.Examined, "skipped", rep.Skipped, "corrected", rep.Corrected,
				"statusChanges", rep.StatusChanges, "graphErrors", rep.GraphErrors, "complete", rep.Complete,
				"stopped", rep.Stopped, "stopCode", rep.StopCode, "requeued", rep.Requeued)
		}
		return err
	}, nil
}

// reconcilerRequeue is the outbound pipeline's "re-enqueue the deferred requests now due"
// (outbound.Consumer.Requeue), run at the start of every reconciler run. It needs the outbound
// queue; without one (tests of the reconciler alone) the run skips it.
func reconcilerRequeue(d Deps) (reconcile.RequeueFunc, error) {
	if d.SQS == nil || d.Config.OutboundQueueURL == "" {
		if d.Log != nil {
			d.Log.Warn("reconciler: no outbound queue configured; deferred requests are not requeued")
		}
		return nil, nil
	}
	c, err := OutboundConsumer(d, nil)
	if err != nil {
		return nil, fmt.Errorf("reconciler: requeue: %w", err)
	}
	return c.Requeue, nil
}

// ReconcileStore adapts *store.Store to reconcile.Store.
type ReconcileStore struct{ S *store.Store }

var _ reconcile.Store = ReconcileStore{}

// ListSenders lists every sender; a cursor the store no longer understands restarts the pass.
func (a ReconcileStore) ListSenders(ctx context.Context, limit int, cursor string) ([]*sender.Sender, string, error) {
	list, next, err := a.S.ListSenders(ctx, store.SenderFilter{}, limit, cursor)
	if errors.Is(err, store.ErrBadCursor) && cursor != "" {
		return a.S.ListSenders(ctx, store.SenderFilter{}, limit, "")
	}
	return list, next, err
}

// UpdateSender is the store's, without the result the reconciler does not use.
func (a ReconcileStore) UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) error {
	_, err := a.S.UpdateSender(ctx, id, fn)
	return err
}

// PortfolioTier returns the recorded tier, "" when none.
func (a ReconcileStore) PortfolioTier(ctx context.Context, key string) (string, error) {
	p, err := a.S.GetPortfolio(ctx, key)
	if errors.Is(err, persist.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get portfolio: %w", err)
	}
	return p.Tier, nil
}

// SetPortfolioTier records the tier observed at.
func (a ReconcileStore) SetPortfolioTier(ctx context.Context, key, tier string, at time.Time) error {
	_, err := a.S.SetPortfolioTier(ctx, key, tier, at)
	return err
}

// WABABan reads the ban state account_update webhooks left on the WABA's account item.
func (a ReconcileStore) WABABan(ctx context.Context, waba string) (sender.WABABan, error) {
	acct, err := a.S.GetAccount(ctx, waba)
	if errors.Is(err, persist.ErrNotFound) {
		return sender.WABABan{}, nil
	}
	if err != nil {
		return sender.WABABan{}, fmt.Errorf("get account: %w", err)
	}
	var b sender.WABABan
	if acct.Ban != nil {
		b.State, b.EventAt = acct.Ban.State, acct.Ban.EventAt
	}
	if sd := acct.ScheduledDisable; sd != nil {
		b.ScheduledAt, b.ScheduledEventAt = sd.At, sd.EventAt
	}
	return b, nil
}

// Cursor returns where the last run stopped.
func (a ReconcileStore) Cursor(ctx context.Context) (string, error) {
	return a.S.GetReconcileCursor(ctx)
}

// SaveCursor records where the next run starts.
func (a ReconcileStore) SaveCursor(ctx context.Context, c string) error {
	return a.S.PutReconcileCursor(ctx, c)
}
