package outbound

import (
	"context"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/sender"
)

// Senders and aliases change rarely and are read by every request: each instance keeps them
// for a short time. A sender's change (offline, suspended) thus reaches the consumer within
// SenderCacheTTL; the consumer's own changes to a sender are seen at once.
const (
	SenderCacheTTL = 30 * time.Second
	AliasCacheTTL  = time.Minute
	// cacheMax bounds an instance's cache; past it, expired entries are dropped, then all.
	cacheMax = 20000
)

type cacheEntry[V any] struct {
	v  V
	at time.Time
}

// ttlCache is a small map whose entries are used for ttl after they were stored.
type ttlCache[V any] struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]cacheEntry[V]
}

func newTTLCache[V any](ttl time.Duration) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, m: map[string]cacheEntry[V]{}}
}

func (c *ttlCache[V]) get(k string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Before(e.at) || now.Sub(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(k string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= cacheMax {
		for key, e := range c.m {
			if now.Sub(e.at) >= c.ttl {
				delete(c.m, key)
			}
		}
		if len(c.m) >= cacheMax {
			clear(c.m)
		}
	}
	c.m[k] = cacheEntry[V]{v: v, at: now}
}

// sender returns the sender with phone_number_id id, from the cache when fresh.
func (c *Consumer) sender(ctx context.Context, id string) (*sender.Sender, error) {
	now := c.o.Clock.Now()
	if s, ok := c.senders.get("id:"+id, now); ok {
		cp := *s
		return &cp, nil
	}
	s, err := c.o.Store.GetSender(ctx, id)
	if err != nil {
		return nil, err
	}
	c.cacheSender(s)
	return s, nil
}

// senderByPhone returns the sender owning an E.164 number, from the cache when fresh.
func (c *Consumer) senderByPhone(ctx context.Context, e164 string) (*sender.Sender, error) {
	now := c.o.Clock.Now()
	if s, ok := c.senders.get("tel:"+e164, now); ok {
		cp := *s
		return &cp, nil
	}
	s, err := c.o.Store.GetSenderByPhone(ctx, e164)
	if err != nil {
		return nil, err
	}
	c.cacheSender(s)
	return s, nil
}

// cacheSender stores a sender as just read or written.
func (c *Consumer) cacheSender(s *sender.Sender) {
	if s == nil {
		return
	}
	now := c.o.Clock.Now()
	cp := *s
	c.senders.put("id:"+s.ID, &cp, now)
	if s.PhoneNumber != "" {
		c.senders.put("tel:"+s.PhoneNumber, &cp, now)
	}
}

// cachedCustomer completes a recipient from the cached alias of the WABA; ok is false when the
// alias must be read (the state read then reads it too).
func (c *Consumer) cachedCustomer(waba string, ref customer.Ref) (customer.Ref, bool) {
	if ref.UserID != "" && ref.Phone != "" || ref.Key() == "" {
		return ref, true
	}
	if r, ok := c.aliases.get(waba+"|"+ref.Key(), c.o.Clock.Now()); ok {
		return r, true
	}
	return ref, false
}

// cacheCustomer keeps the alias found for ref (a phone ↔ BSUID mapping does not change).
func (c *Consumer) cacheCustomer(waba string, ref, resolved customer.Ref) {
	if ref.Key() != "" {
		c.aliases.put(waba+"|"+ref.Key(), resolved, c.o.Clock.Now())
	}
}
