package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/webhook"

	"github.com/aloro/wa-senders/shared/persist"
)

// PutAliasAt records that BSUID c.UserID and phone c.Phone are the same customer of waba, both
// ways, unless a newer mapping was recorded (a BSUID changes when the user changes number, so
// a late redelivery must not bring back the old pairing).
func (s *Store) PutAliasAt(ctx context.Context, waba string, c customer.Ref, at time.Time) error {
	if c.UserID == "" || c.Phone == "" {
		return nil
	}
	pairs := []struct{ from, toAttr, to string }{
		{"tel:" + c.Phone, "userId", c.UserID},
		{"uid:" + c.UserID, "phone", c.Phone},
	}
	errs := make([]error, len(pairs))
	var wg sync.WaitGroup
	for i, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			item := aliasKey(waba, p.from).av()
			item[p.toAttr] = str(p.to)
			item["atMs"] = num(at.UnixMilli())
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(s.table), Item: item,
				ConditionExpression:       aws.String("attribute_not_exists(atMs) OR atMs <= :at"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":at": num(at.UnixMilli())},
			})
			if err != nil && !IsConditionFailed(err) {
				errs[i] = fmt.Errorf("put alias: %w", err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Store) mergeOptOut(ctx context.Context, waba, ck string, fn func(*customer.OptOutRecord) bool) error {
	_, err := updateDoc(ctx, s, optOutKey(waba, ck), func(cur *customer.OptOutRecord, _ bool) (docOptions, error) {
		if !fn(cur) {
			return docOptions{}, persist.ErrNoChange
		}
		return docOptions{}, nil
	})
	if err != nil && !errors.Is(err, persist.ErrNotFound) {
		return fmt.Errorf("update opt-out: %w", err)
	}
	return nil
}

// maxLinkDepth bounds how far renames are followed (a customer renamed more often than this
// within a WABA is not plausible; the bound only protects against cycles of bad data).
const maxLinkDepth = 8

// propagate merges fn into the opt-out of every key in start, then of every key they were
// renamed to, level by level. Each level is written before its links are read, and CopyOptOut
// writes a link before reading the opt-out it copies: whichever of two concurrent calls comes
// second sees the other's write, so a stop racing a rename still reaches the new identity.
func (s *Store) propagate(ctx context.Context, waba string, start []string, fn func(*customer.OptOutRecord) bool) error {
	seen := map[string]bool{}
	level := start
	for depth := 0; len(level) > 0 && depth <= maxLinkDepth; depth++ {
		var fresh []string
		for _, k := range level {
			if seen[k] {
				continue
			}
			seen[k] = true
			fresh = append(fresh, k)
			if err := s.mergeOptOut(ctx, waba, k, fn); err != nil {
				return err
			}
		}
		var next []string
		for _, k := range fresh {
			in, err := s.query("", attrPK, optLinkPK(waba, k), "", "")
			if err != nil {
				return err
			}
			in.ConsistentRead = aws.Bool(true)
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return fmt.Errorf("follow opt-out links: %w", err)
			}
			for _, it := range out.Items {
				next = append(next, getS(it, attrSK))
			}
		}
		slices.Sort(next)
		level = slices.Compact(next)
	}
	return nil
}

// ApplyOptOut merges one opt-out signal into the opt-out of every key of c and of every key
// they were renamed to: a stop sets the marketing opt-out (and the keyword one for a STOP
// keyword), a resume clears both. Each signal keeps the time of its latest change and older
// events change nothing, so the result does not depend on arrival order.
func (s *Store) ApplyOptOut(ctx context.Context, waba string, c customer.Ref, ev webhook.OptOutEvent) error {
	if c.Key() == "" {
		return errors.New("apply opt-out: empty customer")
	}
	return s.propagate(ctx, waba, c.Keys(), func(d *customer.OptOutRecord) bool {
		return d.MergeSignal(ev.Stop, ev.Keyword, ev.Source, ev.At)
	})
}

// CopyOptOut links every key of from to every key of to, so that opt-outs of the old identity
// (past ones, merged now, and later ones, followed by ApplyOptOut) apply to the new one: the
// customer changed number or BSUID, and a stop must follow them whatever the order in which
// Meta's webhooks arrive.
func (s *Store) CopyOptOut(ctx context.Context, waba string, from, to customer.Ref) error {
	for _, fk := range from.Keys() {
		var targets []string
		for _, tk := range to.Keys() {
			if tk == fk {
				continue
			}
			targets = append(targets, tk)
			// The link first, then the read of what it copies (see propagate).
			if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: optLinkKey(waba, fk, tk).av()}); err != nil {
				return fmt.Errorf("link opt-outs: %w", err)
			}
		}
		var src customer.OptOutRecord
		if _, err := s.getDoc(ctx, optOutKey(waba, fk), &src); err != nil {
			if errors.Is(err, persist.ErrNotFound) {
				continue
			}
			return fmt.Errorf("read opt-out: %w", err)
		}
		err := s.propagate(ctx, waba, targets, func(d *customer.OptOutRecord) bool { return d.MergeFrom(src) })
		if err != nil {
			return err
		}
	}
	return nil
}
