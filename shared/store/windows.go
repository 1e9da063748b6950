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

// The webhook's window writes. A window item holds three registers, each only ever moved
// forward, and the expiry derived from them, so messages and 131047 closes applied in any
// order give the same item:
//
//	lastInboundMs  newest customer message; baseMs its expiry (24 h, or 72 h from a referral)
//	freeMs         newest customer message from a free entry point; freeBaseMs its expiry
//	closedMs       newest 131047 close
//	expiresAtMs    the later of the two expiries, each capped at closedMs when the close is
//	               not older than its message: a plain message inside a 72 h free-entry window
//	               does not shorten it, and a close ends everything sent before it
//
// The common case (a newer message, no close after it) is one conditional UpdateItem.

const (
	attrBaseMs     = "baseMs"
	attrFreeMs     = "freeMs"
	attrFreeBaseMs = "freeBaseMs"
	attrClosedMs   = "closedMs"
	// closeKeep keeps a close (and so the item) past Meta's 7-day retry horizon, so that a
	// late redelivery of an older message cannot reopen a window Meta said was closed.
	closeKeep = 8 * 24 * time.Hour
)

// windowState is a window item's registers.
type windowState struct {
	hasL, hasF, hasC bool
	l, base          int64 // newest message and its expiry
	lf, fbase        int64 // newest free-entry message and its expiry
	c                int64 // newest close
	e                int64 // derived expiry
	free             bool  // derived: the expiry comes from a free-entry message
}

func readWindow(item map[string]types.AttributeValue) windowState {
	w := windowState{}
	if _, ok := item[attrLastInbound]; ok {
		w.hasL, w.l = true, getN(item, attrLastInbound)
		w.base = getN(item, attrBaseMs)
	}
	if _, ok := item[attrFreeMs]; ok {
		w.hasF, w.lf, w.fbase = true, getN(item, attrFreeMs), getN(item, attrFreeBaseMs)
	}
	if _, ok := item[attrClosedMs]; ok {
		w.hasC, w.c = true, getN(item, attrClosedMs)
	}
	w.e = getN(item, attrExpiresMs)
	w.free = getBool(item, attrFreeEntry)
	return w
}

// derive recomputes the expiry from the registers.
func (w *windowState) derive() {
	capped := func(at, exp int64) int64 {
		if w.hasC && w.c >= at && w.c < exp {
			return w.c
		}
		return exp
	}
	w.free = false
	switch {
	case w.hasL:
		w.e = capped(w.l, w.base)
		if w.hasF {
			if fe := capped(w.lf, w.fbase); fe >= w.e {
				w.e, w.free = fe, true
			}
		}
	case w.hasC:
		w.e = w.c
	}
}

// addMessage merges a customer message at l giving expiry e into the registers and reports
// whether anything changed.
func (w *windowState) addMessage(l, e int64, free bool) bool {
	changed := false
	if !w.hasL || l > w.l || l == w.l && e > w.base {
		w.hasL, w.l, w.base, changed = true, l, e, true
	}
	if free && (!w.hasF || l > w.lf || l == w.lf && e > w.fbase) {
		w.hasF, w.lf, w.fbase, changed = true, l, e, true
	}
	return changed
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
// (phoneNumberID, c.Key()). The window ends at the latest expiry any message gave, so neither
// an older message nor a newer plain one inside a 72 h free-entry window shortens it. A 131047
// close at or after the newest message caps the window at the close.
func (s *Store) OpenWindow(ctx context.Context, phoneNumberID string, c customer.Ref, w customer.Window) error {
	ck := c.Key()
	if ck == "" {
		return errors.New("open window: customer has neither user id nor phone")
	}
	k := windowKey(phoneNumberID, ck)
	l := w.LastInboundAt.UnixMilli()
	e := w.ExpiresAt.UnixMilli()
	// Fast path, one conditional write: the newest message, no close after it, and an expiry
	// no earlier than the window's: then it alone decides the expiry.
	cond := "(attribute_not_exists(lastInboundMs) OR lastInboundMs < :l)" +
		" AND (attribute_not_exists(closedMs) OR closedMs < :l)" +
		" AND (attribute_not_exists(expiresAtMs) OR expiresAtMs <= :e)"
	set := "SET expiresAtMs = :e, baseMs = :e, expiresAt = :ttl, freeEntry = :f, lastInboundMs = :l"
	if w.FreeEntry {
		set += ", freeMs = :l, freeBaseMs = :e"
	}
	vals := map[string]types.AttributeValue{
		":e": num(e), ":ttl": ttlValue(w.ExpiresAt),
		":f": &types.AttributeValueMemberBOOL{Value: w.FreeEntry}, ":l": num(l),
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 k.av(),
		UpdateExpression:                    aws.String(set),
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
	if old := readWindow(ccf.Item); !old.addMessage(l, e, w.FreeEntry) {
		return nil // a message at least as new, with an expiry at least as late, was applied
	}
	// Otherwise the slow path merges the registers (and recomputes a capped expiry).
	return s.mutateWindow(ctx, k, func(st *windowState) bool { return st.addMessage(l, e, w.FreeEntry) })
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
		if st.hasF {
			set += ", freeMs = :lf, freeBaseMs = :fb"
			vals[":lf"], vals[":fb"] = num(st.lf), num(st.fbase)
		}
		if st.hasC {
			set += ", closedMs = :c"
			vals[":c"] = num(st.c)
		}
		cond := "attribute_not_exists(pk)"
		if out.Item != nil {
			cond = "attribute_exists(pk)"
			if prev.hasL {
				cond += " AND lastInboundMs = :pl AND baseMs = :pb"
				vals[":pl"], vals[":pb"] = num(prev.l), num(prev.base)
			} else {
				cond += " AND attribute_not_exists(lastInboundMs)"
			}
			if prev.hasF {
				cond += " AND freeMs = :pf AND freeBaseMs = :pfb"
				vals[":pf"], vals[":pfb"] = num(prev.lf), num(prev.fbase)
			} else {
				cond += " AND attribute_not_exists(freeMs)"
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
	return fmt.Errorf("window %s: %w", k.pk, persist.ErrConflict)
}
