package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/sender"

	"github.com/aloro/wa-senders/shared/persist"
)

// ErrSenderExists is returned when a sender with that phone_number_id already exists.
var ErrSenderExists = errors.New("sender already exists")

// ErrPhoneTaken is returned when another sender already has that phone number.
var ErrPhoneTaken = errors.New("phone number already registered to a sender")

func senderIndexAttrs(s *sender.Sender) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrGSI1PK: str(wabaGSI(s.WABAID)),
		attrGSI1SK: str(senderGSI1SK(s.ID)),
		attrGSI2PK: str(gsiSendersPK),
		attrGSI2SK: str(senderGSI2SK(string(s.Status), s.ID)),
	}
}

// CreateSender stores a new sender and claims its phone number in one transaction.
func (s *Store) CreateSender(ctx context.Context, snd *sender.Sender) error {
	put, err := s.docPut(senderKey(snd.ID), snd, 0, time.Time{}, senderIndexAttrs(snd))
	if err != nil {
		return err
	}
	phone := phoneKey(snd.PhoneNumber).av()
	phone["senderId"] = str(snd.ID)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: put},
		{Put: &types.Put{TableName: aws.String(s.table), Item: phone, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}})
	if err == nil {
		snd.Version = 1
		return nil
	}
	reasons := transactReasons(err)
	switch {
	case len(reasons) == 2 && reasons[0] == "ConditionalCheckFailed":
		return ErrSenderExists
	case len(reasons) == 2 && reasons[1] == "ConditionalCheckFailed":
		return ErrPhoneTaken
	}
	return fmt.Errorf("create sender: %w", err)
}

// GetSender returns the sender with phone_number_id id, or persist.ErrNotFound.
func (s *Store) GetSender(ctx context.Context, id string) (*sender.Sender, error) {
	var snd sender.Sender
	v, err := s.getDoc(ctx, senderKey(id), &snd)
	if err != nil {
		return nil, err
	}
	snd.Version = v
	return &snd, nil
}

// GetSenderByPhone returns the sender owning an E.164 number, or persist.ErrNotFound.
func (s *Store) GetSenderByPhone(ctx context.Context, e164 string) (*sender.Sender, error) {
	item, err := s.getItem(ctx, phoneKey(e164), true)
	if err != nil {
		return nil, err
	}
	return s.GetSender(ctx, getS(item, "senderId"))
}

// UpdateSender applies fn to the current sender with optimistic locking and returns the result
// (the current sender when fn returns persist.ErrNoChange); persist.ErrNotFound when there is no
// such sender.
func (s *Store) UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error) {
	snd, version, err := updateV(ctx, s, senderKey(id), false, func(cur *sender.Sender) (*sender.Sender, error) {
		return fn(cur)
	}, func(cur *sender.Sender) docOptions {
		return docOptions{extra: senderIndexAttrs(cur)}
	})
	if err != nil {
		return nil, err
	}
	// The version read or written, as GetSender gives it (ArchiveSender conditions on it).
	snd.Version = version
	return snd, nil
}

// ListSendersByWABA returns every sender of a WABA (account_update fans out to them).
func (s *Store) ListSendersByWABA(ctx context.Context, waba string) ([]*sender.Sender, error) {
	var senders []*sender.Sender
	var start map[string]types.AttributeValue
	in, err := s.query(indexGSI1, attrGSI1PK, wabaGSI(waba), attrGSI1SK, senderGSI1SK(""))
	if err != nil {
		return nil, err
	}
	for {
		in.ExclusiveStartKey = start
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query senders of waba: %w", err)
		}
		for _, item := range out.Items {
			snd, err := decodeSender(item)
			if err != nil {
				return nil, err
			}
			senders = append(senders, snd)
		}
		if out.LastEvaluatedKey == nil {
			return senders, nil
		}
		start = out.LastEvaluatedKey
	}
}

// SenderFilter narrows ListSenders.
type SenderFilter struct {
	Status    sender.Status
	Assistant string
}

