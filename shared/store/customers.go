package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/customer"

	"github.com/aloro/wa-senders/shared/persist"
)

// Window attributes (see windows.go for how they are kept).
const (
	attrExpiresMs   = "expiresAtMs"
	attrFreeEntry   = "freeEntry"
	attrLastInbound = "lastInboundMs"
)

// CloseWindow ends the window of (phoneNumberID, customer) at `at`: Meta said 131047, so the
// window is closed whatever we computed. It is CloseWindowAt, for the outbound side's port.
func (s *Store) CloseWindow(ctx context.Context, phoneNumberID string, c customer.Ref, at time.Time) error {
	return s.CloseWindowAt(ctx, phoneNumberID, c, at)
}

// GetWindow returns the latest window of (phoneNumberID, customer) across every key the
// customer is known by (its BSUID and phone, resolved through the alias of waba), or
// persist.ErrNotFound. The caller checks Window.OpenAt: an expired window is still returned so the
// troubleshooting view can show when it closed.
func (s *Store) GetWindow(ctx context.Context, phoneNumberID, waba string, c customer.Ref) (customer.Window, error) {
	c, err := s.ResolveCustomer(ctx, waba, c)
	if err != nil {
		return customer.Window{}, err
	}
	var keys []key
	for _, ck := range c.Keys() {
		keys = append(keys, windowKey(phoneNumberID, ck))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return customer.Window{}, fmt.Errorf("get window: %w", err)
	}
	var best customer.Window
	found := false
	for _, item := range items {
		// Expired windows are still meaningful here (closed at), so no s.expired filter.
		w := windowFromItem(item)
		if !found || w.ExpiresAt.After(best.ExpiresAt) {
			best, found = w, true
		}
	}
	if !found {
		return customer.Window{}, persist.ErrNotFound
	}
	return best, nil
}

// ResolveCustomer fills in the side of c that is missing from the alias of waba (phone from
// BSUID or BSUID from phone). It returns c unchanged when no alias is known.
func (s *Store) ResolveCustomer(ctx context.Context, waba string, c customer.Ref) (customer.Ref, error) {
	if c.UserID != "" && c.Phone != "" || c.Key() == "" {
		return c, nil
	}
	item, err := s.getItem(ctx, aliasKey(waba, c.Key()), false)
	if errors.Is(err, persist.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("resolve alias: %w", err)
	}
	if c.UserID == "" {
		c.UserID = getS(item, "userId")
	} else {
		c.Phone = getS(item, "phone")
	}
	return c, nil
}

// GetOptOut returns the opt-out state of a customer towards waba (zero value when none).
func (s *Store) GetOptOut(ctx context.Context, waba string, c customer.Ref) (customer.OptOut, error) {
	c, err := s.ResolveCustomer(ctx, waba, c)
	if err != nil {
		return customer.OptOut{}, err
	}
	var out customer.OptOut
	for _, ck := range c.Keys() {
		var o customer.OptOut
		if _, err := s.getDoc(ctx, optOutKey(waba, ck), &o); err != nil {
			if errors.Is(err, persist.ErrNotFound) {
				continue
			}
			return customer.OptOut{}, fmt.Errorf("get opt-out: %w", err)
		}
		if o.At.After(out.At) {
			out = o
		}
	}
	return out, nil
}

// GetDeliverability returns the deliverability marks of a customer of waba (zero when none).
func (s *Store) GetDeliverability(ctx context.Context, waba string, c customer.Ref) (customer.Deliverability, error) {
	c, err := s.ResolveCustomer(ctx, waba, c)
	if err != nil {
		return customer.Deliverability{}, err
	}
	var out customer.Deliverability
	for _, ck := range c.Keys() {
		var d customer.Deliverability
		if _, err := s.getDoc(ctx, delivKey(waba, ck), &d); err != nil {
			if errors.Is(err, persist.ErrNotFound) {
				continue
			}
			return out, fmt.Errorf("get deliverability: %w", err)
		}
		if d.UndeliverableUntil.After(out.UndeliverableUntil) {
			out.UndeliverableUntil = d.UndeliverableUntil
			out.Reason = d.Reason
		}
		if d.MarketingCappedUntil.After(out.MarketingCappedUntil) {
			out.MarketingCappedUntil = d.MarketingCappedUntil
		}
	}
	return out, nil
}

// deliveryReportTTL keeps an item whose marks were all lifted as long as a 131026 mark would
// have lasted, then lets DynamoDB expire it.
const deliveryReportTTL = 72 * time.Hour

// MarkDeliverability merges marks into a customer's record (customer.Deliverability.Merge):
// later "until" times win, a delivery lifts the 131026 mark of its message. The item expires
// with its latest mark.
func (s *Store) MarkDeliverability(ctx context.Context, waba string, c customer.Ref, m customer.Deliverability) error {
	ck := c.Key()
	if ck == "" {
		return errors.New("mark deliverability: empty customer")
	}
	_, err := updateDoc(ctx, s, delivKey(waba, ck), func(cur *customer.Deliverability, found bool) (docOptions, error) {
		// A delivery report is written even when there is no mark to lift, so that a 131026
		// and the delivery of the same message end in the same item whatever their order.
		if !cur.Merge(m) && (found || m.DeliveredWAMID == "") {
			return docOptions{}, persist.ErrNoChange
		}
		ttl := cur.UndeliverableUntil
		if cur.MarketingCappedUntil.After(ttl) {
			ttl = cur.MarketingCappedUntil
		}
		if ttl.IsZero() {
			ttl = s.now().Add(deliveryReportTTL)
		}
		return docOptions{ttl: ttl}, nil
	})
	if err != nil && !errors.Is(err, persist.ErrNotFound) {
		return fmt.Errorf("mark deliverability: %w", err)
	}
	return nil
}

// batchGet reads up to 100 keys (consistent), retrying unprocessed keys.
func (s *Store) batchGet(ctx context.Context, keys []key) ([]map[string]types.AttributeValue, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	req := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		req[i] = k.av()
	}
	var items []map[string]types.AttributeValue
	pending := map[string]types.KeysAndAttributes{s.table: {Keys: req, ConsistentRead: aws.Bool(true)}}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
			}
		}
		if attempt > 6 {
			return nil, errors.New("batch get: unprocessed keys after retries")
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return nil, err
		}
		items = append(items, out.Responses[s.table]...)
		pending = out.UnprocessedKeys
	}
	return items, nil
}

// windowFromItem reads a window item (expired ones too: they say when the window closed).
func windowFromItem(item map[string]types.AttributeValue) customer.Window {
	return customer.Window{
		ExpiresAt:     time.UnixMilli(getN(item, attrExpiresMs)).UTC(),
		FreeEntry:     getBool(item, attrFreeEntry),
		LastInboundAt: time.UnixMilli(getN(item, attrLastInbound)).UTC(),
	}
}
