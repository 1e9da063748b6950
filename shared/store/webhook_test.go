package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/webhook"
)

func TestClaims(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	claim := func(id, owner string) webhook.ClaimState {
		t.Helper()
		st, err := s.Claim(ctx, id, owner, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := claim("wamid.1", "a"); st != webhook.Claimed {
		t.Fatalf("first claim: %v", st)
	}
	if st := claim("wamid.1", "b"); st != webhook.Held {
		t.Fatalf("claim held by another: %v", st)
	}
	if err := s.Release(ctx, "wamid.1", "b"); err != nil { // not b's: no effect
		t.Fatal(err)
	}
	if st := claim("wamid.1", "c"); st != webhook.Held {
		t.Fatalf("released by a non-owner: %v", st)
	}
	if err := s.Release(ctx, "wamid.1", "a"); err != nil {
		t.Fatal(err)
	}
	if st := claim("wamid.1", "b"); st != webhook.Claimed {
		t.Fatalf("claim after release: %v", st)
	}
	// A lease that ran out is taken over (a crashed delivery).
	clk.Set(clk.Now().Add(31 * time.Second))
	if st := claim("wamid.1", "c"); st != webhook.Claimed {
		t.Fatalf("takeover after the lease: %v", st)
	}
	if err := s.MarkDone(ctx, []string{"wamid.1"}); err != nil {
		t.Fatal(err)
	}
	if st := claim("wamid.1", "d"); st != webhook.AlreadyDone {
		t.Fatalf("claim of a done id: %v", st)
	}
	// Many ids at once (two transactions), duplicates included.
	var ids []string
	for i := 0; i < 150; i++ {
		ids = append(ids, fmt.Sprintf("wamid.m%d", i))
		if st := claim(ids[i], "e"); st != webhook.Claimed {
			t.Fatal(st)
		}
	}
	if err := s.MarkDone(ctx, append(ids, ids[:5]...)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if st, err := s.ClaimStatus(ctx, id); err != nil || st != "done" {
			t.Fatalf("%s: %q %v", id, st, err)
		}
	}
}

// permutations returns every order of n indexes.
func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestWindowRegistersCommute(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	t0 := clk.Now().Add(-time.Hour)
	c := customer.Ref{UserID: "US.1", Phone: "+40721234567"}
	ops := []func(pnid string) error{
		func(p string) error { return s.OpenWindow(ctx, p, c, customer.WindowFor(t0, false, 72*time.Hour)) },
		func(p string) error {
			return s.OpenWindow(ctx, p, c, customer.WindowFor(t0.Add(10*time.Minute), false, 72*time.Hour))
		},
		func(p string) error {
			return s.OpenWindow(ctx, p, c, customer.WindowFor(t0.Add(10*time.Minute), true, 72*time.Hour))
		},
		// Meta's 131047 after both messages: closed there.
		func(p string) error { return s.CloseWindowAt(ctx, p, c, t0.Add(20*time.Minute)) },
	}
	var want customer.Window
	for i, order := range permutations(len(ops)) {
		pnid := fmt.Sprintf("pn%d", i)
		for _, j := range order {
			if err := ops[j](pnid); err != nil {
				t.Fatal(err)
			}
		}
		w, err := s.GetWindow(ctx, pnid, "waba", customer.Ref{UserID: "US.1"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want = w
			if !w.ExpiresAt.Equal(t0.Add(20*time.Minute)) || !w.FreeEntry || !w.LastInboundAt.Equal(t0.Add(10*time.Minute)) {
				t.Fatalf("window: %+v", w)
			}
			// Closed under the phone key as well (a tombstone), so an old message there stays shut.
			if err := s.OpenWindow(ctx, pnid, customer.Ref{Phone: c.Phone}, customer.WindowFor(t0, false, 72*time.Hour)); err != nil {
				t.Fatal(err)
			}
			pw, _ := s.GetWindow(ctx, pnid, "waba", customer.Ref{Phone: c.Phone})
			if pw.OpenAt(clk.Now()) {
				t.Fatalf("older message reopened the phone key: %+v", pw)
			}
			continue
		}
		if w != want {
			t.Fatalf("order %v: %+v, want %+v", order, w, want)
		}
	}
	// A message after the close opens the window again, for 24 h from it.
	later := t0.Add(30 * time.Minute)
	if err := s.OpenWindow(ctx, "pn0", c, customer.WindowFor(later, false, 72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.GetWindow(ctx, "pn0", "waba", c); !w.ExpiresAt.Equal(later.Add(24 * time.Hour)) {
		t.Fatalf("after a newer message: %+v", w)
	}
}

func TestOptOutSignalsCommute(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	t0 := clk.Now().Add(-time.Hour)
	old := customer.Ref{UserID: "US.old", Phone: "+40721234567"}
	renamed := customer.Ref{UserID: "US.new", Phone: "+40721234567"}
	ops := []func(waba string) error{
		func(w string) error {
			return s.ApplyOptOut(ctx, w, old, webhook.OptOutEvent{Stop: true, Keyword: true, Source: "keyword", At: t0})
		},
		func(w string) error {
			return s.ApplyOptOut(ctx, w, old, webhook.OptOutEvent{Stop: false, Source: "user_preferences", At: t0.Add(time.Minute)})
		},
		func(w string) error {
			return s.ApplyOptOut(ctx, w, old, webhook.OptOutEvent{Stop: true, Source: "user_preferences", At: t0.Add(2 * time.Minute)})
		},
		// The customer's BSUID changed: opt-outs follow, before and after the rename.
		func(w string) error { return s.CopyOptOut(ctx, w, customer.Ref{UserID: "US.old"}, renamed) },
	}
	var want customer.OptOut
	for i, order := range permutations(len(ops)) {
		waba := fmt.Sprintf("w%d", i)
		for _, j := range order {
			if err := ops[j](waba); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetOptOut(ctx, waba, customer.Ref{UserID: "US.new"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want = got
			// The keyword stop was lifted by the resume; the later marketing stop holds.
			if !got.Marketing || got.Keyword || !got.At.Equal(t0.Add(2*time.Minute)) {
				t.Fatalf("opt-out: %+v", got)
			}
			continue
		}
		if got != want {
			t.Fatalf("order %v: %+v, want %+v", order, got, want)
		}
	}
}

func TestAliasNeverRegresses(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	t0 := clk.Now()
	phone := "+40721234567"
	if err := s.PutAliasAt(ctx, "w", customer.Ref{UserID: "US.new", Phone: phone}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAliasAt(ctx, "w", customer.Ref{UserID: "US.old", Phone: phone}, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ResolveCustomer(ctx, "w", customer.Ref{Phone: phone})
	if err != nil || got.UserID != "US.new" {
		t.Fatalf("resolved %+v %v", got, err)
	}
}
