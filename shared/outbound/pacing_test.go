package outbound

import (
	"strconv"
	"testing"
	"time"
)

// TestPacerSenderRate books 1,000 sends from one sender as fast as the pacer allows and checks
// that no one-second window holds more than the rate.
func TestPacerSenderRate(t *testing.T) {
	t.Parallel()
	for _, rate := range []int{80, 1000, 8} {
		p := NewPacer()
		now := decideNow
		var at []time.Time
		for i := range 1000 {
			// Every send to a different recipient: only the sender's rate applies.
			wait, ok := p.Reserve(now, "s1", "tel:+4072100"+strconv.Itoa(i), rate, time.Hour)
			if !ok {
				t.Fatalf("rate %d: send %d refused with maxWait 1h", rate, i)
			}
			now = now.Add(wait) // the caller sleeps, then sends
			at = append(at, now)
		}
		for i := range at {
			j := i
			for j < len(at) && at[j].Sub(at[i]) < time.Second {
				j++
			}
			if n := j - i; n > rate {
				t.Fatalf("rate %d: %d sends within one second from send %d", rate, n, i)
			}
		}
		// Sustained throughput is the rate, not less: 1,000 sends take about 1000/rate s.
		if took, want := at[len(at)-1].Sub(at[0]), time.Duration(999)*time.Second/time.Duration(rate); took > want+time.Millisecond {
			t.Errorf("rate %d: 1,000 sends took %v, want about %v", rate, took, want)
		}
	}
}

// TestPacerPairRate checks the pair rate limit: a burst of PairBurst, then the borrowed quota
// is paid back at one message per 6 s before the next, and a wait longer than maxWait books
// nothing.
func TestPacerPairRate(t *testing.T) {
	t.Parallel()
	p := NewPacer()
	now := decideNow
	for i := range PairBurst {
		if wait, ok := p.Reserve(now, "s1", "uid:US.1", 80, time.Second); !ok || wait > 100*time.Millisecond {
			t.Fatalf("burst message %d: wait %v ok %v", i, wait, ok)
		}
		now = now.Add(10 * time.Millisecond)
	}
	wait, ok := p.Reserve(now, "s1", "uid:US.1", 80, 10*time.Second)
	if ok {
		t.Fatalf("message %d after a burst went out after %v", PairBurst+1, wait)
	}
	start := decideNow
	if want := start.Add(PairBurst * PairInterval).Sub(now); wait != want {
		t.Errorf("wait after the burst = %v, want %v (the borrowed quota paid back)", wait, want)
	}
	// Refused reservations book nothing: the same wait is quoted again.
	if again, _ := p.Reserve(now, "s1", "uid:US.1", 80, 10*time.Second); again != wait {
		t.Errorf("second quote %v, want %v", again, wait)
	}
	// Another recipient of the same sender is not held.
	if w, ok := p.Reserve(now, "s1", "uid:US.2", 80, time.Second); !ok || w > 100*time.Millisecond {
		t.Errorf("other recipient: wait %v ok %v", w, ok)
	}
	// Once paid back, one message per interval goes out without waiting.
	now = start.Add(PairBurst * PairInterval)
	for i := range 5 {
		if w, ok := p.Reserve(now, "s1", "uid:US.1", 80, time.Second); !ok || w != 0 {
			t.Fatalf("sustained message %d: wait %v ok %v", i, w, ok)
		}
		now = now.Add(PairInterval)
	}
}

func TestPacerThrottle(t *testing.T) {
	t.Parallel()
	p := NewPacer()
	p.Throttle(decideNow, "s1", time.Second)
	if w, ok := p.Reserve(decideNow, "s1", "tel:+1", 80, time.Minute); !ok || w < time.Second {
		t.Errorf("after Throttle(1s): wait %v ok %v", w, ok)
	}
	p.ThrottlePair(decideNow, "s1", "tel:+2", 16*time.Second)
	if w, ok := p.Reserve(decideNow, "s1", "tel:+2", 80, time.Minute); !ok || w < 16*time.Second {
		t.Errorf("after ThrottlePair(16s): wait %v ok %v", w, ok)
	}
}
