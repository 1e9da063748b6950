package credentials

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
)

// Kinds of sealed secrets.
const (
	KindToken   = "token"   // a business's access token, by business id
	KindPIN     = "pin"     // a number's two-step PIN, by phone number id
	KindPending = "pending" // a token exchanged by an onboarding not yet checked, by onboarding id
)

// Store persists sealed secrets and which business each Graph node (WABA, phone number)
// belongs to. Getters return persist.ErrNotFound when there is nothing.
type Store interface {
	GetSecret(ctx context.Context, kind, id string) (Sealed, error)
	PutSecret(ctx context.Context, kind, id string, s Sealed) error
	DeleteSecret(ctx context.Context, kind, id string) error
	GetBinding(ctx context.Context, nodeID string) (string, error)
	PutBinding(ctx context.Context, nodeID, businessID string) error
	DeleteBinding(ctx context.Context, nodeID string) error
}

// DefaultCacheTTL bounds how long a warm instance uses a token or binding it read: a token
// replaced elsewhere is in use everywhere within this.
const DefaultCacheTTL = time.Minute

// ErrTokenForgotten is returned for a node whose business disconnected (its token was
// forgotten): calls for it must not fall back to the platform token.
var ErrTokenForgotten = errors.New("credentials: the business's token was forgotten (disconnected); onboard it again")

// Vault seals, stores and caches the business secrets. Safe for concurrent use.
type Vault struct {
	st   Store
	keys KeyWrapper
	ttl  time.Duration
	now  func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	val   string
	found bool
	at    time.Time
}

// Options configure a Vault.
type Options struct {
	Store Store
	// Keys wraps data keys; nil makes a vault that can only forget (the webhook function).
	Keys KeyWrapper
	// CacheTTL defaults to DefaultCacheTTL; negative disables the cache.
	CacheTTL time.Duration
	Now      func() time.Time
}

