// Package app composes each function from its adapters: one constructor per function, used by
// the Lambda mains, by `make run` (cmd/localrun) and by the integration tests, so all three run
// the same wiring.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/awsclient"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/credentials/kmskey"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/store"
)

// Deps are the adapters every function is built from.
type Deps struct {
	Config config.Config
	Store  *store.Store
	SQS    *sqs.Client
	Graph  *graph.Client
	// Vault keeps business tokens and PINs; the Graph client resolves tokens through it. Nil
	// in tests that need neither: every call then uses the platform token.
	Vault *credentials.Vault
	// Pool claims the platform's pre-verified numbers during onboarding (nil: no pool).
	Pool onboarding.PoolClaimer
	Log  *slog.Logger
	// Now is the clock (time.Now in production; tests pass a fake).
	Now func() time.Time
}

// FromAWS builds the production adapters from the configuration and the SDK configuration,
// all but the Graph API client (WithGraph adds it). It is called once per cold start. When need
// asks for the credentials key, a vault that cannot seal or open (a malformed local key, no key)
// fails the cold start: every business send would otherwise fail. Functions that only forget
// tokens (the webhook) log it and go on with a vault without a key.
func FromAWS(cfg config.Config, awsCfg aws.Config, need config.Need, log *slog.Logger) (Deps, error) {
	st := store.New(awsclient.DynamoDB(awsCfg), cfg.TableName, nil)
	var kmsAPI kmskey.API
	if cfg.CredentialsKMSKeyID != "" && cfg.Secrets.CredentialsLocalKey == "" {
		kmsAPI = kms.NewFromConfig(awsCfg)
	}
	vault, err := NewVault(cfg, st, kmsAPI, nil)
	if err == nil && need.CredentialsKey && kmsAPI == nil && cfg.Secrets.CredentialsLocalKey == "" {
		err = &config.MissingError{Name: config.EnvCredentialsKMSKey}
	}
	if err != nil {
		if need.CredentialsKey {
			return Deps{}, fmt.Errorf("credentials vault: %w", err)
		}
		if log != nil {
			log.Error("credentials vault: business tokens and PINs cannot be sealed or opened", "error", err.Error())
		}
	}
	return Deps{
		Config: cfg,
		Store:  st,
		SQS:    awsclient.SQS(awsCfg),
		Vault:  vault,
		Log:    log,
		Now:    time.Now,
	}, nil
}

// WithGraph returns d with the Graph API client, whose calls on a business's WABA or number use
// that business's token from d.Vault. Only the functions that call Graph add it: the webhook
// then holds no path to the vault's KMS unwrap (its role has no KMS grant).
func (d Deps) WithGraph() Deps {
	d.Graph = NewGraphFor(d.Config, d.Vault)
	return d
}

// NewGraphFor returns the Graph API client for cfg whose calls on a business's WABA or number
// use that business's token from v (nil v: the platform token for every call).
func NewGraphFor(cfg config.Config, v *credentials.Vault) *graph.Client {
	o := graph.Options{
		BaseURL: cfg.GraphBaseURL,
		Version: cfg.GraphVersion,
		Token:   cfg.Secrets.AccessToken,
	}
	if v != nil {
		o.TokenFor = tokenFor(v)
	}
	return graph.New(o)
}

// tokenFor is v's token resolution in the Graph client's terms: a forgotten business token is
// graph.ErrTokenRefused (the business's sends pause), any other failure stays retryable.
func tokenFor(v *credentials.Vault) func(ctx context.Context, nodeID string) (string, error) {
	return func(ctx context.Context, nodeID string) (string, error) {
		t, err := v.TokenFor(ctx, nodeID)
		if errors.Is(err, credentials.ErrTokenForgotten) {
			return "", fmt.Errorf("%w: %w", graph.ErrTokenRefused, err)
		}
		return t, err
	}
}

// Bootstrap is the cold start shared by every Lambda main: configuration (secrets included),
// SDK clients and a JSON logger. A missing setting is returned as *config.MissingError; a
// credentials key that cannot be used, when need asks for it, as an error too.
func Bootstrap(ctx context.Context, need config.Need, log *slog.Logger) (Deps, error) {
	cfg, awsCfg, err := awsclient.Bootstrap(ctx, need)
	if err != nil {
		return Deps{}, err
	}
	return FromAWS(cfg, awsCfg, need, log)
}
