package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/webhook"
)

// An outbound record item (MSG#<id>) holds two things written by two writers that never wait
// for each other:
//
//   - the record's JSON document (doc) with its version, written by the outbound consumer
//     (and the webhook's template fallback id) with optimistic locking, as an UpdateItem that
//     sets only the document's own attributes: doc, version, the due-index keys, and wamid
//     (the send's wamid, top-level so that a status's condition can read it);
//   - the delivery status Meta last reported (webhook.DeliveryStatus: stDoc, with its order
//     key stKey and wamid stWamid), written by the webhook in one conditional UpdateItem that
//     never reads the item and never bumps the version.
//
// Every reader merges the two (recordFromItem, webhook.MergeDelivery), so each sees the record
// the statuses and the consumer's writes make together, whatever their order.
const (
	attrWAMID   = "wamid"
	attrStKey   = "stKey"
	attrStWAMID = "stWamid"
	attrStDoc   = "stDoc"
	// attrStUndeliverable is the wamid of a 131026 once written (webhook.StatusWrite).
	attrStUndeliverable = "stUndeliverable"
)

// recordFromItem decodes a record item: its document with its delivery status merged.
func recordFromItem(item map[string]types.AttributeValue) (*outbound.Record, error) {
	var r outbound.Record
	if err := json.Unmarshal([]byte(getS(item, attrDoc)), &r); err != nil {
		return nil, fmt.Errorf("decode record %s: %w", getS(item, attrPK), err)
	}
	if raw := getS(item, attrStDoc); raw != "" {
		var d webhook.DeliveryStatus
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return nil, fmt.Errorf("decode delivery status of %s: %w", getS(item, attrPK), err)
		}
		webhook.MergeDelivery(&r, d)
	}
	return &r, nil
}

// GetRecord returns the outbound record of request id, or persist.ErrNotFound.
func (s *Store) GetRecord(ctx context.Context, id string) (*outbound.Record, error) {
	rec, _, err := s.getRecord(ctx, id)
	return rec, err
}

func (s *Store) getRecord(ctx context.Context, id string) (*outbound.Record, int64, error) {
	item, err := s.getItem(ctx, recordKey(id), true)
	if err != nil {
		return nil, 0, err
	}
	rec, err := recordFromItem(item)
	if err != nil {
		return nil, 0, err
	}
	return rec, getN(item, attrVersion), nil
}

// recordWrite is the write of rec's document if its stored version is still version (0: no
// record yet). It sets the document's attributes only, so the delivery status stays.
func (s *Store) recordWrite(rec *outbound.Record, version int64) (*types.Update, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode record %s: %w", rec.ID, err)
	}
	upd := expression.Set(expression.Name(attrDoc), expression.Value(string(raw))).
		Set(expression.Name(attrVersion), expression.Value(version+1))
	if rec.WAMID != "" {
		upd = upd.Set(expression.Name(attrWAMID), expression.Value(rec.WAMID))
	}
	// A deferred record is in the due index; any other write takes it out.
	if idx := recordIndex(rec); idx != nil {
		upd = upd.Set(expression.Name(attrGSI1PK), expression.Value(getS(idx, attrGSI1PK))).
			Set(expression.Name(attrGSI1SK), expression.Value(getS(idx, attrGSI1SK)))
	} else {
		upd = upd.Remove(expression.Name(attrGSI1PK)).Remove(expression.Name(attrGSI1SK))
	}
	cond := expression.AttributeNotExists(expression.Name(attrPK))
	if version != 0 {
		cond = expression.Name(attrVersion).Equal(expression.Value(version))
	}
	x, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build record write %s: %w", rec.ID, err)
	}
	return &types.Update{
		TableName: aws.String(s.table), Key: recordKey(rec.ID).av(),
		UpdateExpression: x.Update(), ConditionExpression: x.Condition(),
		ExpressionAttributeNames: x.Names(), ExpressionAttributeValues: x.Values(),
	}, nil
}

// putRecord writes rec's document if its stored version is still version; a failed condition
// is returned as is (IsConditionFailed).
func (s *Store) putRecord(ctx context.Context, rec *outbound.Record, version int64) error {
	u, err := s.recordWrite(rec, version)
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
		ExpressionAttributeValues: u.ExpressionAttributeValues,
	})
	return err
}

// updateRecord is the read-modify-write of a record with optimistic locking: fn gets the
// record as every reader sees it (nil when absent; with mayCreate false an absent record is
// persist.ErrNotFound and fn is not called) and returns the new one, or persist.ErrNoChange
// (the store then returns the current record, nil when absent, and no error). A delivery
// status written meanwhile does not change the version, so it never makes this retry.
func (s *Store) updateRecord(ctx context.Context, id string, mayCreate bool, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	for attempt := 0; attempt < 8; attempt++ {
		cur, version, err := s.getRecord(ctx, id)
		switch {
		case errors.Is(err, persist.ErrNotFound):
			if !mayCreate {
				return nil, err
			}
			cur, version = nil, 0
		case err != nil:
			return nil, err
		}
		var in *outbound.Record
		if cur != nil {
			cp := *cur
			in = &cp
		}
		next, err := fn(in)
		if err == nil && next == nil {
			err = persist.ErrNoChange
		}
		if errors.Is(err, persist.ErrNoChange) {
			return cur, nil
		}
		if err != nil {
			return nil, err
		}
		next.ID = id
		err = s.putRecord(ctx, next, version)
		if err == nil {
			return next, nil
		}
		if !IsConditionFailed(err) {
			return nil, err
		}
	}
	return nil, persist.ErrConflict
}

