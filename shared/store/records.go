package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
)

// GetRecord returns the outbound record of request id, or persist.ErrNotFound.
func (s *Store) GetRecord(ctx context.Context, id string) (*outbound.Record, error) {
	var r outbound.Record
	if _, err := s.getDoc(ctx, recordKey(id), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateRecord applies fn to the record of request id (cur is nil when it does not exist yet:
// fn then returns a new one) with optimistic locking. fn returns persist.ErrNoChange (or nil) to
// skip the write. UpdateKnownRecord (webhook.go) is the same without creating.
func (s *Store) UpdateRecord(ctx context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	r, err := update(ctx, s, recordKey(id), true, func(cur *outbound.Record) (*outbound.Record, error) {
		next, err := fn(cur)
		if err == nil && next == nil {
			return nil, persist.ErrNoChange
		}
		return next, err
	}, recordDerive(id))
	if err != nil {
		return nil, fmt.Errorf("update record %s: %w", id, err)
	}
	return r, nil
}

// recordDerive keeps a record's id and, for a deferred record, its due-index keys (outbound.go);
// any other write drops them.
func recordDerive(id string) func(*outbound.Record) docOptions {
	return func(cur *outbound.Record) docOptions {
		cur.ID = id
		return docOptions{extra: recordIndex(cur)}
	}
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
