package outbound_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
)

// TestSharedPacingAcrossInstances: two consumer instances (each its own in-process state) pace
// one sender through the table. One instance alone uses the sender's whole rate, although it
// is configured as one of ten; both together never exceed it in any second; and the pair
// limit holds across them.
func TestSharedPacingAcrossInstances(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *outbound.Options) {
		o.SharedPacing, o.ThroughputPerSecond, o.Instances, o.Concurrency = true, 20, 10, 1
		o.MaxInlineWait = time.Second // a pair past its burst goes back to the queue
	})
	second, err := outbound.NewConsumer(h.opts) // same options, its own pacer and caches
	if err != nil {
		t.Fatal(err)
	}
	snd := h.newSender(nil)
	batch := func(prefix string, n int) []outbound.Delivery {
		var ds []outbound.Delivery
		for i := range n {
			to := h.recipient()
			h.openWindow(snd, customer.Ref{Phone: to})
			ds = append(ds, h.delivery(textReq(fmt.Sprintf("%s%d", prefix, i), snd, to)))
		}
		return ds
	}

	// One instance alone: 40 sends at 20/s take about 2 s of clock, not 20 s.
	alone := batch("a", 40)
	start := h.clock.Now()
	for i := 0; i < len(alone); i += 10 {
		if failed := h.handle(alone[i : i+10]...); len(failed) != 0 {
			t.Fatalf("failed %v", failed)
		}
	}
	if took := h.clock.Now().Sub(start); took > 2500*time.Millisecond {
		t.Errorf("one instance took %v of clock for 40 sends at 20/s: it does not use the whole rate", took)
	}

	// Two instances taking turns: never more than 20 sends in one second of the clock.
	both := batch("b", 60)
	for i := 0; i < len(both); i += 10 {
		c := h.c
		if (i/10)%2 == 1 {
			c = second
		}
		if failed := c.Handle(h.ctx, both[i:i+10]); len(failed) != 0 {
			t.Fatalf("failed %v", failed)
		}
	}
	perSecond := map[int64]int{}
	for i := range both {
		perSecond[h.record(fmt.Sprintf("b%d", i)).UpdatedAt.Unix()]++
	}
	for s, n := range perSecond {
		if n > 20 {
			t.Errorf("%d sends in second %d (rate 20/s across instances)", n, s)
		}
	}

	// The pair limit across instances: a burst of PairBurst, then the next waits (one
	// PairInterval, longer than this consumer sleeps).
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	var pair []outbound.Delivery
	for i := range outbound.PairBurst + 1 {
		pair = append(pair, h.delivery(textReq(fmt.Sprintf("p%d", i), snd, to)))
	}
	if failed := h.handle(pair[:outbound.PairBurst/2]...); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	failed := map[string]bool{}
	for _, id := range second.Handle(h.ctx, pair[outbound.PairBurst/2:]) {
		failed[id] = true
	}
	if len(failed) != 1 || !failed[pair[outbound.PairBurst].MessageID] {
		t.Errorf("failed %v, want only the message past the pair's burst", failed)
	}
}
