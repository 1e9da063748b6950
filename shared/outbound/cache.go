package outbound

import (
	"context"
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

// sender returns the sender with phone_number_id id, from the cache when fresh.
func (c *Consumer) sender(ctx context.Context, id string) (*sender.Sender, error) {
	now := c.o.Clock.Now()
	if s, ok := c.senders.Get("id:"+id, now); ok {
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
	if s, ok := c.senders.Get("tel:"+e164, now); ok {
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
	c.senders.Put("id:"+s.ID, &cp, now)
	if s.PhoneNumber != "" {
		c.senders.Put("tel:"+s.PhoneNumber, &cp, now)
	}
}

// cachedCustomer completes a recipient from the cached alias of the WABA; ok is false when the
// alias must be read (the state read then reads it too).
func (c *Consumer) cachedCustomer(waba string, ref customer.Ref) (customer.Ref, bool) {
	if ref.UserID != "" && ref.Phone != "" || ref.Key() == "" {
		return ref, true
	}
	if r, ok := c.aliases.Get(waba+"|"+ref.Key(), c.o.Clock.Now()); ok {
		return r, true
	}
	return ref, false
}

// cacheCustomer keeps the alias found for ref (a phone ↔ BSUID mapping does not change).
func (c *Consumer) cacheCustomer(waba string, ref, resolved customer.Ref) {
	if ref.Key() != "" {
		c.aliases.Put(waba+"|"+ref.Key(), resolved, c.o.Clock.Now())
	}
}
