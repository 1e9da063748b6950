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

// The webhook's window writes. A window item holds the registers of customer.WindowRegisters
// as plain attributes (lastInboundMs, baseMs, freeMs, freeBaseMs, closedMs) and the expiry
// derived from them (expiresAtMs, freeEntry); the rules live in customer, this file only maps
// and persists them. The common case (a newer message, no close after it) is one conditional
// UpdateItem.

const (
	attrBaseMs     = "baseMs"
	attrFreeMs     = "freeMs"
	attrFreeBaseMs = "freeBaseMs"
	attrClosedMs   = "closedMs"
)

func readWindow(item map[string]types.AttributeValue) customer.WindowRegisters {
	w := customer.WindowRegisters{}
	if _, ok := item[attrLastInbound]; ok {
		w.HasLast, w.Last = true, getN(item, attrLastInbound)
		w.Base = getN(item, attrBaseMs)
	}
	if _, ok := item[attrFreeMs]; ok {
		w.HasFree, w.Free, w.FreeBase = true, getN(item, attrFreeMs), getN(item, attrFreeBaseMs)
	}
	if _, ok := item[attrClosedMs]; ok {
		w.HasClose, w.Close = true, getN(item, attrClosedMs)
	}
	w.Expires = getN(item, attrExpiresMs)
	w.FreeEntry = getBool(item, attrFreeEntry)
	return w
}

// OpenWindow records a customer message (w from customer.WindowFor) in the window of
// (phoneNumberID, c.Key()). The window ends at the latest expiry any message gave, so neither
// an older message nor a newer plain one inside a 72 h free-entry window shortens it. A 131047
// close at or after the newest message caps the window at the close.
func (s *Store) OpenWindow(ctx context.Context, phoneNumberID string, c customer.Ref, w customer.Window) error {
	_, err := s.openWindow(ctx, phoneNumberID, c, w, "")
	return err
}

// openWindow is OpenWindow that, for a non-empty wamid, also reports (in the same conditional
// write) whether MarkForwarded left a mark for wamid on the window item.
func (s *Store) openWindow(ctx context.Context, phoneNumberID string, c customer.Ref, w customer.Window, wamid string) (forwarded bool, err error) {
	ck := c.Key()
	if ck == "" {
		return false, errors.New("open window: customer has neither user id nor phone")
	}
	k := windowKey(phoneNumberID, ck)
	l := w.LastInboundAt.UnixMilli()
	e := w.ExpiresAt.UnixMilli()
	// Fast path, one conditional write: the newest message, no close after it, an expiry no
	// earlier than the window's (then it alone decides the expiry), no forward mark that keeps
	// the item longer than this expiry, and no mark for this very message.
	cond := "(attribute_not_exists(lastInboundMs) OR lastInboundMs < :l)" +
		" AND (attribute_not_exists(closedMs) OR closedMs < :l)" +
		" AND (attribute_not_exists(expiresAtMs) OR expiresAtMs <= :e)" +
		" AND (attribute_not_exists(" + attrFwdKeep + ") OR " + attrFwdKeep + " <= :ttl)"
	set := "SET expiresAtMs = :e, baseMs = :e, expiresAt = :ttl, freeEntry = :f, lastInboundMs = :l"
	if w.FreeEntry {
		set += ", freeMs = :l, freeBaseMs = :e"
	}
	vals := map[string]types.AttributeValue{
		":e": num(e), ":ttl": ttlValue(w.ExpiresAt),
		":f": &types.AttributeValueMemberBOOL{Value: w.FreeEntry}, ":l": num(l),
	}
	var names map[string]string
	if wamid != "" {
		// A map key may hold dots (wamids do): only a name placeholder addresses it whole.
		cond += " AND attribute_not_exists(" + attrFwd + ".#w)"
		names = map[string]string{"#w": wamid}
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 k.av(),
		UpdateExpression:                    aws.String(set),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return false, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return false, fmt.Errorf("open window: %w", err)
	}
	if wamid != "" && hasMark(ccf.Item, wamid) {
		return true, nil
	}
	if old := readWindow(ccf.Item); !old.AddMessage(l, e, w.FreeEntry) {
		return false, nil // a message at least as new, with an expiry at least as late, was applied
	}
	// Otherwise the slow path merges the registers (and recomputes a capped expiry), starting
	// from the item the failed write returned.
	return false, s.mutateWindow(ctx, k, ccf.Item, func(st *customer.WindowRegisters) bool { return st.AddMessage(l, e, w.FreeEntry) })
}

