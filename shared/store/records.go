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

// GetRecord returns the outbound record of request id, or ErrNotFound.
func (s *Store) GetRecord(ctx context.Context, id string) (*outbound.Record, error) {
	var r outbound.Record
	if _, err := s.getDoc(ctx, recordKey(id), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateRecord applies fn to the record of request id (cur is nil when it does not exist yet:
// fn then returns a new one) with optimistic locking. fn returns persist.ErrNoChange to skip
// the write.
func (s *Store) UpdateRecord(ctx context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	r, err := updateDoc(ctx, s, recordKey(id), func(cur *outbound.Record, found bool) (docOptions, error) {
		var in *outbound.Record
		if found {
			c := *cur
			in = &c
		}
		next, err := fn(in)
		if err != nil {
			return docOptions{}, err
		}
		if next == nil {
			return docOptions{}, ErrNoChange
		}
		*cur = *next
		cur.ID = id
		// A deferred record carries the due-index keys (outbound.go); any other write drops them.
		return docOptions{extra: recordIndex(cur)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("update record %s: %w", id, err)
	}
	return r, nil
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

// RequestIDForWAMID returns the request id a wamid belongs to, or ErrNotFound.
func (s *Store) RequestIDForWAMID(ctx context.Context, wamid string) (string, error) {
	item, err := s.getItem(ctx, wamidKey(wamid), true)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", err
		}
		return "", fmt.Errorf("get wamid lookup: %w", err)
	}
	return getS(item, "requestId"), nil
}

// OrphanStatusTTL is how long a status for an unknown message id is kept for correlation.
const OrphanStatusTTL = 30 * 24 * time.Hour
