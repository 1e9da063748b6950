package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
)

// A conversation hold (outbound.Hold) is HOLD#<conversation> / #HOLD: the ordered ids of a
// conversation's deferred requests, a JSON document with a version, kept a day past its end
// so an abandoned one disappears.
const holdKeep = 24 * time.Hour

// GetHold returns the hold of a conversation; a zero Hold when none is in force.
func (s *Store) GetHold(ctx context.Context, conv string) (outbound.Hold, error) {
	var h outbound.Hold
	if _, err := s.getDoc(ctx, holdKey(conv), &h); err != nil && !errors.Is(err, persist.ErrNotFound) {
		return outbound.Hold{}, fmt.Errorf("get hold: %w", err)
	}
	return h, nil
}

// UpdateHold applies fn to the hold of a conversation (cur nil when there is none) with
// optimistic locking. A hold returned without members is deleted.
func (s *Store) UpdateHold(ctx context.Context, conv string, fn persist.Update[outbound.Hold]) error {
	k := holdKey(conv)
	for range 8 {
		var cur outbound.Hold
		version, err := s.getDoc(ctx, k, &cur)
		var in *outbound.Hold
		switch {
		case err == nil:
			in = &cur
		case errors.Is(err, persist.ErrNotFound):
			version = 0
		default:
			return fmt.Errorf("update hold: %w", err)
		}
		next, err := fn(in)
		if errors.Is(err, persist.ErrNoChange) || err == nil && next == nil {
			return nil
		}
		if err != nil {
			return err
		}
		if len(next.Members) == 0 {
			if version == 0 {
				return nil
			}
			_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: k.av(),
				ConditionExpression:       aws.String("version = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(version)}})
		} else {
			err = s.putDoc(ctx, k, next, version, next.Until.Add(holdKeep), nil)
		}
		if err == nil {
			return nil
		}
		if !IsConditionFailed(err) {
			return fmt.Errorf("update hold: %w", err)
		}
	}
	return fmt.Errorf("update hold: %w", persist.ErrConflict)
}
