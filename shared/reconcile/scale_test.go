package reconcile_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/reconcile"
	"github.com/aloro/wa-senders/shared/sender"
)

// virtualClock is one WABA's pacing clock: sleeping advances it instead of waiting.
type virtualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *virtualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *virtualClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

// TestReconcileThousandSendersInOneRun: 1,000 senders over 5 WABAs (one of 400) are all
// examined in one run with one Graph read each; paced at Meta's per-WABA budget, the busiest
// WABA needs under 15 minutes (in the WABA's own virtual time), and WABAs run in parallel.
// Drifted senders are corrected and recorded with source reconciler.
func TestReconcileThousandSendersInOneRun(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("1,000 senders on DynamoDB Local")
	}
	r := newRig(t)
	ctx := context.Background()
	sizes := map[string]int{"3001": 400, "3002": 150, "3003": 150, "3004": 150, "3005": 150}
	n := 0
	for waba, size := range sizes {
		for range size {
			id := fmt.Sprintf("5%04d", n)
			drift := n%10 == 0
			r.put(t, id, sender.StatusOnline, func(s *sender.Sender) {
				s.WABAID = waba
				s.PhoneNumber = fmt.Sprintf("+40721%06d", n)
				if drift {
					s.QualityRating = sender.QualityNew
				}
			})
			n++
		}
	}
	var mu sync.Mutex
	clocks := map[string]*virtualClock{}
	rec := reconcile.New(reconcile.Options{Store: app.ReconcileStore{S: r.store}, Graph: r.graph, Pace: r.pace,
		Now: func() time.Time { return now },
		WABAPacer: func(waba string) reconcile.Pacer {
			c := &virtualClock{t: now}
			mu.Lock()
			clocks[waba] = c
			mu.Unlock()
			return reconcile.NewBucket(reconcile.DefaultPerWABAPerSecond, reconcile.DefaultBurst, c.now, c.sleep)
		}})
	start := time.Now()
	rep, err := rec.Run(ctx)
	wall := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.Examined != 1000 || rep.Corrected != 100 {
		t.Fatalf("report = %+v", rep)
	}
	if got := r.pace.n.Load(); got != 1000 {
		t.Errorf("%d Graph calls for 1,000 senders, want 1,000", got)
	}
	for waba, c := range clocks {
		d := c.now().Sub(now)
		if d > 15*time.Minute {
			t.Errorf("WABA %s needs %v of Meta's budget, over one 15-minute run", waba, d)
		}
		if waba == "3001" && d < 4*time.Minute {
			t.Errorf("WABA 3001 paced at %v: not under Meta's per-WABA limit", d)
		}
	}
	s := r.get(t, "50000")
	if last := s.StatusHistory[len(s.StatusHistory)-1]; last.Source != sender.SourceReconciler || s.QualityRating != sender.QualityHigh {
		t.Errorf("drifted sender: %s %+v", s.QualityRating, last)
	}
	t.Logf("1,000 senders, 5 WABAs: %v wall on the local stack; busiest WABA %v of Meta's budget", wall, clocks["3001"].now().Sub(now))
}