// UpdateRecord applies fn to the record of request id (cur is nil when it does not exist yet:
// fn then returns a new one) with optimistic locking. fn returns persist.ErrNoChange (or nil) to
// skip the write. UpdateKnownRecord is the same without creating.
func (s *Store) UpdateRecord(ctx context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	r, err := s.updateRecord(ctx, id, true, fn)
	if err != nil {
		return nil, fmt.Errorf("update record %s: %w", id, err)
	}
	return r, nil
}

// UpdateKnownRecord applies fn to the existing record of request id with optimistic locking;
// it never creates one (persist.ErrNotFound when absent).
func (s *Store) UpdateKnownRecord(ctx context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	r, err := s.updateRecord(ctx, id, false, fn)
	if err != nil {
		return nil, fmt.Errorf("update record %s: %w", id, err)
	}
	return r, nil
}

// statusWrite is ApplyDeliveryStatus's one call. Built by hand as the webhook's other hot writes
// are (README, "Hand-built expressions"; BenchmarkStatusWrite*): it sets the status's own
// attributes, binds the record to the status's wamid when the send has not recorded one yet,
// and answers with the item as it stood, whether or not the condition held.
func statusWrite(table, id string, d webhook.DeliveryStatus, raw []byte) *dynamodb.UpdateItemInput {
	set := "SET " + attrWAMID + " = :w, " + attrStKey + " = :k, " + attrStWAMID + " = :w, " + attrStDoc + " = :d"
	if d.MarksUndeliverable {
		set += ", " + attrStUndeliverable + " = :w"
	}
	return &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: recordKey(id).av(),
		UpdateExpression: aws.String(set),
		ConditionExpression: aws.String("attribute_exists(" + attrPK + ")" +
			" AND (attribute_not_exists(" + attrWAMID + ") OR " + attrWAMID + " = :w)" +
			" AND (attribute_not_exists(" + attrStKey + ") OR " + attrStKey + " < :k OR " + attrStWAMID + " <> :w)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":w": str(d.WAMID), ":k": str(d.Key), ":d": str(string(raw)),
		},
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// ApplyDeliveryStatus writes d onto the record of request id in one conditional UpdateItem
// (webhook.Records): no read, no version. A failed condition is no change and still returns the
// record; only a missing item is persist.ErrNotFound.
func (s *Store) ApplyDeliveryStatus(ctx context.Context, id string, d webhook.DeliveryStatus) (webhook.StatusWrite, error) {
	if d.WAMID == "" || d.Key == "" {
		return webhook.StatusWrite{}, fmt.Errorf("apply delivery status to %s: no wamid or status", id)
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return webhook.StatusWrite{}, fmt.Errorf("encode delivery status: %w", err)
	}
	out, err := s.db.UpdateItem(ctx, statusWrite(s.table, id, d, raw))
	applied := err == nil
	var old map[string]types.AttributeValue
	var ccf *types.ConditionalCheckFailedException
	switch {
	case applied:
		old = out.Attributes
	case errors.As(err, &ccf):
		old = ccf.Item
	default:
		return webhook.StatusWrite{}, fmt.Errorf("apply delivery status to %s: %w", id, err)
	}
	if len(old) == 0 {
		return webhook.StatusWrite{}, persist.ErrNotFound
	}
	rec, err := recordFromItem(old)
	if err != nil {
		return webhook.StatusWrite{}, err
	}
	return webhook.StatusWrite{Prev: rec, Applied: applied, WAMID: getS(old, attrWAMID),
		Undeliverable: getS(old, attrStUndeliverable) == d.WAMID}, nil
}

// PutWAMID records that Meta's message id wamid belongs to request id, for status webhooks.
func (s *Store) PutWAMID(ctx context.Context, wamid, requestID string) error {
	item := wamidKey(wamid).av()
	item["requestId"] = str(requestID)
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("put wamid lookup: %w", err)
	}
	return nil
}

// RequestIDForWAMID returns the request id a wamid belongs to, or persist.ErrNotFound.
func (s *Store) RequestIDForWAMID(ctx context.Context, wamid string) (string, error) {
	item, err := s.getItem(ctx, wamidKey(wamid), true)
	if err != nil {
		if errors.Is(err, persist.ErrNotFound) {
			return "", err
		}
		return "", fmt.Errorf("get wamid lookup: %w", err)
	}
	return getS(item, "requestId"), nil
}

// OrphanStatusTTL is how long a status for an unknown message id is kept for correlation.
const OrphanStatusTTL = 30 * 24 * time.Hour
