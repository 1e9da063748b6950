package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/credentials/kmskey"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
)

// NewVault builds the credentials vault for cfg: its data keys wrapped by the local key where one
// is configured (`make run`, tests; a guard rule keeps it empty in deployed templates), else by
// the KMS key named in the configuration (kmsAPI its client), else by nothing (a vault that can
// only forget: a function without KMS permissions). now may be nil.
func NewVault(cfg config.Config, st *store.Store, kmsAPI kmskey.API, now func() time.Time) (*credentials.Vault, error) {
	o := credentials.Options{Store: st, CacheTTL: cfg.CredentialsCacheTTL, Now: now}
	var err error
	switch {
	case cfg.Secrets.CredentialsLocalKey != "":
		raw, derr := base64.StdEncoding.DecodeString(cfg.Secrets.CredentialsLocalKey)
		if derr != nil {
			err = fmt.Errorf("%s is not base64", config.EnvCredentialsLocalKey)
			break
		}
		var k *credentials.LocalKey
		if k, err = credentials.NewLocalKey(raw); err == nil {
			o.Keys = k // a nil *LocalKey in the interface would pass for a key
		}
	case cfg.CredentialsKMSKeyID != "" && kmsAPI != nil:
		o.Keys = kmskey.New(kmsAPI, cfg.CredentialsKMSKeyID)
	}
	return credentials.New(o), err
}

// Onboarding builds the Embedded Signup service (admin API, webhook partner events).
func Onboarding(d Deps) (*onboarding.Service, error) {
	if d.Store == nil || d.Vault == nil {
		return nil, errors.New("onboarding: store and credentials vault are required")
	}
	var g onboarding.Graph
	if d.Graph != nil {
		g = d.Graph
	}
	return onboarding.New(onboarding.Options{
		Store:     d.Store,
		Senders:   OnboardingSenders{d.Store},
		Portfolio: OnboardingSenders{d.Store},
		Secrets:   d.Vault,
		Graph:     g,
		Pool:      d.Pool,
		AppID:     d.Config.Secrets.AppID,
		AppSecret: d.Config.Secrets.AppSecret,
		Log:       d.Log,
		Now:       d.Now,
	})
}

// OnboardingSenders is *store.Store as onboarding.Senders: a taken phone number or id is the
// shared conflict error.
type OnboardingSenders struct{ *store.Store }

var (
	_ onboarding.Senders   = OnboardingSenders{}
	_ onboarding.Portfolio = OnboardingSenders{}
)

// SendersOfBusiness lists the business's senders.
func (a OnboardingSenders) SendersOfBusiness(ctx context.Context, businessID string) ([]*sender.Sender, error) {
	return a.Store.ListSendersByBusiness(ctx, businessID)
}

// LiftTokenHold ends the outbound hold a 190 put on the sends of s's portfolio.
func (a OnboardingSenders) LiftTokenHold(ctx context.Context, s *sender.Sender) error {
	return a.Store.LiftPause(ctx, outbound.PauseScopeTokenOf(s))
}

// CreateSender returns persist.ErrConflict when the phone number or id is taken.
func (a OnboardingSenders) CreateSender(ctx context.Context, s *sender.Sender) error {
	err := a.Store.CreateSender(ctx, s)
	if errors.Is(err, store.ErrPhoneTaken) || errors.Is(err, store.ErrSenderExists) {
		return persist.ErrConflict
	}
	return err
}
