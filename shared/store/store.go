// Package store is the DynamoDB adapter: one table (keys pk/sk, indexes GSI1 and GSI2, TTL
// attribute expiresAt) holding senders, windows, opt-outs, templates, outbound records and the
// webhook's bookkeeping. Domain packages define the ports; this package implements them.
//
// Item layout (see keys.go): most entities are a JSON document in the `doc` attribute with a
// `version` for optimistic locking, plus the key and index attributes. Hot paths that must be
// one conditional write (windows, dedupe claims, a record's delivery status: records.go) use
// plain attributes instead.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/persist"
)

// Attribute names shared with template.yaml.
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrGSI1PK  = "gsi1pk"
	attrGSI1SK  = "gsi1sk"
	attrGSI2PK  = "gsi2pk"
	attrGSI2SK  = "gsi2sk"
	attrTTL     = "expiresAt"
	attrDoc     = "doc"
	attrVersion = "version"
	indexGSI1   = "GSI1"
	indexGSI2   = "GSI2"
)

// API is the subset of the DynamoDB client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Store implements the domain ports on one DynamoDB table.
type Store struct {
	db    API
	table string
	now   func() time.Time
}

// New returns a store on table. now may be nil (time.Now); tests pass a fake clock so that
// expiry checks on read follow it.
func New(db API, table string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, table: table, now: now}
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

type key struct{ pk, sk string }

func (k key) av() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(k.pk), attrSK: str(k.sk)}
}

func str(s string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func ttlValue(t time.Time) *types.AttributeValueMemberN { return num(t.Unix()) }

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getBool(item map[string]types.AttributeValue, name string) bool {
	if v, ok := item[name].(*types.AttributeValueMemberBOOL); ok {
		return v.Value
	}
	return false
}

// expired reports whether an item's TTL has passed: DynamoDB deletes lazily (days on AWS), so
// reads never trust an item whose expiresAt is in the past.
func (s *Store) expired(item map[string]types.AttributeValue) bool {
	ttl := getN(item, attrTTL)
	return ttl != 0 && ttl <= s.now().Unix()
}

// IsConditionFailed reports whether err is a failed condition (single write).
func IsConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// doc is the generic JSON-document item.
type doc struct {
	version int64
	raw     []byte
}

func (s *Store) getItem(ctx context.Context, k key, consistent bool) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: k.av(), ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return nil, err
	}
	if out.Item == nil || s.expired(out.Item) {
		return nil, persist.ErrNotFound
	}
	return out.Item, nil
}

// getDoc reads the JSON document at k into out and returns its version.
func (s *Store) getDoc(ctx context.Context, k key, out any) (int64, error) {
	item, err := s.getItem(ctx, k, true)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal([]byte(getS(item, attrDoc)), out); err != nil {
		return 0, fmt.Errorf("decode %s: %w", k.pk, err)
	}
	return getN(item, attrVersion), nil
}

// docPut builds a conditional put of a JSON document: new when version is 0, else only if the
// stored version still equals version.
func (s *Store) docPut(k key, v any, version int64, ttl time.Time, extra map[string]types.AttributeValue) (*types.Put, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", k.pk, err)
	}
	item := k.av()
	item[attrDoc] = str(string(raw))
	item[attrVersion] = num(version + 1)
	if !ttl.IsZero() {
		item[attrTTL] = ttlValue(ttl)
	}
	for n, a := range extra {
		item[n] = a
	}
	p := &types.Put{TableName: aws.String(s.table), Item: item}
	if version == 0 {
		// New, or replacing an expired leftover that TTL has not deleted yet.
		p.ConditionExpression = aws.String("attribute_not_exists(pk) OR (attribute_exists(expiresAt) AND expiresAt <= :now)")
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":now": num(s.now().Unix())}
	} else {
		p.ConditionExpression = aws.String("version = :v")
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(version)}
	}
	return p, nil
}

func (s *Store) putDoc(ctx context.Context, k key, v any, version int64, ttl time.Time, extra map[string]types.AttributeValue) error {
	p, err := s.docPut(k, v, version, ttl, extra)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeValues: p.ExpressionAttributeValues,
	})
	return err
}

// docOptions describes the derived attributes of a document on write.
type docOptions struct {
	ttl   time.Time
	extra map[string]types.AttributeValue
}

// updateDoc is a read-modify-write of the document at k with optimistic locking. fn gets the
// current value (zero and found=false when absent) and returns the options of the write, or
// persist.ErrNoChange to skip it. It retries on a lost race.
func updateDoc[T any](ctx context.Context, s *Store, k key, fn func(cur *T, found bool) (docOptions, error)) (*T, error) {
	res, _, err := updateDocV(ctx, s, k, fn)
	return res, err
}

// updateDocV is updateDoc that also returns the stored version of the result.
func updateDocV[T any](ctx context.Context, s *Store, k key, fn func(cur *T, found bool) (docOptions, error)) (*T, int64, error) {
	for attempt := 0; attempt < 8; attempt++ {
		var cur T
		version, err := s.getDoc(ctx, k, &cur)
		found := err == nil
		if err != nil && !errors.Is(err, persist.ErrNotFound) {
			return nil, 0, err
		}
		if !found {
			cur = *new(T)
			version = 0
		}
		opts, err := fn(&cur, found)
		if errors.Is(err, persist.ErrNoChange) {
			if !found {
				return nil, 0, persist.ErrNotFound
			}
			return &cur, version, nil
		}
		if err != nil {
			return nil, 0, err
		}
		err = s.putDoc(ctx, k, &cur, version, opts.ttl, opts.extra)
		if err == nil {
			return &cur, version + 1, nil
		}
		if !IsConditionFailed(err) {
			return nil, 0, err
		}
	}
	return nil, 0, fmt.Errorf("update %s: %w", k.pk, persist.ErrConflict)
}

// transactReasons returns the cancellation reason codes of a failed transaction, in order.
func transactReasons(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	return codes
}

// update is updateDoc in the persist shape: fn gets the current value (nil when absent; with
// mayCreate false an absent item is persist.ErrNotFound and fn is not called), returns the new
// one or persist.ErrNoChange (the store then returns the current value, nil when absent, and no
// error). derive gives the write's derived attributes (TTL, index keys) from the new value.
func update[T any](ctx context.Context, s *Store, k key, mayCreate bool, fn persist.Update[T], derive func(*T) docOptions) (*T, error) {
	res, _, err := updateV(ctx, s, k, mayCreate, fn, derive)
	return res, err
}

// updateV is update that also returns the stored version of the result.
func updateV[T any](ctx context.Context, s *Store, k key, mayCreate bool, fn persist.Update[T], derive func(*T) docOptions) (*T, int64, error) {
	var absentNoChange bool
	res, version, err := updateDocV(ctx, s, k, func(cur *T, found bool) (docOptions, error) {
		absentNoChange = false
		if !found && !mayCreate {
			return docOptions{}, persist.ErrNotFound
		}
		in := cur
		if !found {
			in = nil
		}
		next, err := fn(in)
		if errors.Is(err, persist.ErrNoChange) {
			absentNoChange = !found
			return docOptions{}, err
		}
		if err != nil {
			return docOptions{}, err
		}
		if next == nil {
			return docOptions{}, fmt.Errorf("update %s: closure returned nothing to write", k.pk)
		}
		if next != cur {
			*cur = *next
		}
		if derive == nil {
			return docOptions{}, nil
		}
		return derive(cur), nil
	})
	if absentNoChange && errors.Is(err, persist.ErrNotFound) {
		return nil, 0, nil
	}
	return res, version, err
}
