package webhook

import (
	"sync"
	"time"
)

// ttlCache is a small concurrency-safe cache with a per-entry lifetime, kept per Lambda
// instance to save repeated reads and writes on hot paths (sender lookups, alias writes). It
// never decides correctness: a miss only costs a request.
type ttlCache[V any] struct {
	mu   sync.Mutex
	ttl  time.Duration
	max  int
	data map[string]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLCache[V any](ttl time.Duration, max int) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, data: map[string]cacheEntry[V]{}}
}

func (c *ttlCache[V]) get(k string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.data[k]
	if !ok || now.After(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(k string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.data) >= c.max {
		// Crude but bounded: start over rather than track recency.
		c.data = map[string]cacheEntry[V]{}
	}
	c.data[k] = cacheEntry[V]{v: v, exp: now.Add(c.ttl)}
}
