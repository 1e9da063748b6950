package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/persist"
)

// Sealed secrets and node bindings (credentials.Store):
//
//	sealed secret   SECRET#<token|pin|pending>#<id>   #SECRET   doc = credentials.Sealed (wrapped key + ciphertext)
//	node binding    CREDBIND#<waba or phone id>       #BIND     business = <business id>
func secretKey(kind, id string) key { return key{"SECRET#" + kind + "#" + id, "#SECRET"} }
func bindingKey(node string) key    { return key{"CREDBIND#" + node, "#BIND"} }

var _ credentials.Store = (*Store)(nil)

// notFound maps the store's not-found to the shared vocabulary.
func notFound(err error) error {
	if errors.Is(err, persist.ErrNotFound) {
		return persist.ErrNotFound
	}
	return err
}

// GetSecret returns a sealed secret (persist.ErrNotFound when none).
func (s *Store) GetSecret(ctx context.Context, kind, id string) (credentials.Sealed, error) {
	var out credentials.Sealed
	if _, err := s.getDoc(ctx, secretKey(kind, id), &out); err != nil {
		return credentials.Sealed{}, notFound(err)
	}
	return out, nil
}

// PutSecret stores a sealed secret, replacing any previous one.
func (s *Store) PutSecret(ctx context.Context, kind, id string, sealed credentials.Sealed) error {
	raw, err := json.Marshal(sealed)
	if err != nil {
		return fmt.Errorf("encode sealed secret: %w", err)
	}
	item := secretKey(kind, id).av()
	item[attrDoc] = str(string(raw))
	item[attrVersion] = num(1)
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	return err
}

// DeleteSecret deletes a sealed secret.
func (s *Store) DeleteSecret(ctx context.Context, kind, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: secretKey(kind, id).av()})
	return err
}

// GetBinding returns the business a Graph node belongs to (persist.ErrNotFound when none).
func (s *Store) GetBinding(ctx context.Context, node string) (string, error) {
	item, err := s.getItem(ctx, bindingKey(node), false)
	if err != nil {
		return "", notFound(err)
	}
	return getS(item, "business"), nil
}

// PutBinding records the business a Graph node belongs to.
func (s *Store) PutBinding(ctx context.Context, node, business string) error {
	item := bindingKey(node).av()
	item["business"] = str(business)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	return err
}

// DeleteBinding forgets a node's business.
func (s *Store) DeleteBinding(ctx context.Context, node string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: bindingKey(node).av()})
	return err
}