// CloseWindowAt records a 131047 at `at` in the window of every key of c (creating the item
// when absent, so that a message older than the close arriving later cannot open it).
func (s *Store) CloseWindowAt(ctx context.Context, phoneNumberID string, c customer.Ref, at time.Time) error {
	ms := at.UnixMilli()
	for _, ck := range c.Keys() {
		err := s.mutateWindow(ctx, windowKey(phoneNumberID, ck), nil, func(st *customer.WindowRegisters) bool { return st.CloseAt(ms) })
		if err != nil {
			return fmt.Errorf("close window: %w", err)
		}
	}
	return nil
}

// mutateWindow is a read-modify-write of a window item conditional on the registers read (and
// on its forward marks' keep time, which the item's TTL must not undercut). first, when not
// nil, is the item as just read, used instead of a first GetItem.
func (s *Store) mutateWindow(ctx context.Context, k key, first map[string]types.AttributeValue, fn func(*customer.WindowRegisters) bool) error {
	for attempt := 0; attempt < 8; attempt++ {
		item := first
		first = nil
		if item == nil {
			out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k.av(), ConsistentRead: aws.Bool(true)})
			if err != nil {
				return err
			}
			item = out.Item
		}
		st := readWindow(item)
		prev := st
		if !fn(&st) {
			return nil
		}
		st.Derive()
		ttl := st.KeepUntil()
		_, hasKeep := item[attrFwdKeep]
		keep := getN(item, attrFwdKeep)
		if hasKeep && time.Unix(keep, 0).After(ttl) {
			ttl = time.Unix(keep, 0)
		}
		set := "SET expiresAtMs = :e, expiresAt = :ttl"
		vals := map[string]types.AttributeValue{":e": num(st.Expires), ":ttl": ttlValue(ttl)}
		if st.HasLast {
			set += ", lastInboundMs = :l, baseMs = :b, freeEntry = :f"
			vals[":l"], vals[":b"] = num(st.Last), num(st.Base)
			vals[":f"] = &types.AttributeValueMemberBOOL{Value: st.FreeEntry}
		}
		if st.HasFree {
			set += ", freeMs = :lf, freeBaseMs = :fb"
			vals[":lf"], vals[":fb"] = num(st.Free), num(st.FreeBase)
		}
		if st.HasClose {
			set += ", closedMs = :c"
			vals[":c"] = num(st.Close)
		}
		cond := "attribute_not_exists(pk)"
		if item != nil {
			cond = "attribute_exists(pk)"
			if hasKeep {
				cond += " AND " + attrFwdKeep + " = :pk"
				vals[":pk"] = num(keep)
			} else {
				cond += " AND attribute_not_exists(" + attrFwdKeep + ")"
			}
			if prev.HasLast {
				cond += " AND lastInboundMs = :pl AND baseMs = :pb"
				vals[":pl"], vals[":pb"] = num(prev.Last), num(prev.Base)
			} else {
				cond += " AND attribute_not_exists(lastInboundMs)"
			}
			if prev.HasFree {
				cond += " AND freeMs = :pf AND freeBaseMs = :pfb"
				vals[":pf"], vals[":pfb"] = num(prev.Free), num(prev.FreeBase)
			} else {
				cond += " AND attribute_not_exists(freeMs)"
			}
			if prev.HasClose {
				cond += " AND closedMs = :pc"
				vals[":pc"] = num(prev.Close)
			} else {
				cond += " AND attribute_not_exists(closedMs)"
			}
		}
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
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
