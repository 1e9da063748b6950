package ttlcache

import (
	"testing"
	"time"
)

func TestGet(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New[string](time.Minute, 10)
	c.Put("k", "v", t0)
	for _, tc := range []struct {
		name string
		now  time.Time
		hit  bool
	}{
		{"at the put", t0, true},
		{"within the ttl", t0.Add(time.Minute - time.Nanosecond), true},
		{"at the ttl", t0.Add(time.Minute), false},
		{"before the put (clock went back)", t0.Add(-time.Second), false},
	} {
		if v, ok := c.Get("k", tc.now); ok != tc.hit || (ok && v != "v") {
			t.Errorf("%s: got %q, %v; want hit %v", tc.name, v, ok, tc.hit)
		}
	}
	if _, ok := c.Get("other", t0); ok {
		t.Error("a key never stored was found")
	}
}

func TestBound(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New[int](time.Minute, 2)
	c.Put("old", 1, t0)
	c.Put("fresh", 2, t0.Add(time.Minute))
	// Full: the expired entry goes, the fresh one stays.
	c.Put("new", 3, t0.Add(time.Minute))
	if _, ok := c.Get("fresh", t0.Add(time.Minute)); !ok {
		t.Error("a fresh entry was dropped while an expired one could go")
	}
	// Full of fresh entries: all go.
	c.Put("last", 4, t0.Add(time.Minute))
	if _, ok := c.Get("fresh", t0.Add(time.Minute)); ok || len(c.m) != 1 {
		t.Errorf("over the bound with fresh entries: %d kept", len(c.m))
	}
}
