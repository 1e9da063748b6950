package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// The generator's own invariants: unique ids, valid numbers, every POST parseable, every unique
// message delivered at least once, duplicates present, expected windows computed from the
// newest expiry.
func TestPlanInvariants(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_800_000_000, 0)
	sz := sizes{Senders: 3, CustomersPerSender: 20, Inbound: 400, Outbound: 50, PostDupRate: 0.2, RebatchRate: 0.1, OrphanStatuses: 5}
	p, err := newPlan("t1", 42, sz, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.senders) != 4 || p.account == nil || len(p.trafficSenders()) != 3 {
		t.Fatalf("senders: %d, account %v", len(p.senders), p.account)
	}
	phones := map[string]bool{}
	for _, s := range p.senders {
		if _, err := phone.ParseE164(s.Phone); err != nil || phones[s.Phone] {
			t.Fatalf("sender phone %q: %v (dup %v)", s.Phone, err, phones[s.Phone])
		}
		phones[s.Phone] = true
		for _, c := range s.custs {
			if c.Phone != "" {
				if _, err := phone.ParseE164(c.Phone); err != nil || phones[c.Phone] {
					t.Fatalf("customer phone %q: %v", c.Phone, err)
				}
				phones[c.Phone] = true
			}
			if !whatsapp.IsBSUID(c.UserID) {
				t.Fatalf("customer user id %q is not a BSUID", c.UserID)
			}
		}
	}
	seen := map[string]int{}
	bodies := map[string]int{}
	for _, po := range p.posts {
		bodies[string(po.Body)]++
		n, err := whatsapp.ParseNotification(po.Body)
		if err != nil {
			t.Fatalf("%s POST does not parse: %v", po.Kind, err)
		}
		for _, e := range n.Entry {
			for _, c := range e.Changes {
				if _, err := c.Decode(); err != nil {
					t.Fatalf("%s change %s does not decode: %v", po.Kind, c.Field, err)
				}
			}
		}
		for _, m := range po.msgs {
			seen[m.WAMID]++
		}
	}
	if len(seen) != sz.Inbound {
		t.Fatalf("%d unique messages in POSTs, want %d", len(seen), sz.Inbound)
	}
	dups := 0
	for _, n := range bodies {
		dups += n - 1
	}
	if dups == 0 {
		t.Fatal("no POST is delivered twice")
	}
	// Windows: the newest expiry, referral or not.
	for _, s := range p.trafficSenders() {
		for _, c := range s.custs {
			exp, ok := c.windowFor(72 * time.Hour)
			if ok != (len(c.msgs) > 0) {
				t.Fatalf("windowFor ok=%v with %d messages", ok, len(c.msgs))
			}
			for _, m := range c.msgs {
				d := 24 * time.Hour
				if m.Referral {
					d = 72 * time.Hour
				}
				if time.Unix(m.TS, 0).Add(d).After(exp) {
					t.Fatalf("window %s earlier than a message's own expiry", exp)
				}
			}
			if c.Kind == active && ok && !exp.After(start) {
				t.Fatalf("active customer with a closed window")
			}
			if c.Kind == stale && ok && exp.After(start) {
				t.Fatalf("stale customer with an open window")
			}
		}
	}
	if len(p.tiers) != 3 {
		t.Fatalf("tiers for %d WABAs, want 3", len(p.tiers))
	}
}

// Every outbound request the generator makes passes the contract's decoder, except the ones
// meant to be invalid; group ids are valid SQS ids.
func TestIntentsFollowTheContract(t *testing.T) {
	t.Parallel()
	p, err := newPlan("t2", 7, sizes{Senders: 2, CustomersPerSender: 30, Inbound: 100}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.msgs {
		if c.Cust.Kind == active && !isOpen(c.Cust) {
			close(c.Cust.open)
		}
	}
	g := &intents{p: p, rng: p.rng}
	kinds := map[string]int{}
	for range 300 {
		in := g.next()
		kinds[in.Exp.Why]++
		_, err := outbound.Decode(in.Body)
		if in.Invalid != (err != nil) {
			t.Fatalf("request %s (%s): invalid=%v, decode error %v", in.ID, in.Exp.Why, in.Invalid, err)
		}
		if in.Group == "" || len(in.Group) > 128 {
			t.Fatalf("group id %q", in.Group)
		}
	}
	for _, why := range []string{"reply inside an open window", "window closed, template given", "window closed and no template", "invalid phone number", "unknown sender"} {
		if kinds[why] == 0 {
			t.Errorf("no %q request in 300: %v", why, kinds)
		}
	}
}

func TestPercentileAndFind(t *testing.T) {
	t.Parallel()
	var l latencies
	for i := 1; i <= 100; i++ {
		l.add(time.Duration(i) * time.Millisecond)
	}
	s := l.summary()
	if s.P50 != 50*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Fatalf("summary %+v", s)
	}
	raw, _ := json.Marshal(map[string]any{"event": map[string]any{"message": map[string]any{"wamid": "wamid.X"}}})
	if got := findString(raw, "wamid"); got != "wamid.X" {
		t.Fatalf("findString = %q", got)
	}
	if findString([]byte("not json"), "wamid") != "" {
		t.Fatal("findString on garbage")
	}
}

func TestPacerDoesNotBurstAfterAStall(t *testing.T) {
	t.Parallel()
	tick := pacer(1000) // 1 ms apart
	ctx := context.Background()
	tick(ctx)
	time.Sleep(1500 * time.Millisecond)
	begin := time.Now()
	for range 20 {
		tick(ctx)
	}
	if el := time.Since(begin); el < 15*time.Millisecond {
		t.Fatalf("20 ticks after a stall took %s: the pacer burst to catch up", el)
	}
}
