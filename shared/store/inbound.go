package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/webhook"
)

// Webhook bookkeeping: the dedupe record of inbound messages (folded into the window item),
// claims of template re-sends (claim → send → mark), and parked payloads.

// ClaimTTL is how long a claim or done record lives: longer than Meta's 7 days of retries.
const ClaimTTL = 8 * 24 * time.Hour

// ParkedTTL is how long a parked payload is kept for an operator to look at or re-post.
const ParkedTTL = 30 * 24 * time.Hour

const (
	claimClaimed = "claimed"
	claimDone    = "done"
	// parkPartBytes keeps each part of a parked payload well under DynamoDB's 400 KB item.
	parkPartBytes = 300 << 10
	// maxTransactItems is DynamoDB's limit on one TransactWriteItems.
	maxTransactItems = 100
)

// Forward marks: a message forwarded by a POST that then answered 500 (another change
// failed) is marked, so that Meta's retry of the POST does not forward it again. A message
// that opens a window keeps its mark in the window item (map attribute fwd: wamid → ms, and
// fwdKeep, the time until which the item must live), so that the message's one conditional
// write also reads it; any other message keeps it in its own INBOUND# item.
const (
	attrFwd     = "fwd"
	attrFwdKeep = "fwdKeep"
	attrFwdMs   = "fwdMs"
)

func hasMark(item map[string]types.AttributeValue, wamid string) bool {
	m, ok := item[attrFwd].(*types.AttributeValueMemberM)
	if !ok {
		return false
	}
	_, ok = m.Value[wamid]
	return ok
}

// windowed reports whether m's dedupe record lives in its window item.
func windowed(m webhook.InboundMessage) bool {
	return m.Window != nil && m.PhoneNumberID != "" && m.Customer.Key() != ""
}

