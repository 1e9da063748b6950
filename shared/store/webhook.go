package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/webhook"

	"github.com/aloro/wa-senders/shared/persist"
)

var _ webhook.Store = (*Store)(nil)

// PutOrphanStatus keeps a status for a message id no record is known for, one item per
// (wamid, status) holding the newest such status, for OrphanStatusTTL.
func (s *Store) PutOrphanStatus(ctx context.Context, o webhook.OrphanStatus) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode orphan status: %w", err)
	}
	item := orphanKey(o.Status.ID, o.Status.Status).av()
	at := o.Status.Timestamp.Time().UnixMilli()
	item[attrDoc] = str(string(raw))
	item["atMs"] = num(at)
	item[attrTTL] = ttlValue(s.now().Add(OrphanStatusTTL))
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR atMs <= :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": num(at)},
	})
	if err != nil && !IsConditionFailed(err) {
		return fmt.Errorf("put orphan status: %w", err)
	}
	return nil
}

// OrphanStatuses returns the statuses kept for wamid.
func (s *Store) OrphanStatuses(ctx context.Context, wamid string) ([]webhook.OrphanStatus, error) {
	pk, prefix := orphanPrefix(wamid)
	in, err := s.query("", attrPK, pk, attrSK, prefix)
	if err != nil {
		return nil, err
	}
	in.ConsistentRead = aws.Bool(true)
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("query orphan statuses: %w", err)
	}
	var res []webhook.OrphanStatus
	for _, item := range out.Items {
		if s.expired(item) {
			continue
		}
		var o webhook.OrphanStatus
		if err := json.Unmarshal([]byte(getS(item, attrDoc)), &o); err != nil {
			return nil, fmt.Errorf("decode orphan status: %w", err)
		}
		res = append(res, o)
	}
	return res, nil
}

// ApplyOrphans applies the statuses the webhook kept for wamid (they arrived before the wamid
// lookup existed) to the record of requestID, folded into one ApplyDeliveryStatus, deletes
// them and returns the record (nil when none exists); it implements the ports of the outbound
// consumer (called right after PutWAMID) and of the webhook. A failed 131047 among them is applied to the record (status, code,
// title); the template re-send is the caller's to enqueue (outbound.TemplateFallback), as for a
// synchronous 131047.
func (s *Store) ApplyOrphans(ctx context.Context, wamid, requestID string) (*outbound.Record, error) {
	orphans, err := s.OrphanStatuses(ctx, wamid)
	if err != nil {
		return nil, err
	}
	if len(orphans) == 0 {
		rec, err := s.GetRecord(ctx, requestID)
		if errors.Is(err, persist.ErrNotFound) {
			return nil, nil
		}
		return rec, err
	}
	d, ok := webhook.FoldOrphans(orphans, s.now())
	if !ok {
		rec, err := s.GetRecord(ctx, requestID)
		if errors.Is(err, persist.ErrNotFound) {
			return nil, nil
		}
		return rec, err
	}
	w, err := s.ApplyDeliveryStatus(ctx, requestID, d)
	if errors.Is(err, persist.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if w.WAMID != "" && w.WAMID != wamid {
		// Another message's statuses bound the record first (another system's callback data
		// equal to this request id): the kept statuses wait for the send's own record write,
		// which binds the record to wamid, and the call after it.
		return nil, nil
	}
	rec := w.Prev
	if w.Applied {
		webhook.MergeDelivery(rec, d)
	}
	for _, o := range orphans {
		_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.table), Key: orphanKey(wamid, o.Status.Status).av(),
			// Only the status just applied: a newer one stored meanwhile stays for the next call.
			ConditionExpression:       aws.String("atMs = :at"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":at": num(o.Status.Timestamp.Time().UnixMilli())},
		})
		if err != nil && !IsConditionFailed(err) {
			return nil, fmt.Errorf("delete orphan status: %w", err)
		}
	}
	return rec, nil
}

// UpdateTemplateState applies fn to the template record of (waba, name, language) and its
// quality time (cur is nil when there is no record yet). Readers of template.Template see the
// same document (QualityAt is an extra field). It returns the zero state when fn made no change
// to an absent record.
func (s *Store) UpdateTemplateState(ctx context.Context, waba, name, language string, fn persist.Update[webhook.TemplateState]) (webhook.TemplateState, error) {
	lang := template.NormalizeLanguage(language)
	t, err := update(ctx, s, templateKey(waba, name, lang), true, fn, func(cur *webhook.TemplateState) docOptions {
		cur.WABAID, cur.Name, cur.Language = waba, name, lang
		return docOptions{}
	})
	if err != nil {
		return webhook.TemplateState{}, fmt.Errorf("update template: %w", err)
	}
	if t == nil {
		return webhook.TemplateState{}, nil
	}
	return *t, nil
}

// GetAccount returns what account-level webhooks told about waba, or persist.ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, waba string) (*webhook.Account, error) {
	var a webhook.Account
	if _, err := s.getDoc(ctx, accountKey(waba), &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAccount applies fn to the account item of waba (cur is nil when there is none yet). It
// returns an empty account when fn made no change to an absent one.
func (s *Store) UpdateAccount(ctx context.Context, waba string, fn persist.Update[webhook.Account]) (*webhook.Account, error) {
	a, err := update(ctx, s, accountKey(waba), true, fn, func(cur *webhook.Account) docOptions {
		cur.WABAID = waba
		return docOptions{}
	})
	if err != nil {
		return nil, fmt.Errorf("update account: %w", err)
	}
	if a == nil {
		return &webhook.Account{WABAID: waba}, nil
	}
	return a, nil
}
