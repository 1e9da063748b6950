package outbound

import (
	"context"
	"errors"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
)

type cachedPause struct {
	p  Pause
	at time.Time
}

// pause returns the hold of scope, cached for a few seconds.
func (c *Consumer) pause(ctx context.Context, scope string) (Pause, error) {
	now := c.o.Clock.Now()
	c.pmu.Lock()
	cp, ok := c.pauses[scope]
	c.pmu.Unlock()
	if ok && now.Sub(cp.at) < pauseCacheTTL && !now.Before(cp.at) {
		return cp.p, nil
	}
	p, err := c.o.Store.GetPause(ctx, scope)
	if errors.Is(err, persist.ErrNotFound) {
		p, err = Pause{Scope: scope}, nil
	}
	if err != nil {
		return Pause{}, err
	}
	c.pmu.Lock()
	c.pauses[scope] = cachedPause{p: p, at: now}
	c.pmu.Unlock()
	return p, nil
}

// setPause stores a hold and makes it visible to this instance at once.
func (c *Consumer) setPause(ctx context.Context, p Pause) error {
	if err := c.o.Store.SetPause(ctx, p); err != nil {
		return err
	}
	c.pmu.Lock()
	c.pauses[p.Scope] = cachedPause{p: p, at: c.o.Clock.Now()}
	c.pmu.Unlock()
	return nil
}
