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

// TestCarrierSecretsFromThePlatformSecret: the carrier's credentials come from the platform
// secret, never from the webhook's, and are not read at all while platform numbers are off.
func TestCarrierSecretsFromThePlatformSecret(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"arn:platform": `{"WHATSAPP_ACCESS_TOKEN":"a","TWILIO_ACCOUNT_SID":"AC9","TWILIO_AUTH_TOKEN":"tok9"}`,
		"arn:webhook":  `{"WHATSAPP_APP_SECRET":"s","TWILIO_ACCOUNT_SID":"AC-wrong","TWILIO_AUTH_TOKEN":"tok-wrong"}`,
	}
	var read []string
	src := secretFunc(func(_ context.Context, arn string) (string, error) {
		read = append(read, arn)
		return secrets[arn], nil
	})
	on := map[string]string{EnvPlatformSecretARN: "arn:platform", EnvNumberPoolMode: "waba", EnvCarrierWebhookBaseURL: "https://x"}
	cfg, err := Load(context.Background(), func(k string) string { return on[k] }, src, Need{AccessToken: true, Carrier: true})
	if err != nil || cfg.Secrets.CarrierAccountSID != "AC9" || cfg.Secrets.CarrierAuthToken != "tok9" {
		t.Fatalf("%v %v", err, cfg.Secrets.CarrierAccountSID)
	}
	webhookOnly := map[string]string{EnvWebhookSecretARN: "arn:webhook", EnvNumberPoolMode: "waba", EnvCarrierWebhookBaseURL: "https://x"}
	_, err = Load(context.Background(), func(k string) string { return webhookOnly[k] }, src, Need{Carrier: true})
	var me *MissingError
	if !errors.As(err, &me) || me.Name != EnvCarrierAccountSID {
		t.Fatalf("carrier secrets from the webhook secret: err = %v, want missing %s", err, EnvCarrierAccountSID)
	}
	read = nil
	off := map[string]string{EnvPlatformSecretARN: "arn:platform"}
	cfg, err = Load(context.Background(), func(k string) string { return off[k] }, src, Need{Carrier: true})
	if err != nil || cfg.Secrets.CarrierAuthToken != "" || len(read) != 0 {
		t.Fatalf("platform numbers off: err %v, token read %v, secrets read %v", err, cfg.Secrets.CarrierAuthToken != "", read)
	}
}

type secretFunc func(context.Context, string) (string, error)

func (f secretFunc) SecretString(ctx context.Context, arn string) (string, error) { return f(ctx, arn) }
