package credentials

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
)

// memStore is an in-memory Store for the vault's logic tests (the DynamoDB adapter is tested
// against DynamoDB Local in shared/app).
type memStore struct {
	mu       sync.Mutex
	secrets  map[string]Sealed
	bindings map[string]string
	reads    int
}

func newMem() *memStore {
	return &memStore{secrets: map[string]Sealed{}, bindings: map[string]string{}}
}

func (m *memStore) GetSecret(_ context.Context, kind, id string) (Sealed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	s, ok := m.secrets[kind+"/"+id]
	if !ok {
		return Sealed{}, persist.ErrNotFound
	}
	return s, nil
}
func (m *memStore) PutSecret(_ context.Context, kind, id string, s Sealed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[kind+"/"+id] = s
	return nil
}
func (m *memStore) DeleteSecret(_ context.Context, kind, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.secrets, kind+"/"+id)
	return nil
}
func (m *memStore) GetBinding(_ context.Context, node string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.bindings[node]
	if !ok {
		return "", persist.ErrNotFound
	}
	return b, nil
}
func (m *memStore) PutBinding(_ context.Context, node, b string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bindings[node] = b
	return nil
}
func (m *memStore) DeleteBinding(_ context.Context, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.bindings, node)
	return nil
}

func TestSealedNeverHoldsThePlaintext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newMem()
	v := New(Options{Store: st, Keys: RandomLocalKey()})
	const tok = "EAAG-business-token-1234567890"
	if err := v.PutToken(ctx, "biz1", tok); err != nil {
		t.Fatal(err)
	}
	s := st.secrets[KindToken+"/biz1"]
	for _, b := range [][]byte{s.Ciphertext, s.WrappedKey, s.Nonce} {
		if bytes.Contains(b, []byte(tok)) {
			t.Fatal("the stored item holds the token in plaintext")
		}
	}
	fresh := New(Options{Store: st, Keys: v.keys})
	if got, err := fresh.Token(ctx, "biz1"); err != nil || got != tok {
		t.Fatalf("Token = %q, %v", got, err)
	}
}

func TestSealedDoesNotOpenElsewhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newMem()
	keys := RandomLocalKey()
	v := New(Options{Store: st, Keys: keys, CacheTTL: -1})
	if err := v.PutToken(ctx, "biz1", "token-one"); err != nil {
		t.Fatal(err)
	}
	// The same sealed item moved to another business, and to another kind.
	st.secrets[KindToken+"/biz2"] = st.secrets[KindToken+"/biz1"]
	st.secrets[KindPIN+"/biz2"] = st.secrets[KindToken+"/biz1"]
	if _, err := v.Token(ctx, "biz2"); !errors.Is(err, ErrOpen) {
		t.Errorf("a sealed token copied to another business opened: %v", err)
	}
	if _, err := v.PIN(ctx, "biz2"); !errors.Is(err, ErrOpen) {
		t.Errorf("a sealed token copied to a PIN opened: %v", err)
	}
	tampered := st.secrets[KindToken+"/biz1"]
	tampered.Ciphertext = append([]byte(nil), tampered.Ciphertext...)
	tampered.Ciphertext[0] ^= 1
	st.secrets[KindToken+"/biz1"] = tampered
	if _, err := v.Token(ctx, "biz1"); !errors.Is(err, ErrOpen) {
		t.Errorf("a tampered item opened: %v", err)
	}
	if err := v.PutToken(ctx, "biz3", "token-three"); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Store: st, Keys: RandomLocalKey(), CacheTTL: -1}).Token(ctx, "biz3"); !errors.Is(err, ErrOpen) {
		t.Errorf("opened with another key: %v", err)
	}
}

func TestCacheExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newMem()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	keys := RandomLocalKey()
	writer := New(Options{Store: st, Keys: keys, Now: clock})
	reader := New(Options{Store: st, Keys: keys, Now: clock, CacheTTL: time.Minute})
	_ = writer.PutToken(ctx, "biz", "old")
	_ = writer.Bind(ctx, "biz", "phone-1")
	if tok, err := reader.TokenFor(ctx, "phone-1"); err != nil || tok != "old" {
		t.Fatalf("TokenFor = %q, %v", tok, err)
	}
	reads := st.reads
	for range 100 {
		_, _ = reader.TokenFor(ctx, "phone-1")
	}
	if st.reads != reads {
		t.Errorf("cached reads hit the store %d times", st.reads-reads)
	}
	_ = writer.PutToken(ctx, "biz", "new")
	now = now.Add(59 * time.Second)
	if tok, _ := reader.TokenFor(ctx, "phone-1"); tok != "old" {
		t.Errorf("within the expiry: %q", tok)
	}
	now = now.Add(2 * time.Second)
	if tok, _ := reader.TokenFor(ctx, "phone-1"); tok != "new" {
		t.Errorf("after the expiry: %q, want the replaced token", tok)
	}
	if tok, err := reader.TokenFor(ctx, "unbound"); err != nil || tok != "" {
		t.Errorf("unbound node: %q, %v (want the platform token: empty)", tok, err)
	}
	_ = writer.ForgetToken(ctx, "biz")
	now = now.Add(2 * time.Minute)
	if _, err := reader.TokenFor(ctx, "phone-1"); !errors.Is(err, ErrTokenForgotten) {
		t.Errorf("forgotten token: %v", err)
	}
}

func TestNoKeysCanOnlyForget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newMem()
	_ = New(Options{Store: st, Keys: RandomLocalKey()}).PutToken(ctx, "biz", "tok")
	v := New(Options{Store: st})
	if err := v.PutToken(ctx, "biz", "x"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("PutToken without keys: %v", err)
	}
	if _, err := v.Token(ctx, "biz"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Token without keys: %v", err)
	}
	if err := v.ForgetToken(ctx, "biz"); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.secrets[KindToken+"/biz"]; ok {
		t.Error("token not forgotten")
	}
}

func TestNewPIN(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		p, err := NewPIN()
		if err != nil || len(p) != 6 {
			t.Fatalf("NewPIN = %q, %v", p, err)
		}
		seen[p] = true
	}
	if len(seen) < 190 {
		t.Errorf("only %d distinct PINs in 200", len(seen))
	}
}
