package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
)

// The admin API's reads and the number pool's items, as the DynamoDB store keeps them
// (store/senders.go, store/numbers.go).

var _ numberpool.Store = (*Store)(nil)

// ListSenders returns one page of senders, ordered by status then id, and the cursor of the
// next page ("" at the end). It pages as the DynamoDB store's query does: limit senders are
// read at a time (≤ 0 or > 100: 50), those of another assistant dropped, and reading goes on
// until the page is full, so a page may hold more than limit.
func (s *Store) ListSenders(_ context.Context, f store.SenderFilter, limit int, cursor string) ([]*sender.Sender, string, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	after := ""
	if cursor != "" {
		st, id, err := store.ParseSenderCursor(cursor, f)
		if err != nil {
			return nil, "", err
		}
		after = string(st) + "#" + id
	}
	s.mu.Lock()
	var all []*sender.Sender
	for id := range s.senders {
		snd, _ := s.getSender(id)
		all = append(all, snd)
	}
	s.mu.Unlock()
	sk := func(x *sender.Sender) string { return string(x.Status) + "#" + x.ID }
	slices.SortFunc(all, func(a, b *sender.Sender) int { return strings.Compare(sk(a), sk(b)) })
	var items []*sender.Sender
	for _, x := range all {
		if (f.Status == "" || x.Status == f.Status) && sk(x) > after {
			items = append(items, x)
		}
	}
	var out []*sender.Sender
	for len(items) > 0 {
		page := items[:min(limit, len(items))]
		items = items[len(page):]
		for _, x := range page {
			if f.Assistant == "" || x.HasAssistant(f.Assistant) {
				out = append(out, x)
			}
		}
		// A full page leaves a key to go on from, even when nothing follows it.
		if len(page) < limit {
			break
		}
		if len(out) >= limit {
			last := page[len(page)-1]
			next, err := store.SenderCursor(last.Status, last.ID, f)
			return out, next, err
		}
	}
	return out, "", nil
}

// ListSendersByBusiness returns every sender whose businessId is business, by status then id.
func (s *Store) ListSendersByBusiness(ctx context.Context, business string) ([]*sender.Sender, error) {
	var out []*sender.Sender
	cursor := ""
	for {
		page, next, err := s.ListSenders(ctx, store.SenderFilter{}, 100, cursor)
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

// poolUpdate is the number pool's read-modify-write: no change to nothing is
// persist.ErrNotFound, as in the DynamoDB store.
func poolUpdate[T any](s *Store, m map[string][]byte, k string, fn persist.Update[T]) (*T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur *T
	if raw, ok := m[k]; ok {
		cur = decode[T](raw)
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
	m[k] = encode(next)
	return next, nil
}

func (s *Store) pool() (intents, numbers map[string][]byte) {
	if s.intents == nil {
		s.intents, s.numbers = map[string][]byte{}, map[string][]byte{}
	}
	return s.intents, s.numbers
}

// GetIntent returns the purchase intent of a request, or persist.ErrNotFound.
func (s *Store) GetIntent(_ context.Context, requestID string) (*numberpool.Intent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	intents, _ := s.pool()
	raw, ok := intents[requestID]
	if !ok {
		return nil, fmt.Errorf("intent %s: %w", requestID, persist.ErrNotFound)
	}
	return decode[numberpool.Intent](raw), nil
}

// UpdateIntent applies fn to the intent of a request (cur nil when there is none).
func (s *Store) UpdateIntent(_ context.Context, requestID string, fn persist.Update[numberpool.Intent]) (*numberpool.Intent, error) {
	s.mu.Lock()
	intents, _ := s.pool()
	s.mu.Unlock()
	return poolUpdate(s, intents, requestID, fn)
}

// OpenIntents lists pending and bought intents, oldest first (then by request id).
func (s *Store) OpenIntents(context.Context) ([]numberpool.Intent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	intents, _ := s.pool()
	var out []numberpool.Intent
	for _, raw := range intents {
		if in := decode[numberpool.Intent](raw); in.Open() {
			out = append(out, *in)
		}
	}
	key := func(in numberpool.Intent) string {
		return in.CreatedAt.UTC().Format(dueTimeFormat) + "#" + in.RequestID
	}
	slices.SortFunc(out, func(a, b numberpool.Intent) int { return strings.Compare(key(a), key(b)) })
	return out, nil
}

// GetNumber returns a pool number, or persist.ErrNotFound.
func (s *Store) GetNumber(_ context.Context, e164 string) (*numberpool.Number, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, numbers := s.pool()
	raw, ok := numbers[e164]
	if !ok {
		return nil, fmt.Errorf("pool number %s: %w", e164, persist.ErrNotFound)
	}
	return decode[numberpool.Number](raw), nil
}

// UpdateNumber applies fn to a pool number (cur nil when there is none).
func (s *Store) UpdateNumber(_ context.Context, e164 string, fn persist.Update[numberpool.Number]) (*numberpool.Number, error) {
	s.mu.Lock()
	_, numbers := s.pool()
	s.mu.Unlock()
	return poolUpdate(s, numbers, e164, fn)
}

// ListNumbers lists every pool number (released ones too), by E.164.
func (s *Store) ListNumbers(context.Context) ([]numberpool.Number, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, numbers := s.pool()
	var out []numberpool.Number
	for _, k := range slices.Sorted(maps.Keys(numbers)) {
		out = append(out, *decode[numberpool.Number](numbers[k]))
	}
	return out, nil
}
