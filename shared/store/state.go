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

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

// ReadState reads everything one outbound decision needs in a single consistent BatchGetItem:
// the record (with its version), the conversation hold, the window, opt-out and (for a
// template) deliverability items under every key the customer is known by, the template, the
// portfolio's limit and the send holds.
func (s *Store) ReadState(ctx context.Context, q outbound.StateQuery) (outbound.State, error) {
	keys := []key{recordKey(q.RequestID)}
	if q.Conv != "" {
		keys = append(keys, holdKey(q.Conv))
	}
	cks := q.Customer.Keys()
	for _, ck := range cks {
		keys = append(keys, windowKey(q.PhoneNumberID, ck), optOutKey(q.WABA, ck))
		if q.Template != nil {
			keys = append(keys, delivKey(q.WABA, ck))
		}
	}
	if t := q.Template; t != nil {
		keys = append(keys, templateKey(q.WABA, t.Name, template.NormalizeLanguage(t.Language)))
		if q.PortfolioKey != "" {
			keys = append(keys, portfolioKey(q.PortfolioKey))
		}
	}
	for _, scope := range q.PauseScopes {
		keys = append(keys, pauseKey(scope))
	}
	if q.Alias && q.Customer.Key() != "" {
		keys = append(keys, aliasKey(q.WABA, q.Customer.Key()))
	}
	if q.Pair && q.Customer.Key() != "" {
		keys = append(keys, pairKey(q.PhoneNumberID, q.Customer.Key()))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return outbound.State{}, fmt.Errorf("read state: %w", err)
	}
	byKey := make(map[key]map[string]types.AttributeValue, len(items))
	for _, item := range items {
		byKey[key{getS(item, attrPK), getS(item, attrSK)}] = item
	}
	live := func(k key) map[string]types.AttributeValue {
		item := byKey[k]
		if item == nil || s.expired(item) {
			return nil
		}
		return item
	}
	decode := func(item map[string]types.AttributeValue, v any) error {
		if err := json.Unmarshal([]byte(getS(item, attrDoc)), v); err != nil {
			return fmt.Errorf("read state: decode %s: %w", getS(item, attrPK), err)
		}
		return nil
	}

	st := outbound.State{Pauses: map[string]outbound.Pause{}, Customer: q.Customer}
	if q.Alias && q.Customer.Key() != "" {
		if item := live(aliasKey(q.WABA, q.Customer.Key())); item != nil {
			if st.Customer.UserID == "" {
				st.Customer.UserID = getS(item, "userId")
			} else if st.Customer.Phone == "" {
				st.Customer.Phone = getS(item, "phone")
			}
		}
	}
	if item := live(recordKey(q.RequestID)); item != nil {
		r, err := recordFromItem(item)
		if err != nil {
			return st, fmt.Errorf("read state: %w", err)
		}
		st.Record, st.RecordVersion = r, getN(item, attrVersion)
	}
	if q.Conv != "" {
		if item := live(holdKey(q.Conv)); item != nil {
			if err := decode(item, &st.Hold); err != nil {
				return st, err
			}
		}
	}
	for _, ck := range cks {
		// Expired windows still say when they closed, as GetWindow returns them.
		if item := byKey[windowKey(q.PhoneNumberID, ck)]; item != nil {
			w := windowFromItem(item)
			if !st.HasWindow || w.ExpiresAt.After(st.Window.ExpiresAt) {
				st.Window, st.HasWindow = w, true
			}
		}
		if item := live(optOutKey(q.WABA, ck)); item != nil {
			var o customer.OptOut
			if err := decode(item, &o); err != nil {
				return st, err
			}
			if o.At.After(st.OptOut.At) {
				st.OptOut = o
			}
		}
		if item := live(delivKey(q.WABA, ck)); item != nil {
			var d customer.Deliverability
			if err := decode(item, &d); err != nil {
				return st, err
			}
			if d.UndeliverableUntil.After(st.Deliverability.UndeliverableUntil) {
				st.Deliverability.UndeliverableUntil, st.Deliverability.Reason = d.UndeliverableUntil, d.Reason
			}
			if d.MarketingCappedUntil.After(st.Deliverability.MarketingCappedUntil) {
				st.Deliverability.MarketingCappedUntil = d.MarketingCappedUntil
			}
		}
	}
	if t := q.Template; t != nil {
		if item := live(templateKey(q.WABA, t.Name, template.NormalizeLanguage(t.Language))); item != nil {
			var tm template.Template
			if err := decode(item, &tm); err != nil {
				return st, err
			}
			st.Template = &tm
		}
		if q.PortfolioKey != "" {
			if item := live(portfolioKey(q.PortfolioKey)); item != nil {
				var p sender.Portfolio
				if err := decode(item, &p); err != nil {
					return st, err
				}
				st.Portfolio = p
			}
		}
	}
	if q.Pair && q.Customer.Key() != "" {
		if item := live(pairKey(q.PhoneNumberID, q.Customer.Key())); item != nil {
			st.PairPace, st.PairFound = time.UnixMilli(getN(item, "tatMs")).UTC(), true
		}
	}
	for _, scope := range q.PauseScopes {
		if item := live(pauseKey(scope)); item != nil {
			st.Pauses[scope] = outbound.Pause{Scope: scope, Until: time.UnixMilli(getN(item, "untilMs")).UTC(), Reason: getS(item, "reason")}
		}
	}
	return st, nil
}

// PutRecord writes rec if its stored version is still version (0: none stored). It writes the
// document only: the delivery status the webhook wrote stays (records.go).
func (s *Store) PutRecord(ctx context.Context, rec *outbound.Record, version int64) (int64, error) {
	err := s.putRecord(ctx, rec, version)
	if IsConditionFailed(err) {
		return 0, fmt.Errorf("put record %s: %w", rec.ID, persist.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("put record %s: %w", rec.ID, err)
	}
	return version + 1, nil
}

// orphanStatuses are the statuses the webhook may keep for an unknown wamid (one item each).
var orphanStatuses = []outbound.Status{outbound.StatusSent, outbound.StatusDelivered, outbound.StatusRead,
	outbound.StatusPlayed, outbound.StatusFailed}

// PutSentRecord writes a sent record and its wamid lookup in one transaction, which also checks
// that the webhook kept no status for the wamid (each status is its own item, so a check per
// status): with none, nothing else needs reading; with some, nothing is written and the caller
// applies them on the slow path. A status stored after the transaction finds the lookup and is
// applied by the webhook itself.
func (s *Store) PutSentRecord(ctx context.Context, rec *outbound.Record, version int64) error {
	u, err := s.recordWrite(rec, version)
	if err != nil {
		return err
	}
	lookup := wamidKey(rec.WAMID).av()
	lookup["requestId"] = str(rec.ID)
	items := []types.TransactWriteItem{{Update: u}, {Put: &types.Put{TableName: aws.String(s.table), Item: lookup}}}
	for _, st := range orphanStatuses {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.table), Key: orphanKey(rec.WAMID, string(st)).av(),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	reasons := transactReasons(err)
	if reasons == nil {
		return fmt.Errorf("put sent record %s: %w", rec.ID, err)
	}
	if reasons[0] == "ConditionalCheckFailed" {
		return fmt.Errorf("put sent record %s: %w", rec.ID, persist.ErrConflict)
	}
	for _, r := range reasons[2:] {
		if r == "ConditionalCheckFailed" {
			return outbound.ErrOrphanStatuses
		}
	}
	return fmt.Errorf("put sent record %s: %w", rec.ID, errors.Join(err, persist.ErrConflict))
}