// RecordInbound is the one call of a customer message on the common path: the conditional
// write of its window (when it opens one) that also reads its forward mark; a message that
// opens no window reads its INBOUND# record instead. forwarded is true when a mark says the
// message was forwarded before (a redelivery to drop).
func (s *Store) RecordInbound(ctx context.Context, m webhook.InboundMessage) (forwarded bool, err error) {
	if m.WAMID == "" {
		return false, errors.New("record inbound: empty wamid")
	}
	if windowed(m) {
		return s.openWindow(ctx, m.PhoneNumberID, m.Customer, *m.Window, m.WAMID)
	}
	item, err := s.getItem(ctx, claimKey(m.WAMID), true)
	switch {
	case errors.Is(err, persist.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read inbound record: %w", err)
	}
	_, marked := item[attrFwdMs]
	return marked || getS(item, "st") == claimDone, nil
}

// MarkForwarded leaves the forward mark of each message (see RecordInbound); the mark lives
// ClaimTTL, past Meta's 7 days of retries.
func (s *Store) MarkForwarded(ctx context.Context, msgs []webhook.InboundMessage) error {
	now := s.now()
	keep := now.Add(ClaimTTL)
	var errs []error
	for _, m := range msgs {
		if !windowed(m) {
			item := claimKey(m.WAMID).av()
			item[attrFwdMs] = num(now.UnixMilli())
			item[attrTTL] = ttlValue(keep)
			if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
				errs = append(errs, fmt.Errorf("mark forwarded: %w", err))
			}
			continue
		}
		if err := s.markWindow(ctx, windowKey(m.PhoneNumberID, m.Customer.Key()), m.WAMID, now, keep); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// markWindow adds wamid to the window item's marks: into the map when it exists, else as a new
// map (DynamoDB cannot set a key of a map that does not exist), whichever condition holds.
func (s *Store) markWindow(ctx context.Context, k key, wamid string, now, keep time.Time) error {
	vals := map[string]types.AttributeValue{":keep": ttlValue(keep)}
	for attempt := 0; attempt < 4; attempt++ {
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: k.av(), ExpressionAttributeValues: vals,
			ExpressionAttributeNames: map[string]string{"#w": wamid},
		}
		if attempt%2 == 0 {
			vals[":now"] = num(now.UnixMilli())
			delete(vals, ":m")
			in.UpdateExpression = aws.String("SET " + attrFwd + ".#w = :now, " + attrFwdKeep + " = :keep, expiresAt = :keep")
			in.ConditionExpression = aws.String("attribute_exists(" + attrFwd + ")")
		} else {
			vals[":m"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{wamid: num(now.UnixMilli())}}
			delete(vals, ":now")
			in.ExpressionAttributeNames = nil
			in.UpdateExpression = aws.String("SET " + attrFwd + " = :m, " + attrFwdKeep + " = :keep, expiresAt = :keep")
			in.ConditionExpression = aws.String("attribute_not_exists(" + attrFwd + ")")
		}
		_, err := s.db.UpdateItem(ctx, in)
		if err == nil {
			return nil
		}
		if !IsConditionFailed(err) {
			return fmt.Errorf("mark forwarded: %w", err)
		}
	}
	return fmt.Errorf("mark forwarded %s: %w", k.pk, persist.ErrConflict)
}

// Claim takes the dedupe record of id for owner for lease: one conditional write. It returns
// webhook.AlreadyDone when id was marked done, webhook.Held when another owner's lease is
// still running, webhook.Claimed otherwise (new, or an expired lease taken over).
func (s *Store) Claim(ctx context.Context, id, owner string, lease time.Duration) (webhook.ClaimState, error) {
	now := s.now()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              claimKey(id).av(),
		UpdateExpression: aws.String("SET st = :c, #o = :o, leaseMs = :lease, claimedMs = :now, expiresAt = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(pk) OR (st = :c AND leaseMs < :now) OR " +
			"(attribute_exists(expiresAt) AND expiresAt <= :nowSec)"),
		ExpressionAttributeNames: map[string]string{"#o": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": str(claimClaimed), ":o": str(owner), ":lease": num(now.Add(lease).UnixMilli()),
			":now": num(now.UnixMilli()), ":nowSec": num(now.Unix()), ":ttl": ttlValue(now.Add(ClaimTTL)),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return webhook.Claimed, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return 0, fmt.Errorf("claim %s: %w", id, err)
	}
	if getS(ccf.Item, "st") == claimDone {
		return webhook.AlreadyDone, nil
	}
	return webhook.Held, nil
}

// MarkDone marks claims done: one UpdateItem for one id, one TransactWriteItems per 100 ids
// otherwise (the webhook's IAM policy has no BatchWriteItem; a transaction of plain updates is
// the one-request way to write many items).
func (s *Store) MarkDone(ctx context.Context, ids []string) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	now := s.now()
	vals := map[string]types.AttributeValue{":d": str(claimDone), ":now": num(now.UnixMilli()), ":ttl": ttlValue(now.Add(ClaimTTL))}
	const expr = "SET st = :d, doneMs = :now, expiresAt = :ttl REMOVE #o, leaseMs"
	names := map[string]string{"#o": "owner"}
	if len(ids) == 1 {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: claimKey(ids[0]).av(), UpdateExpression: aws.String(expr),
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
		})
		if err != nil {
			return fmt.Errorf("mark done: %w", err)
		}
		return nil
	}
	for start := 0; start < len(ids); start += maxTransactItems {
		chunk := ids[start:min(start+maxTransactItems, len(ids))]
		items := make([]types.TransactWriteItem, len(chunk))
		for i, id := range chunk {
			items[i] = types.TransactWriteItem{Update: &types.Update{
				TableName: aws.String(s.table), Key: claimKey(id).av(), UpdateExpression: aws.String(expr),
				ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
			}}
		}
		if err := s.transactRetry(ctx, items); err != nil {
			return fmt.Errorf("mark done: %w", err)
		}
	}
	return nil
}

// transactRetry runs a transaction of unconditional writes, retrying when it is cancelled by
// a conflict with a concurrent write to one of its items.
func (s *Store) transactRetry(ctx context.Context, items []types.TransactWriteItem) error {
	var err error
	for attempt := 0; attempt < 6; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 15 * time.Millisecond):
			}
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		if !slices.Contains(transactReasons(err), "TransactionConflict") {
			var tip *types.TransactionInProgressException
			if !errors.As(err, &tip) {
				return err
			}
		}
	}
	return err
}

// Release deletes the claim of id if owner still holds it (its send failed), so that Meta's
// retry can claim it at once instead of waiting for the lease.
func (s *Store) Release(ctx context.Context, id, owner string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       claimKey(id).av(),
		ConditionExpression:       aws.String("#o = :o AND st = :c"),
		ExpressionAttributeNames:  map[string]string{"#o": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": str(owner), ":c": str(claimClaimed)},
	})
	if err != nil && !IsConditionFailed(err) {
		return fmt.Errorf("release claim: %w", err)
	}
	return nil
}