// New returns a Vault.
func New(o Options) *Vault {
	v := &Vault{st: o.Store, keys: o.Keys, ttl: o.CacheTTL, now: o.Now, cache: map[string]cached{}}
	if v.ttl == 0 {
		v.ttl = DefaultCacheTTL
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// ErrNoKeys is returned by a vault built without a KeyWrapper when asked to seal or open.
var ErrNoKeys = errors.New("credentials: this function holds no key to seal or open secrets")

func (v *Vault) put(ctx context.Context, kind, id, secret string) error {
	if v.keys == nil {
		return ErrNoKeys
	}
	if id == "" || secret == "" {
		return fmt.Errorf("credentials: put %s: empty id or secret", kind)
	}
	s, err := seal(ctx, v.keys, kind, id, []byte(secret))
	if err != nil {
		return fmt.Errorf("seal %s: %w", kind, err)
	}
	if err := v.st.PutSecret(ctx, kind, id, s); err != nil {
		return fmt.Errorf("store %s: %w", kind, err)
	}
	v.remember(kind+"/"+id, secret, true)
	return nil
}

func (v *Vault) get(ctx context.Context, kind, id string) (string, error) {
	ck := kind + "/" + id
	if c, ok := v.recall(ck); ok {
		if !c.found {
			return "", persist.ErrNotFound
		}
		return c.val, nil
	}
	s, err := v.st.GetSecret(ctx, kind, id)
	if errors.Is(err, persist.ErrNotFound) {
		v.remember(ck, "", false)
		return "", persist.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", kind, err)
	}
	if v.keys == nil {
		return "", ErrNoKeys
	}
	pt, err := open(ctx, v.keys, kind, id, s)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", kind, err)
	}
	v.remember(ck, string(pt), true)
	return string(pt), nil
}

func (v *Vault) del(ctx context.Context, kind, id string) error {
	if err := v.st.DeleteSecret(ctx, kind, id); err != nil && !errors.Is(err, persist.ErrNotFound) {
		return fmt.Errorf("delete %s: %w", kind, err)
	}
	v.remember(kind+"/"+id, "", false)
	return nil
}

func (v *Vault) recall(k string) (cached, bool) {
	if v.ttl < 0 {
		return cached{}, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.cache[k]
	if !ok {
		return cached{}, false
	}
	if age := v.now().Sub(c.at); age < 0 || age >= v.ttl {
		delete(v.cache, k)
		return cached{}, false
	}
	return c, true
}

func (v *Vault) remember(k, val string, found bool) {
	if v.ttl < 0 {
		return
	}
	v.mu.Lock()
	v.cache[k] = cached{val: val, found: found, at: v.now()}
	v.mu.Unlock()
}

// PutToken stores the business's access token, replacing any previous one.
func (v *Vault) PutToken(ctx context.Context, businessID, token string) error {
	return v.put(ctx, KindToken, businessID, token)
}

// Token returns the business's access token (persist.ErrNotFound when none).
func (v *Vault) Token(ctx context.Context, businessID string) (string, error) {
	return v.get(ctx, KindToken, businessID)
}

// ForgetToken deletes the business's token (the business removed the app or the partner).
func (v *Vault) ForgetToken(ctx context.Context, businessID string) error {
	return v.del(ctx, KindToken, businessID)
}

// PutPending keeps the token an onboarding exchanged until it is checked and promoted.
func (v *Vault) PutPending(ctx context.Context, onboardingID, token string) error {
	return v.put(ctx, KindPending, onboardingID, token)
}

// Pending returns an onboarding's exchanged token (persist.ErrNotFound when none).
func (v *Vault) Pending(ctx context.Context, onboardingID string) (string, error) {
	return v.get(ctx, KindPending, onboardingID)
}

// DeletePending drops an onboarding's exchanged token once promoted or refused.
func (v *Vault) DeletePending(ctx context.Context, onboardingID string) error {
	return v.del(ctx, KindPending, onboardingID)
}

// PutPIN stores the number's two-step PIN, replacing any previous one.
func (v *Vault) PutPIN(ctx context.Context, phoneNumberID, pin string) error {
	return v.put(ctx, KindPIN, phoneNumberID, pin)
}

// PIN returns the number's two-step PIN (persist.ErrNotFound when none is kept).
func (v *Vault) PIN(ctx context.Context, phoneNumberID string) (string, error) {
	return v.get(ctx, KindPIN, phoneNumberID)
}

// Bind records that the Graph nodes belong to the business, so calls on them use its token.
func (v *Vault) Bind(ctx context.Context, businessID string, nodeIDs ...string) error {
	for _, id := range nodeIDs {
		if id == "" {
			continue
		}
		if err := v.st.PutBinding(ctx, id, businessID); err != nil {
			return fmt.Errorf("bind node to business: %w", err)
		}
		v.remember("bind/"+id, businessID, true)
	}
	return nil
}

// Unbind forgets which business the nodes belong to.
func (v *Vault) Unbind(ctx context.Context, nodeIDs ...string) error {
	for _, id := range nodeIDs {
		if err := v.st.DeleteBinding(ctx, id); err != nil && !errors.Is(err, persist.ErrNotFound) {
			return fmt.Errorf("unbind node: %w", err)
		}
		v.remember("bind/"+id, "", false)
	}
	return nil
}

// BusinessOf returns the business a node belongs to (persist.ErrNotFound when none).
func (v *Vault) BusinessOf(ctx context.Context, nodeID string) (string, error) {
	ck := "bind/" + nodeID
	if c, ok := v.recall(ck); ok {
		if !c.found {
			return "", persist.ErrNotFound
		}
		return c.val, nil
	}
	b, err := v.st.GetBinding(ctx, nodeID)
	if errors.Is(err, persist.ErrNotFound) {
		v.remember(ck, "", false)
		return "", persist.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read binding: %w", err)
	}
	v.remember(ck, b, true)
	return b, nil
}

// TokenFor is the Graph client's token resolution (graph.Options.TokenFor): the token of the
// business the node belongs to, "" for a node of no business (the platform token applies), and
// ErrTokenForgotten for a node whose business's token was forgotten.
func (v *Vault) TokenFor(ctx context.Context, nodeID string) (string, error) {
	b, err := v.BusinessOf(ctx, nodeID)
	if errors.Is(err, persist.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	t, err := v.Token(ctx, b)
	if errors.Is(err, persist.ErrNotFound) {
		return "", ErrTokenForgotten
	}
	return t, err
}
