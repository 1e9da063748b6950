package outbound

import (
	"context"
	"errors"
	"strings"
	"time"
)

// PaceClaim books one send in the pacing shared by every consumer instance (in DynamoDB): the
// second of At for the sender's rate, and the pair's pace moved from PairOld to PairNew.
type PaceClaim struct {
	SenderID  string
	PerSecond int
	// Recipient is the customer key of the pair.
	Recipient string
	At        time.Time
	PairOld   time.Time
	PairFound bool
	PairNew   time.Time
}

// Errors of SharedPacing.ClaimPace: nothing was booked.
var (
	// ErrRateFull: the sender's sends of that second are all booked.
	ErrRateFull = errors.New("the sender's rate is used up for that second")
	// ErrPairMoved: another send to the pair was booked since its pace was read.
	ErrPairMoved = errors.New("the pair's pace moved")
)

// SharedPacing is the port to the pacing every instance shares.
type SharedPacing interface {
	ClaimPace(ctx context.Context, c PaceClaim) error
	GetPairPace(ctx context.Context, senderID, customerKey string) (time.Time, bool, error)
}

// sendRate is the sender's messages per second: the whole rate, since the shared pacing
// divides it among however many instances are sending.
func (c *Consumer) sendRate(j *job) int {
	if strings.EqualFold(j.snd.ThroughputLevel, "HIGH") {
		return HighThroughputPerSecond
	}
	return c.o.ThroughputPerSecond
}

// paceShared books j's send in the shared pacing: the earliest moment the pair's pace (a burst
// of PairBurst, then one per PairInterval, as a GCRA) and a free slot in the sender's rate
// allow. ok false: that is further away than an invocation sleeps (wait says how far).
func (c *Consumer) paceShared(ctx context.Context, j *job) (wait time.Duration, ok bool, err error) {
	now := c.o.Clock.Now()
	maxWait := c.inlineWait(ctx)
	at := now
	// Meta's own throttles (130429, 131056) are kept per instance.
	if h := c.o.Pacer.Held(now, j.snd.ID, j.ref.Key()); h > 0 {
		at = now.Add(h)
	}
	tat, found := j.state.PairPace, j.state.PairFound
	tolerance := time.Duration(PairBurst-1) * PairInterval
	for range 8 {
		if found {
			if earliest := tat.Add(-tolerance); earliest.After(at) {
				at = earliest
			}
		}
		if w := at.Sub(now); w > maxWait {
			return w, false, nil
		}
		next := at
		if found && tat.After(at) {
			next = tat
		}
		err := c.o.Store.ClaimPace(ctx, PaceClaim{SenderID: j.snd.ID, PerSecond: c.sendRate(j), Recipient: j.ref.Key(),
			At: at, PairOld: tat, PairFound: found, PairNew: next.Add(PairInterval)})
		switch {
		case err == nil:
			return at.Sub(now), true, nil
		case errors.Is(err, ErrRateFull):
			at = at.Truncate(time.Second).Add(time.Second)
		case errors.Is(err, ErrPairMoved):
			if tat, found, err = c.o.Store.GetPairPace(ctx, j.snd.ID, j.ref.Key()); err != nil {
				return 0, false, err
			}
		default:
			return 0, false, err
		}
	}
	// Contended beyond reason: back on the queue for a moment.
	return time.Second, false, nil
}
