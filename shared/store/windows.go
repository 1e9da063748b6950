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
)

// The webhook's window writes. A window item holds three registers, each only ever moved
// forward, and the expiry derived from them, so messages and 131047 closes applied in any
// order give the same item:
//
//	lastInboundMs  newest customer message (freeEntry and baseMs = its own expiry go with it)
//	closedMs       newest 131047 close
//	expiresAtMs    baseMs, capped at closedMs when the close is not older than the message
//
// The common case (a newer message, no close after it) is one conditional UpdateItem.

const (
	attrBaseMs   = "baseMs"
	attrClosedMs = "closedMs"
	// closeKeep keeps a close (and so the item) past Meta's 7-day retry horizon, so that a
	// late redelivery of an older message cannot reopen a window Meta said was closed.
	closeKeep = 8 * 24 * time.Hour
)

// windowState is a window item's registers.
type windowState struct {
	hasL, free, hasC bool
	l, base, c, e    int64
}

func readWindow(item map[string]types.AttributeValue) windowState {
	w := windowState{}
	if _, ok := item[attrLastInbound]; ok {
		w.hasL, w.l = true, getN(item, attrLastInbound)
		w.free = getBool(item, attrFreeEntry)
		w.base = getN(item, attrBaseMs)
		if _, ok := item[attrBaseMs]; !ok {
			// Written by ExtendWindow, which keeps no base: its expiry is the base.
			w.base = getN(item, attrExpiresMs)
		}
	}
	if _, ok := item[attrClosedMs]; ok {
		w.hasC, w.c = true, getN(item, attrClosedMs)
	}
	w.e = getN(item, attrExpiresMs)
	return w
}

// derive recomputes the expiry from the registers.
func (w *windowState) derive() {
	switch {
	case w.hasL:
		w.e = w.base
		if w.hasC && w.c >= w.l && w.c < w.e {
			w.e = w.c
		}
	case w.hasC:
		w.e = w.c
	}
}

// ttl is the item's expiry: the window's, or a week past a close that still matters (one not
// older than the last message). It depends only on the registers, like the expiry.
func (w windowState) ttl() time.Time {
	t := time.UnixMilli(w.e)
	if w.hasC && (!w.hasL || w.c >= w.l) {
		if k := time.UnixMilli(w.c).Add(closeKeep); k.After(t) {
			t = k
		}
	}
	return t
}

// OpenWindow records a customer message (w from customer.WindowFor) in the window of
// (phoneNumberID, c.Key()). A message older than the newest one applied changes nothing; on
// the same timestamp a free-entry referral wins. A 131047 close at or after the message caps
// the window at the close.
func (s *Store) OpenWindow(ctx context.Context, phoneNumberID string, c customer.Ref, w customer.Window) error {
	ck := c.Key()
	if ck == "" {
		return errors.New("open window: customer has neither user id nor phone")
	}
	k := windowKey(phoneNumberID, ck)
	l := w.LastInboundAt.UnixMilli()
	cond := "(attribute_not_exists(lastInboundMs) OR lastInboundMs < :l"
	vals := map[string]types.AttributeValue{
		":e": num(w.ExpiresAt.UnixMilli()), ":ttl": ttlValue(w.ExpiresAt),
		":f": &types.AttributeValueMemberBOOL{Value: w.FreeEntry}, ":l": num(l),
	}
	if w.FreeEntry {
		cond += " OR (lastInboundMs = :l AND freeEntry = :no)"
		vals[":no"] = &types.AttributeValueMemberBOOL{Value: false}
	}
	cond += ") AND (attribute_not_exists(closedMs) OR closedMs < :l)"
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 k.av(),
		UpdateExpression:                    aws.String("SET expiresAtMs = :e, baseMs = :e, expiresAt = :ttl, freeEntry = :f, lastInboundMs = :l"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeValues:           vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fmt.Errorf("open window: %w", err)
	}
	old := readWindow(ccf.Item)
	if old.hasL && (old.l > l || old.l == l && (old.free || !w.FreeEntry)) {
		return nil // an equal or newer message was applied
	}
	// A close at or after this message: the slow path recomputes the capped expiry.
	return s.mutateWindow(ctx, k, func(st *windowState) bool {
		if st.hasL && (st.l > l || st.l == l && (st.free || !w.FreeEntry)) {
			return false
		}
		st.hasL, st.l, st.free, st.base = true, l, w.FreeEntry, w.ExpiresAt.UnixMilli()
		return true
	})
}

// CloseWindowAt records a 131047 at `at` in the window of every key of c (creating the item
// when absent, so that a message older than the close arriving later cannot open it).
func (s *Store) CloseWindowAt(ctx context.Context, phoneNumberID string, c customer.Ref, at time.Time) error {
	ms := at.UnixMilli()
	for _, ck := range c.Keys() {
		err := s.mutateWindow(ctx, windowKey(phoneNumberID, ck), func(st *windowState) bool {
			if st.hasC && st.c >= ms {
				return false
			}
			st.hasC, st.c = true, ms
			return true
		})
		if err != nil {
			return fmt.Errorf("close window: %w", err)
		}
	}
	return nil
}

// mutateWindow is a read-modify-write of a window item conditional on the registers read.
func (s *Store) mutateWindow(ctx context.Context, k key, fn func(*windowState) bool) error {
	for attempt := 0; attempt < 8; attempt++ {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k.av(), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return err
		}
		st := readWindow(out.Item)
		prev := st
		if !fn(&st) {
			return nil
		}
		st.derive()
		set := "SET expiresAtMs = :e, expiresAt = :ttl"
		vals := map[string]types.AttributeValue{":e": num(st.e), ":ttl": ttlValue(st.ttl())}
		if st.hasL {
			set += ", lastInboundMs = :l, baseMs = :b, freeEntry = :f"
			vals[":l"], vals[":b"] = num(st.l), num(st.base)
			vals[":f"] = &types.AttributeValueMemberBOOL{Value: st.free}
		}
		if st.hasC {
			set += ", closedMs = :c"
			vals[":c"] = num(st.c)
		}
		cond := "attribute_not_exists(pk)"
		if out.Item != nil {
			cond = "attribute_exists(pk)"
			if prev.hasL {
				cond += " AND lastInboundMs = :pl"
				vals[":pl"] = num(prev.l)
			} else {
				cond += " AND attribute_not_exists(lastInboundMs)"
			}
			if prev.hasC {
				cond += " AND closedMs = :pc"
				vals[":pc"] = num(prev.c)
			} else {
				cond += " AND attribute_not_exists(closedMs)"
			}
		}
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: k.av(), UpdateExpression: aws.String(set),
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
		})
		if err == nil {
			return nil
		}
		if !IsConditionFailed(err) {
			return err
		}
	}
	return fmt.Errorf("window %s: %w", k.pk, ErrConflict)
}