// ClaimStatus returns the state of id's dedupe record ("claimed", "done") or persist.ErrNotFound.
func (s *Store) ClaimStatus(ctx context.Context, id string) (string, error) {
	item, err := s.getItem(ctx, claimKey(id), true)
	if err != nil {
		return "", err
	}
	return getS(item, "st"), nil
}

// Park keeps a payload whole (gzip, in parts under the item size limit) under
// PARKED#<day of receipt>, keyed by a hash of its content so that Meta's redeliveries of the
// same payload on the same day park it once.
func (s *Store) Park(ctx context.Context, p webhook.Parked) error {
	sum := sha256.Sum256(append([]byte(p.Reason+"\x00"), p.Body...))
	id := hex.EncodeToString(sum[:8])
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(p.Body); err != nil {
		return fmt.Errorf("park: compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("park: compress: %w", err)
	}
	z := buf.Bytes()
	parts := (len(z) + parkPartBytes - 1) / parkPartBytes
	if parts == 0 {
		parts = 1
	}
	day := p.ReceivedAt.UTC().Format("2006-01-02")
	detail := p.Detail
	if len(detail) > 4096 {
		detail = detail[:4096]
	}
	for part := 0; part < parts; part++ {
		chunk := z[part*parkPartBytes : min((part+1)*parkPartBytes, len(z))]
		item := parkedKey(day, id, part).av()
		item["reason"] = str(orDash(p.Reason))
		item["detail"] = str(orDash(detail))
		item["waba"] = str(orDash(p.WABAID))
		item["field"] = str(orDash(p.Field))
		item["receivedAt"] = str(p.ReceivedAt.UTC().Format(time.RFC3339Nano))
		item["bytes"] = num(int64(len(p.Body)))
		item["parts"] = num(int64(parts))
		item["part"] = num(int64(part))
		item["body"] = &types.AttributeValueMemberB{Value: chunk}
		item[attrTTL] = ttlValue(s.now().Add(ParkedTTL))
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
			return fmt.Errorf("park: %w", err)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ParkedOn returns the payloads parked on day (UTC), reassembled, oldest key first.
func (s *Store) ParkedOn(ctx context.Context, day time.Time) ([]webhook.Parked, error) {
	pk := parkedPK(day.UTC().Format("2006-01-02"))
	type acc struct {
		p     webhook.Parked
		parts map[int64][]byte
		n     int64
	}
	byID := map[string]*acc{}
	var order []string
	var start map[string]types.AttributeValue
	in, err := s.query("", attrPK, pk, "", "")
	if err != nil {
		return nil, err
	}
	in.ConsistentRead = aws.Bool(true)
	for {
		in.ExclusiveStartKey = start
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list parked: %w", err)
		}
		for _, item := range out.Items {
			sk := getS(item, attrSK)
			id := sk[:len(sk)-len(strconv.FormatInt(getN(item, "part"), 10))-1]
			a := byID[id]
			if a == nil {
				at, _ := time.Parse(time.RFC3339Nano, getS(item, "receivedAt"))
				a = &acc{parts: map[int64][]byte{}, n: getN(item, "parts"), p: webhook.Parked{
					Reason: undash(getS(item, "reason")), Detail: undash(getS(item, "detail")),
					WABAID: undash(getS(item, "waba")), Field: undash(getS(item, "field")), ReceivedAt: at,
				}}
				byID[id] = a
				order = append(order, id)
			}
			if b, ok := item["body"].(*types.AttributeValueMemberB); ok {
				a.parts[getN(item, "part")] = b.Value
			}
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		start = out.LastEvaluatedKey
	}
	res := make([]webhook.Parked, 0, len(order))
	for _, id := range order {
		a := byID[id]
		var z []byte
		for i := int64(0); i < a.n; i++ {
			part, ok := a.parts[i]
			if !ok {
				return nil, fmt.Errorf("parked %s: part %d missing", id, i)
			}
			z = append(z, part...)
		}
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			return nil, fmt.Errorf("parked %s: %w", id, err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("parked %s: %w", id, err)
		}
		a.p.Body = body
		res = append(res, a.p)
	}
	return res, nil
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}
