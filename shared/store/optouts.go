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
	"github.com/aloro/wa-senders/shared/webhook"
)

// PutAliasAt records that BSUID c.UserID and phone c.Phone are the same customer of waba, both
// ways, unless a newer mapping was recorded (a BSUID changes when the user changes number, so
// a late redelivery must not bring back the old pairing).
func (s *Store) PutAliasAt(ctx context.Context, waba string, c customer.Ref, at time.Time) error {
	if c.UserID == "" || c.Phone == "" {
		return nil
	}
	for _, p := range []struct{ from, toAttr, to string }{
		{"tel:" + c.Phone, "userId", c.UserID},
		{"uid:" + c.UserID, "phone", c.Phone},
	} {
		item := aliasKey(waba, p.from).av()
		item[p.toAttr] = str(p.to)
		item["atMs"] = num(at.UnixMilli())
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table), Item: item,
			ConditionExpression:       aws.String("attribute_not_exists(atMs) OR atMs <= :at"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":at": num(at.UnixMilli())},
		})
		if err != nil && !IsConditionFailed(err) {
			return fmt.Errorf("put alias: %w", err)
		}
	}
	return nil
}

// optOutDoc is the stored opt-out: customer.OptOut (what readers decode) plus the time of each
// signal, so that stops and resumes apply in timestamp order whatever their arrival order.
type optOutDoc struct {
	customer.OptOut
	MarketingAt time.Time `json:"marketingAt,omitzero"`
	KeywordAt   time.Time `json:"keywordAt,omitzero"`
}

// registers returns the signal times, for documents written without them (UpdateOptOut).
func (d *optOutDoc) registers() (time.Time, time.Time) {
	m, k := d.MarketingAt, d.KeywordAt
	if m.IsZero() {
		m = d.At
	}
	if k.IsZero() {
		k = d.At
	}
	return m, k
}

// setRegister moves one signal: a later time wins, and on the same time a stop wins.
func setRegister(val *bool, at *time.Time, v bool, t time.Time) bool {
	if t.After(*at) || t.Equal(*at) && v && !*val {
		changed := *val != v || !t.Equal(*at)
		*val, *at = v, t
		return changed
	}
	return false
}

func (d *optOutDoc) merge(marketing *bool, mAt time.Time, keyword *bool, kAt time.Time, source string, at time.Time) bool {
	curM, curK := d.registers()
	changed := false
	if marketing != nil && setRegister(&d.Marketing, &curM, *marketing, mAt) {
		changed = true
	}
	if keyword != nil && setRegister(&d.Keyword, &curK, *keyword, kAt) {
		changed = true
	}
	if d.MarketingAt != curM || d.KeywordAt != curK {
		d.MarketingAt, d.KeywordAt, changed = curM, curK, true
	}
	// Source and At describe the latest event seen, ties broken by name: order-independent.
	if at.After(d.At) || at.Equal(d.At) && source > d.Source {
		d.At, d.Source, changed = at, source, true
	}
	return changed
}

func (s *Store) mergeOptOut(ctx context.Context, waba, ck string, fn func(*optOutDoc) bool) error {
	_, err := updateDoc(ctx, s, optOutKey(waba, ck), func(cur *optOutDoc, _ bool) (docOptions, error) {
		if !fn(cur) {
			return docOptions{}, ErrNoChange
		}
		return docOptions{}, nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("update opt-out: %w", err)
	}
	return nil
}

// ApplyOptOut merges one opt-out signal into the opt-out of every key of c: a stop sets the
// marketing opt-out (and the keyword one for a STOP keyword), a resume clears both. Each
// signal keeps the time of its latest change and older events change nothing.
func (s *Store) ApplyOptOut(ctx context.Context, waba string, c customer.Ref, ev webhook.OptOutEvent) error {
	if c.Key() == "" {
		return errors.New("apply opt-out: empty customer")
	}
	marketing := ev.Stop
	var keyword *bool
	switch {
	case ev.Stop && ev.Keyword:
		keyword = aws.Bool(true)
	case !ev.Stop:
		keyword = aws.Bool(false)
	}
	for _, ck := range c.Keys() {
		err := s.mergeOptOut(ctx, waba, ck, func(d *optOutDoc) bool {
			return d.merge(&marketing, ev.At, keyword, ev.At, ev.Source, ev.At)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// CopyOptOut merges the opt-outs stored under every key of from into every key of to (the
// customer changed number or BSUID: a stop must follow them).
func (s *Store) CopyOptOut(ctx context.Context, waba string, from, to customer.Ref) error {
	for _, fk := range from.Keys() {
		var src optOutDoc
		if _, err := s.getDoc(ctx, optOutKey(waba, fk), &src); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return fmt.Errorf("read opt-out: %w", err)
		}
		mAt, kAt := src.registers()
		m, k := src.Marketing, src.Keyword
		for _, tk := range to.Keys() {
			if tk == fk {
				continue
			}
			err := s.mergeOptOut(ctx, waba, tk, func(d *optOutDoc) bool {
				return d.merge(&m, mAt, &k, kAt, src.Source, src.At)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
