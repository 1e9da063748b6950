package config

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNumbersSettings(t *testing.T) {
	t.Parallel()
	base := map[string]string{EnvAccessToken: "t"}
	cases := []struct {
		name    string
		env     map[string]string
		need    Need
		missing string
		check   func(t *testing.T, c Config)
	}{
		{name: "off by default", check: func(t *testing.T, c Config) {
			if c.Numbers.Enabled() {
				t.Fatal("enabled")
			}
		}},
		{name: "preverified needs a portfolio", env: map[string]string{EnvNumberPoolMode: "preverified", EnvCarrierWebhookBaseURL: "https://x"}, missing: EnvBusinessPortfolioID},
		{name: "needs a webhook base", env: map[string]string{EnvNumberPoolMode: "waba"}, missing: EnvCarrierWebhookBaseURL},
		{name: "carrier secrets required when on", env: map[string]string{EnvNumberPoolMode: "waba", EnvCarrierWebhookBaseURL: "https://x"},
			need: Need{Carrier: true}, missing: EnvCarrierAccountSID},
		{name: "all set", env: map[string]string{EnvNumberPoolMode: "preverified", EnvCarrierWebhookBaseURL: "https://x/", EnvBusinessPortfolioID: "1",
			EnvNumberHold: "48h", EnvNumberVoiceCountries: "ro, de", EnvCarrierAccountSID: "AC1", EnvCarrierAuthToken: "tok"},
			need: Need{Carrier: true}, check: func(t *testing.T, c Config) {
				n := c.Numbers
				if n.WebhookBaseURL != "https://x" || n.Hold != 48*time.Hour || len(n.VoiceCountries) != 2 || n.VoiceCountries[0] != "RO" ||
					n.CodeTimeout != DefaultNumberCodeTimeout || c.Secrets.CarrierAuthToken != "tok" {
					t.Fatalf("numbers: %+v", n)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range c.env {
				env[k] = v
			}
			cfg, err := Load(context.Background(), func(k string) string { return env[k] }, nil, c.need)
			var me *MissingError
			if c.missing != "" {
				if !errors.As(err, &me) || me.Name != c.missing {
					t.Fatalf("err %v, want missing %s", err, c.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
	if _, err := Load(context.Background(), func(k string) string {
		return map[string]string{EnvNumberPoolMode: "maybe"}[k]
	}, nil, Need{}); err == nil {
		t.Fatal("bad mode accepted")
	}
}

func TestCarrierSecretsFromSecretsManager(t *testing.T) {
	t.Parallel()
	env := map[string]string{EnvSecretARN: "arn:x", EnvNumberPoolMode: "waba", EnvCarrierWebhookBaseURL: "https://x"}
	src := secretFunc(func(context.Context, string) (string, error) {
		return `{"WHATSAPP_ACCESS_TOKEN":"a","TWILIO_ACCOUNT_SID":"AC9","TWILIO_AUTH_TOKEN":"tok9"}`, nil
	})
	cfg, err := Load(context.Background(), func(k string) string { return env[k] }, src, Need{AccessToken: true, Carrier: true})
	if err != nil || cfg.Secrets.CarrierAccountSID != "AC9" || cfg.Secrets.CarrierAuthToken != "tok9" {
		t.Fatalf("%v %v", err, cfg.Secrets.CarrierAccountSID)
	}
}

type secretFunc func(context.Context, string) (string, error)

func (f secretFunc) SecretString(ctx context.Context, arn string) (string, error) { return f(ctx, arn) }
