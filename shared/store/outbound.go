package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/webhook"
)

// The outbound pipeline's items (key layout in keys.go):
//
//   - a deferred record carries GSI1 keys DEFERRED#<shard> / <nextAttemptAt>#<createdAt>#<id>
//     for as long as it is deferred: every record write sets them, or removes them when the
//     record is written in any other status (records.go);
//   - a send hold (access token refused, WABA payment problem) is PAUSE#<scope> / #PAUSE with
//     its end as TTL.

// deferredShards spreads the due index over several GSI partitions: a budget overflow can defer
// thousands of records at once, more than one partition takes per second.
const deferredShards = 8

// dueTimeFormat is fixed-width UTC, so that the due index sorts lexically in time order.
const dueTimeFormat = "2006-01-02T15:04:05.000Z"

func deferredShard(id string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return h.Sum32() % deferredShards
}

// recordIndex returns the due-index attributes of a deferred record (nil otherwise).
func recordIndex(r *outbound.Record) map[string]types.AttributeValue {
	if r.Status != outbound.StatusDeferred || r.NextAttemptAt.IsZero() {
		return nil
	}
	return map[string]types.AttributeValue{
		attrGSI1PK: str(deferredPK(deferredShard(r.ID))),
		attrGSI1SK: str(r.NextAttemptAt.UTC().Format(dueTimeFormat) + "#" + r.CreatedAt.UTC().Format(dueTimeFormat) + "#" + r.ID),
	}
}

// DueRecords returns up to limit deferred records whose NextAttemptAt is at or before now,
// in due order (then creation order, so one conversation's deferrals keep their order). The
// index is eventually consistent: callers re-check a record before acting on it.
func (s *Store) DueRecords(ctx context.Context, now time.Time, limit int) ([]outbound.Record, error) {
	if limit <= 0 {
		limit = 100
	}
	upper := now.UTC().Format(dueTimeFormat) + "#~" // '~' sorts after every creation time
	type due struct {
		sk  string
		rec outbound.Record
	}
	var all []due
	for shard := range uint32(deferredShards) {
		var start map[string]types.AttributeValue
		got := 0
		for got < limit {
			out, err := s.db.Query(ctx, &dynamodb.QueryInput{
				TableName: aws.String(s.table), IndexName: aws.String(indexGSI1),
				KeyConditionExpression: aws.String("gsi1pk = :p AND gsi1sk <= :u"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":p": str(deferredPK(shard)), ":u": str(upper),
				},
				ExclusiveStartKey: start,
				Limit:             aws.Int32(int32(min(limit-got, 500))),
			})
			if err != nil {
				return nil, fmt.Errorf("query due records: %w", err)
			}
			for _, item := range out.Items {
				r, err := recordFromItem(item)
				if err != nil {
					return nil, err
				}
				all = append(all, due{sk: getS(item, attrGSI1SK), rec: *r})
				got++
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			start = out.LastEvaluatedKey
		}
	}
	slices.SortFunc(all, func(a, b due) int { return strings.Compare(a.sk, b.sk) })
	if len(all) > limit {
		all = all[:limit]
	}
	recs := make([]outbound.Record, len(all))
	for i, d := range all {
		recs[i] = d.rec
	}
	return recs, nil
}

// SetPause stores a send hold; an existing hold that lasts longer is kept.
func (s *Store) SetPause(ctx context.Context, p outbound.Pause) error {
	item := pauseKey(p.Scope).av()
	item["untilMs"] = num(p.Until.UnixMilli())
	item["reason"] = str(p.Reason)
	item[attrTTL] = ttlValue(p.Until)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(untilMs) OR untilMs < :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": num(p.Until.UnixMilli())},
	})
	if err != nil && !IsConditionFailed(err) {
		return fmt.Errorf("set pause %s: %w", p.Scope, err)
	}
	return nil
}

// LiftPause ends the send hold of scope at once (a replaced token lifts its 190 hold); no hold
// is no error.
func (s *Store) LiftPause(ctx context.Context, scope string) error {
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: pauseKey(scope).av()}); err != nil {
		return fmt.Errorf("lift pause %s: %w", scope, err)
	}
	return nil
}

// OutboundStore is the store as the outbound pipeline's port (outbound.Store) sees it: the
// store's own methods plus StopMarketing. (outbound cannot import this package: records are its
// types.)
type OutboundStore struct{ *Store }

var _ outbound.Store = OutboundStore{}

// Outbound returns the store as the outbound pipeline's port.
func (s *Store) Outbound() OutboundStore { return OutboundStore{s} }

// StopMarketing is Store.ApplyOptOut of a stop, for the port.
func (o OutboundStore) StopMarketing(ctx context.Context, waba string, c customer.Ref, source string, at time.Time) error {
	return o.Store.ApplyOptOut(ctx, waba, c, webhook.OptOutEvent{Stop: true, Source: source, At: at})
}
