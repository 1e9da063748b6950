package numberpool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/persist"
)

// Report counts what a Reconcile run did.
type Report struct {
	IntentsSettled int `json:"intentsSettled"`
	IntentsFailed  int `json:"intentsFailed"`
	TimedOut       int `json:"timedOut"`
	Reverifying    int `json:"reverifying"`
	Released       int `json:"released"`
	Errors         int `json:"errors"`
}

// Reconcile finishes interrupted purchases, ends verifications whose code never came, starts
// re-verification in Meta's window before expiry and releases numbers unused for the hold. Each
// item fails alone; the first error is returned after the run.
func (p *Pool) Reconcile(ctx context.Context) (Report, error) {
	var rep Report
	var first error
	note := func(err error) {
		if err != nil {
			rep.Errors++
			if first == nil {
				first = err
			}
		}
	}
	now := p.now()
	intents, err := p.o.Store.OpenIntents(ctx)
	if err != nil {
		return rep, fmt.Errorf("open intents: %w", err)
	}
	for _, in := range intents {
		if in.State == IntentPending && in.LeaseUntil.After(now) {
			continue // running now
		}
		settled, failed, err := p.settle(ctx, in, now)
		note(err)
		if settled {
			rep.IntentsSettled++
		}
		if failed {
			rep.IntentsFailed++
		}
	}
	nums, err := p.o.Store.ListNumbers(ctx)
	if err != nil {
		return rep, fmt.Errorf("list pool: %w", err)
	}
	for _, n := range nums {
		switch {
		case n.State == StateVerifying && !n.CodeDeadline.IsZero() && now.After(n.CodeDeadline):
			if until, ok := p.verifiedAtMeta(ctx, n.MetaID); ok {
				note(p.finish(ctx, n.E164, n.Attempt, "", StateVerified, "", until))
				continue
			}
			rep.TimedOut++
			_, err := p.failAttempt(ctx, n.E164, n.Attempt, fmt.Sprintf("timeout: no code within %s", p.o.CodeTimeout))
			var ve *VerificationError
			if !errors.As(err, &ve) {
				note(err)
			}
		case n.State == StateVerified && !now.Before(n.VerifiedUntil.Add(-p.o.ReverifyBefore)):
			rep.Reverifying++
			_, err := p.StartVerification(ctx, n.E164, "")
			var ve *VerificationError
			if !errors.As(err, &ve) {
				note(err)
			}
		case n.State == StateUnverified && !n.ReturnedAt.IsZero() && now.Sub(n.ReturnedAt) >= p.o.Hold:
			err := p.release(ctx, n)
			note(err)
			if err == nil {
				rep.Released++
			}
		}
	}
	return rep, first
}

// settle takes an open intent to done or failed.
func (p *Pool) settle(ctx context.Context, in Intent, now time.Time) (settled, failed bool, err error) {
	if in.State == IntentPending {
		_, ferr := p.o.Carrier.Find(ctx, in.E164)
		switch {
		case errors.Is(ferr, carrier.ErrNotOwned):
			if now.Sub(in.CreatedAt) < settleAfter {
				return false, false, nil // a caller may still retry with its request id
			}
			p.failIntent(ctx, in.RequestID, "the purchase did not complete")
			return false, true, nil
		case ferr != nil:
			return false, false, fmt.Errorf("settle %s: %w", in.RequestID, ferr)
		}
	}
	if _, err := p.complete(ctx, &in, false); err != nil {
		return false, false, fmt.Errorf("settle %s: %w", in.RequestID, err)
	}
	return true, false, nil
}

// release gives the number back to the carrier and marks it released.
func (p *Pool) release(ctx context.Context, n Number) error {
	if err := p.o.Carrier.Release(ctx, n.CarrierSID); err != nil {
		return fmt.Errorf("release %s: %w", n.CarrierSID, err)
	}
	now := p.now()
	_, err := p.o.Store.UpdateNumber(ctx, n.E164, func(cur *Number) (*Number, error) {
		if cur == nil || cur.CarrierSID != n.CarrierSID || cur.State == StateReleased {
			return nil, persist.ErrNoChange
		}
		next := *cur
		next.State, next.Reason, next.ReleasedAt, next.UpdatedAt = StateReleased, "unused for the hold", now, now
		return &next, nil
	})
	if err != nil {
		// Released at the carrier but not noted: the next run releases again (a no-op there).
		return fmt.Errorf("note release: %w", err)
	}
	p.o.Log.Info("pool number released", "carrier_sid", n.CarrierSID)
	return nil
}
