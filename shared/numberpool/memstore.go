package numberpool

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"

	"github.com/aloro/wa-senders/shared/persist"
)

// MemStore is an in-memory Store for logic tests; the DynamoDB store passes the same contract
// suite (StoreContract).
type MemStore struct {
	mu      sync.Mutex
	intents map[string][]byte
	numbers map[string][]byte
	// Fail, when set, is returned by the next write whose op ("intent", "number") it names.
	FailNext map[string]error
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{intents: map[string][]byte{}, numbers: map[string][]byte{}, FailNext: map[string]error{}}
}

var _ Store = (*MemStore)(nil)

func memGet[T any](m map[string][]byte, k string) (*T, error) {
	raw, ok := m[k]
	if !ok {
		return nil, persist.ErrNotFound
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func memUpdate[T any](s *MemStore, m map[string][]byte, op, k string, fn persist.Update[T]) (*T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := memGet[T](m, k)
	if err != nil && !errors.Is(err, persist.ErrNotFound) {
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
	if f := s.FailNext[op]; f != nil {
		delete(s.FailNext, op)
		return nil, f
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	m[k] = raw
	return next, nil
}

// GetIntent implements Store.
func (s *MemStore) GetIntent(_ context.Context, id string) (*Intent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return memGet[Intent](s.intents, id)
}

// UpdateIntent implements Store.
func (s *MemStore) UpdateIntent(_ context.Context, id string, fn persist.Update[Intent]) (*Intent, error) {
	return memUpdate(s, s.intents, "intent", id, fn)
}

// OpenIntents implements Store.
func (s *MemStore) OpenIntents(context.Context) ([]Intent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Intent
	for k := range s.intents {
		in, _ := memGet[Intent](s.intents, k)
		if in.Open() {
			out = append(out, *in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RequestID < out[j].RequestID })
	return out, nil
}

// GetNumber implements Store.
func (s *MemStore) GetNumber(_ context.Context, e164 string) (*Number, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return memGet[Number](s.numbers, e164)
}

// UpdateNumber implements Store.
func (s *MemStore) UpdateNumber(_ context.Context, e164 string, fn persist.Update[Number]) (*Number, error) {
	return memUpdate(s, s.numbers, "number", e164, fn)
}

// ListNumbers implements Store.
func (s *MemStore) ListNumbers(context.Context) ([]Number, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Number
	for k := range s.numbers {
		n, _ := memGet[Number](s.numbers, k)
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].E164 < out[j].E164 })
	return out, nil
}
