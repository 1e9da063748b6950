package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/persist"
)

// Pool numbers and purchase intents (numberpool.Store), in the persist vocabulary:
//
//	pool number      POOLNUM#<e164>          #POOL     GSI1 POOL / <e164>
//	purchase intent  POOLBUY#<requestId>     #INTENT   GSI1 POOLBUY#OPEN / <createdAt>#<id> while pending or bought

var _ numberpool.Store = (*Store)(nil)

const (
	gsiPool        = "POOL"
	gsiOpenIntents = "POOLBUY#OPEN"
)

func poolNumberKey(e164 string) key { return key{"POOLNUM#" + e164, "#POOL"} }
func intentKey(id string) key       { return key{"POOLBUY#" + id, "#INTENT"} }

// persistErr maps the store's errors to the persist vocabulary.
func persistErr(err error) error {
	switch {
	case errors.Is(err, persist.ErrNotFound):
		return fmt.Errorf("%w", persist.ErrNotFound)
	case errors.Is(err, persist.ErrConflict):
		return fmt.Errorf("%w", persist.ErrConflict)
	}
	return err
}

// updatePersist is a read-modify-write in persist.Update's shape, with optimistic locking.
func updatePersist[T any](ctx context.Context, s *Store, k key, fn persist.Update[T], index func(*T) map[string]types.AttributeValue) (*T, error) {
	for attempt := 0; attempt < 8; attempt++ {
		var cur *T
		var v T
		version, err := s.getDoc(ctx, k, &v)
		switch {
		case err == nil:
			cur = &v
		case errors.Is(err, persist.ErrNotFound):
			version = 0
		default:
			return nil, err
		}
		next, err := fn(cur)
		if errors.Is(err, persist.ErrNoChange) {
			if cur == nil {
				return nil, persist.ErrNotFound
			}
			return cur, nil
		}
		if err != nil {
			return nil, err
		}
		err = s.putDoc(ctx, k, next, version, time.Time{}, index(next))
		if err == nil {
			return next, nil
		}
		if !IsConditionFailed(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("update %s: %w", k.pk, persist.ErrConflict)
}

// GetIntent implements numberpool.Store.
func (s *Store) GetIntent(ctx context.Context, requestID string) (*numberpool.Intent, error) {
	var in numberpool.Intent
	if _, err := s.getDoc(ctx, intentKey(requestID), &in); err != nil {
		return nil, persistErr(err)
	}
	return &in, nil
}

// UpdateIntent implements numberpool.Store.
func (s *Store) UpdateIntent(ctx context.Context, requestID string, fn persist.Update[numberpool.Intent]) (*numberpool.Intent, error) {
	return updatePersist(ctx, s, intentKey(requestID), fn, func(in *numberpool.Intent) map[string]types.AttributeValue {
		if !in.Open() {
			return nil // closed intents leave the open-intents index
		}
		return map[string]types.AttributeValue{
			attrGSI1PK: str(gsiOpenIntents),
			attrGSI1SK: str(in.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z") + "#" + in.RequestID),
		}
	})
}

// OpenIntents implements numberpool.Store.
func (s *Store) OpenIntents(ctx context.Context) ([]numberpool.Intent, error) {
	var out []numberpool.Intent
	err := s.queryGSI1(ctx, gsiOpenIntents, func(raw []byte) error {
		var in numberpool.Intent
		if err := json.Unmarshal(raw, &in); err != nil {
			return err
		}
		if in.Open() {
			out = append(out, in)
		}
		return nil
	})
	return out, err
}

// GetNumber implements numberpool.Store.
func (s *Store) GetNumber(ctx context.Context, e164 string) (*numberpool.Number, error) {
	var n numberpool.Number
	if _, err := s.getDoc(ctx, poolNumberKey(e164), &n); err != nil {
		return nil, persistErr(err)
	}
	return &n, nil
}

// UpdateNumber implements numberpool.Store.
func (s *Store) UpdateNumber(ctx context.Context, e164 string, fn persist.Update[numberpool.Number]) (*numberpool.Number, error) {
	return updatePersist(ctx, s, poolNumberKey(e164), fn, func(n *numberpool.Number) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{attrGSI1PK: str(gsiPool), attrGSI1SK: str(n.E164)}
	})
}

// ListNumbers implements numberpool.Store.
func (s *Store) ListNumbers(ctx context.Context) ([]numberpool.Number, error) {
	var out []numberpool.Number
	err := s.queryGSI1(ctx, gsiPool, func(raw []byte) error {
		var n numberpool.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// queryGSI1 pages through one GSI1 partition, handing each item's document to each.
func (s *Store) queryGSI1(ctx context.Context, pk string, each func(doc []byte) error) error {
	var start map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(s.table), IndexName: aws.String(indexGSI1),
			KeyConditionExpression:    aws.String("gsi1pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(pk)},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return fmt.Errorf("query %s: %w", pk, err)
		}
		for _, item := range out.Items {
			if err := each([]byte(getS(item, attrDoc))); err != nil {
				return fmt.Errorf("decode %s item: %w", pk, err)
			}
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}
