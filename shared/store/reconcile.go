package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aloro/wa-senders/shared/persist"
)

// GetReconcileCursor returns the ListSenders cursor the last reconciler run stopped at, or ""
// to start from the beginning.
func (s *Store) GetReconcileCursor(ctx context.Context) (string, error) {
	item, err := s.getItem(ctx, reconcileCursorKey(), true)
	if errors.Is(err, persist.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get reconcile cursor: %w", err)
	}
	return getS(item, "cursor"), nil
}

// PutReconcileCursor records where the next reconciler run starts ("" = from the beginning).
func (s *Store) PutReconcileCursor(ctx context.Context, cursor string) error {
	item := reconcileCursorKey().av()
	item["cursor"] = str(cursor)
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("put reconcile cursor: %w", err)
	}
	return nil
}
