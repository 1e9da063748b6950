// Package credentials keeps the secrets the platform holds for each business: its Graph API
// access token (per business portfolio) and each number's two-step verification PIN. Every
// secret is sealed by envelope encryption before it reaches the store: a fresh data key per
// secret encrypts it with AES-256-GCM, and a KeyWrapper (AWS KMS in the cloud, a local key in
// `make run` and tests) wraps the data key. The store never sees a plaintext secret, and this
// package never logs one.
//
// Reads go through a cache with a short expiry, so a token replaced by an operator or a new
// onboarding is used by every warm instance within that expiry, without a cold start.
package credentials

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealed is a secret as stored: the wrapped data key and the ciphertext, never the plaintext.
type Sealed struct {
	// KeyID names the key that wrapped the data key (a KMS key ARN, or "local").
	KeyID      string `json:"keyId"`
	WrappedKey []byte `json:"wrappedKey"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// KeyWrapper makes and unwraps data keys. Context binds a wrapped key to what it protects
// (KMS encryption context): a sealed secret copied to another item does not open.
type KeyWrapper interface {
	NewDataKey(ctx context.Context, context map[string]string) (plain, wrapped []byte, keyID string, err error)
	UnwrapDataKey(ctx context.Context, wrapped []byte, keyID string, context map[string]string) ([]byte, error)
}

// ErrOpen is returned when a sealed secret does not open (wrong key, tampered item, or an item
// moved to another id).
var ErrOpen = errors.New("credentials: sealed secret does not open")

func encryptionContext(kind, id string) map[string]string {
	return map[string]string{"kind": kind, "id": id}
}

// seal encrypts plaintext for (kind, id).
func seal(ctx context.Context, kw KeyWrapper, kind, id string, plaintext []byte) (Sealed, error) {
	ec := encryptionContext(kind, id)
	key, wrapped, keyID, err := kw.NewDataKey(ctx, ec)
	if err != nil {
		return Sealed{}, fmt.Errorf("new data key: %w", err)
	}
	defer clear(key)
	gcm, err := newGCM(key)
	if err != nil {
		return Sealed{}, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("nonce: %w", err)
	}
	ct := gcm.Seal(nil, nonce, plaintext, []byte(kind+"/"+id))
	return Sealed{KeyID: keyID, WrappedKey: wrapped, Nonce: nonce, Ciphertext: ct}, nil
}

// open decrypts s, which must have been sealed for (kind, id).
func open(ctx context.Context, kw KeyWrapper, kind, id string, s Sealed) ([]byte, error) {
	key, err := kw.UnwrapDataKey(ctx, s.WrappedKey, s.KeyID, encryptionContext(kind, id))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	defer clear(key)
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(s.Nonce) != gcm.NonceSize() {
		return nil, ErrOpen
	}
	pt, err := gcm.Open(nil, s.Nonce, s.Ciphertext, []byte(kind+"/"+id))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return cipher.NewGCM(block)
}

// LocalKey wraps data keys with a 32-byte key held in memory: for `make run` and tests, where
// no KMS exists. Secrets are still sealed, never stored in plaintext.
type LocalKey struct{ key []byte }

var _ KeyWrapper = (*LocalKey)(nil)

// NewLocalKey returns a LocalKey for a 32-byte key.
func NewLocalKey(key []byte) (*LocalKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("local credentials key: want 32 bytes, got %d", len(key))
	}
	return &LocalKey{key: append([]byte(nil), key...)}, nil
}

// RandomLocalKey returns a LocalKey with a fresh random key (tests).
func RandomLocalKey() *LocalKey {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand never fails on supported platforms
	return &LocalKey{key: k}
}

// LocalKeyID is Sealed.KeyID for secrets wrapped by a LocalKey.
const LocalKeyID = "local"

func contextAAD(c map[string]string) []byte { return []byte(c["kind"] + "/" + c["id"]) }

// NewDataKey returns a random data key and it wrapped with the local key.
func (l *LocalKey) NewDataKey(_ context.Context, c map[string]string) ([]byte, []byte, string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, "", err
	}
	gcm, err := newGCM(l.key)
	if err != nil {
		return nil, nil, "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, "", err
	}
	wrapped := gcm.Seal(nonce, nonce, key, contextAAD(c))
	return key, wrapped, LocalKeyID, nil
}

// UnwrapDataKey opens a data key wrapped by NewDataKey for the same context.
func (l *LocalKey) UnwrapDataKey(_ context.Context, wrapped []byte, keyID string, c map[string]string) ([]byte, error) {
	if keyID != LocalKeyID {
		return nil, fmt.Errorf("data key wrapped by %q, not the local key: %w", keyID, ErrOpen)
	}
	gcm, err := newGCM(l.key)
	if err != nil {
		return nil, err
	}
	n := gcm.NonceSize()
	if len(wrapped) < n {
		return nil, ErrOpen
	}
	key, err := gcm.Open(nil, wrapped[:n], wrapped[n:], contextAAD(c))
	if err != nil {
		return nil, ErrOpen
	}
	return key, nil
}
