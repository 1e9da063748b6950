package outbound

import (
	"context"
	"sync"
	"time"
)

// Clock is the pipeline's time source; tests inject a fake one whose Sleep advances Now.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock. Now may be replaced (app.Deps.Now).
type SystemClock struct{ NowFunc func() time.Time }

// Now returns the current time.
func (c SystemClock) Now() time.Time {
	if c.NowFunc != nil {
		return c.NowFunc()
	}
	return time.Now()
}

// Sleep waits for d or until ctx is done.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Pair rate limit (reference §7: 1 message per 6 s to one user; bursts up to 45 borrow against
// later quota, and after 20 the wait is about 2 minutes). The pacer is conservative: a burst of
// at most PairBurst, after which the borrowed quota is paid back at PairInterval per message
// before the next one goes out, as Meta describes.
const (
	PairInterval = 6 * time.Second
	PairBurst    = 10
)

// HighThroughputPerSecond is a sender's throughput once Meta upgraded it (throughput level HIGH).
const HighThroughputPerSecond = 1000

// Pacer spaces sends per sender (its throughput) and per (sender, recipient) pair (the pair rate
// limit), in process. Its state survives between Lambda invocations of one instance; across
// instances, Options.Instances divides each sender's rate, and Meta's 130429 / 131056 answers
// (retried with backoff, and fed back through Throttle) are the backstop.
type Pacer struct {
	mu      sync.Mutex
	senders map[string]*senderPace
	pairs   map[string]*pairPace
	ops     int
}

// senderPace is a GCRA (virtual scheduling) limiter: tat is the theoretical arrival time of the
// next send.
type senderPace struct{ tat time.Time }

// pairPace is the borrowed-quota limiter of one pair: debtUntil is when the quota is back to
// one message; a burst runs from burstStart while count < PairBurst.
type pairPace struct {
	debtUntil  time.Time
	burstStart time.Time
	count      int
}

// NewPacer returns an empty pacer.
func NewPacer() *Pacer {
	return &Pacer{senders: map[string]*senderPace{}, pairs: map[string]*pairPace{}}
}

// Reserve books the next send from senderID to recipient at perSecond and returns how long to
// wait before sending. When the wait would exceed maxWait nothing is booked and ok is false:
// the caller puts the message back on the queue for that long instead of sleeping.
func (p *Pacer) Reserve(now time.Time, senderID, recipient string, perSecond int, maxWait time.Duration) (wait time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(now)
	if perSecond <= 0 {
		perSecond = 1
	}
	// No burst allowance: sends are spaced evenly at the rate, so no one-second window ever
	// holds more than perSecond of them (a burst would add to the next second's sends). An idle
	// sender's first send never waits.
	interval := time.Second / time.Duration(perSecond)

	sp := p.senders[senderID]
	if sp == nil {
		sp = &senderPace{tat: now}
		p.senders[senderID] = sp
	}
	at := now
	if sp.tat.After(at) {
		at = sp.tat
	}
	pk := senderID + "|" + recipient
	pp := p.pairs[pk]
	if pp == nil {
		pp = &pairPace{}
	}
	if pairAt := pp.nextAllowed(at); pairAt.After(at) {
		at = pairAt
	}
	wait = at.Sub(now)
	if wait > maxWait {
		return wait, false
	}
	sp.tat = later(sp.tat, at).Add(interval)
	pp.book(at)
	p.pairs[pk] = pp
	return wait, true
}

// nextAllowed is the earliest time at or after t a message may go to the pair.
func (pp *pairPace) nextAllowed(t time.Time) time.Time {
	switch {
	case !t.Before(pp.debtUntil):
		return t // quota back: a new burst may start
	case pp.count < PairBurst && t.Sub(pp.burstStart) < PairInterval:
		return t // within the current burst
	}
	return pp.debtUntil
}

// book records a message to the pair at t.
func (pp *pairPace) book(t time.Time) {
	if !t.Before(pp.debtUntil) {
		pp.burstStart, pp.count, pp.debtUntil = t, 0, t
	}
	pp.count++
	pp.debtUntil = pp.debtUntil.Add(PairInterval)
}

// Throttle holds every send of senderID for d (after Meta's 130429).
func (p *Pacer) Throttle(now time.Time, senderID string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp := p.senders[senderID]
	if sp == nil {
		sp = &senderPace{}
		p.senders[senderID] = sp
	}
	sp.tat = later(sp.tat, now.Add(d))
}

// Held returns how long sends from senderID to recipient are still held by Meta's throttles
// (Throttle, ThrottlePair): what the in-process pacer adds to the shared pacing.
func (p *Pacer) Held(now time.Time, senderID, recipient string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var until time.Time
	if sp := p.senders[senderID]; sp != nil {
		until = sp.tat
	}
	if pp := p.pairs[senderID+"|"+recipient]; pp != nil && pp.count >= PairBurst {
		until = later(until, pp.debtUntil)
	}
	return max(until.Sub(now), 0)
}

// ThrottlePair holds sends to one recipient for d (after Meta's 131056).
func (p *Pacer) ThrottlePair(now time.Time, senderID, recipient string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pk := senderID + "|" + recipient
	pp := p.pairs[pk]
	if pp == nil {
		pp = &pairPace{}
		p.pairs[pk] = pp
	}
	pp.debtUntil = later(pp.debtUntil, now.Add(d))
	pp.count = PairBurst // no burst until the debt is paid
}

// prune drops idle entries now and then, so a long-lived instance does not grow without bound.
// Caller holds p.mu.
func (p *Pacer) prune(now time.Time) {
	p.ops++
	if p.ops%4096 != 0 {
		return
	}
	for k, sp := range p.senders {
		if sp.tat.Before(now.Add(-time.Minute)) {
			delete(p.senders, k)
		}
	}
	for k, pp := range p.pairs {
		if pp.debtUntil.Before(now.Add(-time.Minute)) {
			delete(p.pairs, k)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