// ListSenders returns one page of senders (ordered by status, then id) and an opaque cursor
// for the next page ("" at the end).
func (s *Store) ListSenders(ctx context.Context, f SenderFilter, limit int, cursor string) ([]*sender.Sender, string, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	prefix := ""
	if f.Status != "" {
		prefix = senderGSI2SK(string(f.Status), "")
	}
	in, err := s.query(indexGSI2, attrGSI2PK, gsiSendersPK, attrGSI2SK, prefix)
	if err != nil {
		return nil, "", err
	}
	in.Limit = aws.Int32(int32(limit))
	if cursor != "" {
		start, err := decodeCursor(cursor, f)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = start
	}
	var senders []*sender.Sender
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("list senders: %w", err)
		}
		for _, item := range out.Items {
			snd, err := decodeSender(item)
			if err != nil {
				return nil, "", err
			}
			if f.Assistant == "" || snd.HasAssistant(f.Assistant) {
				senders = append(senders, snd)
			}
		}
		// Filtering by assistant in code can leave a page short: keep reading until it is full.
		if out.LastEvaluatedKey == nil {
			return senders, "", nil
		}
		if len(senders) >= limit {
			next, err := encodeCursor(out.LastEvaluatedKey, f)
			return senders, next, err
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ListSendersByBusiness returns every sender whose businessId is business. It reads the
// whole sender index: an operator's rare action (a token replacement), not a send path.
func (s *Store) ListSendersByBusiness(ctx context.Context, business string) ([]*sender.Sender, error) {
	var out []*sender.Sender
	cursor := ""
	for {
		page, next, err := s.ListSenders(ctx, SenderFilter{}, 100, cursor)
		if err != nil {
			return nil, err
		}
		for _, snd := range page {
			if snd.BusinessID == business {
				out = append(out, snd)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// ArchiveSender moves a sender (and its history) to an archive item and frees its number.
func (s *Store) ArchiveSender(ctx context.Context, snd *sender.Sender, at time.Time) error {
	raw, err := json.Marshal(snd)
	if err != nil {
		return fmt.Errorf("encode sender: %w", err)
	}
	archive := archiveKey(snd.ID, at).av()
	archive[attrDoc] = str(string(raw))
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: archive}},
		{Delete: &types.Delete{TableName: aws.String(s.table), Key: senderKey(snd.ID).av(),
			ConditionExpression:       aws.String("version = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(snd.Version)}}},
		{Delete: &types.Delete{TableName: aws.String(s.table), Key: phoneKey(snd.PhoneNumber).av()}},
	}})
	if err != nil {
		if r := transactReasons(err); len(r) == 3 && r[1] == "ConditionalCheckFailed" {
			return persist.ErrConflict
		}
		return fmt.Errorf("archive sender: %w", err)
	}
	return nil
}

func decodeSender(item map[string]types.AttributeValue) (*sender.Sender, error) {
	var snd sender.Sender
	if err := json.Unmarshal([]byte(getS(item, attrDoc)), &snd); err != nil {
		return nil, fmt.Errorf("decode sender %s: %w", getS(item, attrPK), err)
	}
	snd.Version = getN(item, attrVersion)
	return &snd, nil
}

// ErrBadCursor is returned for a pagination cursor this store did not issue.
var ErrBadCursor = errors.New("invalid pagination cursor")

// cursor is what a pagination cursor holds: the last sender's id and status (its place in the
// index) and the filter it was issued for. The key is rebuilt from them, so a crafted cursor
// can only name a place in the sender index, and a cursor from another filter is refused.
type cursor struct {
	ID     string `json:"id"`
	Status string `json:"st"`
	Filter string `json:"f"`
}

func (f SenderFilter) tag() string { return string(f.Status) + "|" + f.Assistant }

func encodeCursor(k map[string]types.AttributeValue, f SenderFilter) (string, error) {
	st, id, ok := strings.Cut(getS(k, attrGSI2SK), "#")
	if !ok || id == "" {
		return "", fmt.Errorf("encode cursor: unexpected index key %q", getS(k, attrGSI2SK))
	}
	raw, err := json.Marshal(cursor{ID: id, Status: st, Filter: f.tag()})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// maxCursorLen bounds what is decoded: a real cursor is well under 200 bytes.
const maxCursorLen = 1024

func decodeCursor(c string, f SenderFilter) (map[string]types.AttributeValue, error) {
	if len(c) > maxCursorLen {
		return nil, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	var cur cursor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cur); err != nil || cur.ID == "" || len(cur.ID) > 256 || cur.Filter != f.tag() ||
		!slices.Contains(sender.Statuses, sender.Status(cur.Status)) ||
		(f.Status != "" && sender.Status(cur.Status) != f.Status) {
		return nil, ErrBadCursor
	}
	k := senderKey(cur.ID).av()
	k[attrGSI2PK] = str(gsiSendersPK)
	k[attrGSI2SK] = str(cur.Status + "#" + cur.ID)
	return k, nil
}

// GetPortfolio returns the business portfolio's limit state, or persist.ErrNotFound.
func (s *Store) GetPortfolio(ctx context.Context, k string) (sender.Portfolio, error) {
	var p sender.Portfolio
	_, err := s.getDoc(ctx, portfolioKey(k), &p)
	return p, err
}

// SetPortfolioTier records a tier for a portfolio unless a newer event already set one. It
// reports whether the tier was applied.
func (s *Store) SetPortfolioTier(ctx context.Context, k, tier string, eventAt time.Time) (bool, error) {
	applied := false
	_, err := updateDoc(ctx, s, portfolioKey(k), func(cur *sender.Portfolio, found bool) (docOptions, error) {
		if found && !sender.NewerTier(tier, eventAt, cur.Tier, cur.EventAt) {
			return docOptions{}, persist.ErrNoChange
		}
		*cur = sender.Portfolio{Key: k, Tier: tier, EventAt: eventAt}
		applied = true
		return docOptions{}, nil
	})
	if err != nil && !errors.Is(err, persist.ErrNotFound) {
		return false, fmt.Errorf("set portfolio tier: %w", err)
	}
	return applied, nil
}
