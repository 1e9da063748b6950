// Package ttlcache is the small per-instance cache the Lambdas keep to save repeated reads on
// hot paths. It never decides correctness: a miss only costs a read.
package ttlcache

import (
	"sync"
	"time"
)

// Cache is a concurrency-safe map whose entries are used for a fixed time after they were
// stored, holding at most a bounded number of them. The caller passes the time, so a fake
// clock drives it in tests.
type Cache[V any] struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[string]entry[V]
}

type entry[V any] struct {
	v  V
	at time.Time
}

// New returns a cache whose entries are used for ttl after they were stored, holding at most
// max of them.
func New[V any](ttl time.Duration, max int) *Cache[V] {
	return &Cache[V]{ttl: ttl, max: max, m: map[string]entry[V]{}}
}

// Get returns the value stored under k if it is fresh at now (stored at or before now, less
// than ttl ago).
func (c *Cache[V]) Get(k string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Before(e.at) || now.Sub(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v under k at now. At the bound, expired entries are dropped first, then all:
// bounded without tracking recency.
func (c *Cache[V]) Put(k string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if now.Sub(e.at) >= c.ttl {
				delete(c.m, key)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[k] = entry[V]{v: v, at: now}
}
