package reconcile

import (
	"context"
	"sync"
	"time"
)

// Bucket is a token bucket pacing Graph API calls: at most burst calls at once, then rate per
// second. Its clock and sleep are injectable so tests run in fake time.
type Bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

// NewBucket returns a full bucket. now and sleep may be nil (time.Now, a context-aware sleep).
func NewBucket(perSecond float64, burst int, now func() time.Time, sleep func(context.Context, time.Duration) error) *Bucket {
	if perSecond <= 0 {
		perSecond = DefaultCallsPerSecond
	}
	if burst < 1 {
		burst = 1
	}
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = Sleep
	}
	return &Bucket{rate: perSecond, burst: float64(burst), tokens: float64(burst), now: now, sleep: sleep}
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Wait takes one token, sleeping until one is available or ctx ends.
func (b *Bucket) Wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.mu.Lock()
		now := b.now()
		if !b.last.IsZero() && now.After(b.last) {
			b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		}
		if b.last.IsZero() || now.After(b.last) {
			b.last = now
		}
		if b.tokens >= 1 {
			b.tokens--
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		b.mu.Unlock()
		if err := b.sleep(ctx, max(wait, time.Millisecond)); err != nil {
			return err
		}
	}
}
