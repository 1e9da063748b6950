package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type fakeSecrets struct {
	raw   string
	calls int
	// byARN, when set, answers per ARN (and records which were read).
	byARN map[string]string
	read  []string
}

func (f *fakeSecrets) SecretString(_ context.Context, arn string) (string, error) {
	f.calls++
	f.read = append(f.read, arn)
	if f.byARN != nil {
		v, ok := f.byARN[arn]
		if !ok {
			return "", fmt.Errorf("no secret %s", arn)
		}
		return v, nil
	}
	return f.raw, nil
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	t.Parallel()
	all := Need{OutboundQueue: true, InboundQueue: true, AppSecret: true, VerifyToken: true, AccessToken: true}
	cases := []struct {
		name    string
		env     map[string]string
		secret  string
		need    Need
		missing string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			env:  map[string]string{},
			check: func(t *testing.T, c Config) {
				if c.TableName != DefaultTableName || c.GraphBaseURL != DefaultGraphBaseURL || c.GraphVersion != DefaultGraphVersion ||
					c.FreeEntryWindow != 72*time.Hour || c.ThroughputPerSecond != 80 {
					t.Fatalf("defaults: %+v", c)
				}
			},
		},
		{
			name:    "missing queue named",
			env:     map[string]string{EnvAppSecret: "a", EnvVerifyToken: "v", EnvAccessToken: "t"},
			need:    all,
			missing: EnvOutboundQueueURL,
		},
		{
			name: "secrets from manager, env wins",
			env: map[string]string{EnvOutboundQueueURL: "o", EnvInboundQueueURL: "i", EnvWebhookSecretARN: "arn:x",
				EnvPlatformSecretARN: "arn:x", EnvAppSecret: "from-env"},
			secret: `{"WHATSAPP_APP_SECRET":"sm-app","WHATSAPP_VERIFY_TOKEN":"sm-verify","WHATSAPP_ACCESS_TOKEN":"sm-token"}`,
			need:   all,
			check: func(t *testing.T, c Config) {
				if c.Secrets.AppSecret != "from-env" || c.Secrets.VerifyToken != "sm-verify" || c.Secrets.AccessToken != "sm-token" {
					t.Fatal("secrets not merged as expected")
				}
			},
		},
		{
			name:    "empty app secret is an error, not a skip",
			env:     map[string]string{EnvVerifyToken: "v"},
			need:    Need{AppSecret: true},
			missing: EnvAppSecret,
		},
		{
			name: "stop keywords and base url trimmed",
			env:  map[string]string{EnvStopKeywords: "stop, arrêt ,", EnvGraphBaseURL: "http://127.0.0.1:8090/"},
			check: func(t *testing.T, c Config) {
				if strings.Join(c.StopKeywords, "|") != "stop|arrêt" || c.GraphBaseURL != "http://127.0.0.1:8090" {
					t.Fatalf("got %q %q", c.StopKeywords, c.GraphBaseURL)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &fakeSecrets{raw: tc.secret}
			c, err := Load(context.Background(), env(tc.env), src, tc.need)
			if tc.missing != "" {
				var me *MissingError
				if !errors.As(err, &me) || me.Name != tc.missing {
					t.Fatalf("err = %v; want missing %s", err, tc.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	c := Config{Secrets: Secrets{AppSecret: "s3cr3t", AccessToken: "EAAG-token"}}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "EAAG-token") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

// TestCredentialsLocalKeyNeverPrinted: the key that wraps business tokens and PINs is read
// from the environment and stays out of every print and log line of the Config.
func TestCredentialsLocalKeyNeverPrinted(t *testing.T) {
	t.Parallel()
	const key = "S2V5VGhhdFdyYXBzVG9rZW5zQW5kUElOc0Zvckdvb2Q="
	c, err := Load(context.Background(), env(map[string]string{EnvCredentialsLocalKey: key}), nil, Need{CredentialsKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Secrets.CredentialsLocalKey != key {
		t.Fatalf("local key not read: %q", c.Secrets.CredentialsLocalKey)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", c)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logs.String()} {
		if strings.Contains(s, key) {
			t.Fatalf("credentials key printed: %s", s)
		}
	}
}

func TestBadSecretJSONDoesNotEcho(t *testing.T) {
	t.Parallel()
	src := &fakeSecrets{raw: `not-json-but-secret-ish`}
	_, err := Load(context.Background(), env(map[string]string{EnvWebhookSecretARN: "arn:x"}), src, Need{AppSecret: true})
	if err == nil || strings.Contains(err.Error(), "secret-ish") {
		t.Fatalf("err = %v", err)
	}
}

// TestEachFunctionReadsOnlyItsSecrets: the webhook reads only the webhook secret and never takes
// a Graph token from it; the Graph-calling functions read only the platform secret; each
// secret is read once however many of its values are needed.
func TestEachFunctionReadsOnlyItsSecrets(t *testing.T) {
	t.Parallel()
	const webhookARN, platformARN = "arn:webhook", "arn:platform"
	secrets := map[string]string{
		// A token put in the webhook's secret by mistake must not reach the webhook.
		webhookARN:  `{"WHATSAPP_APP_SECRET":"app","WHATSAPP_VERIFY_TOKEN":"verify","WHATSAPP_ACCESS_TOKEN":"leaked"}`,
		platformARN: `{"WHATSAPP_ACCESS_TOKEN":"token","WHATSAPP_APP_SECRET":"not-for-graph-functions"}`,
	}
	vars := map[string]string{EnvWebhookSecretARN: webhookARN, EnvPlatformSecretARN: platformARN}
	for _, tc := range []struct {
		name     string
		need     Need
		wantRead []string
		want     Secrets
	}{
		{"webhook", Need{AppSecret: true, VerifyToken: true}, []string{webhookARN}, Secrets{AppSecret: "app", VerifyToken: "verify"}},
		{"outbound", Need{AccessToken: true}, []string{platformARN}, Secrets{AccessToken: "token"}},
		{"both", Need{AppSecret: true, VerifyToken: true, AccessToken: true}, []string{webhookARN, platformARN},
			Secrets{AppSecret: "app", VerifyToken: "verify", AccessToken: "token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &fakeSecrets{byARN: secrets}
			c, err := Load(context.Background(), env(vars), src, tc.need)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(src.read, ",") != strings.Join(tc.wantRead, ",") {
				t.Errorf("read secrets %v, want %v", src.read, tc.wantRead)
			}
			if c.Secrets != tc.want {
				t.Errorf("secrets = {%q %q %q}, want {%q %q %q}", c.Secrets.AppSecret, c.Secrets.VerifyToken, c.Secrets.AccessToken,
					tc.want.AppSecret, tc.want.VerifyToken, tc.want.AccessToken)
			}
		})
	}
}

// TestSecretWithoutItsARNIsMissing: a function whose secret's ARN variable is absent fails at
// cold start naming the value it lacks, and reads no other secret instead.
func TestSecretWithoutItsARNIsMissing(t *testing.T) {
	t.Parallel()
	src := &fakeSecrets{byARN: map[string]string{"arn:webhook": `{"WHATSAPP_ACCESS_TOKEN":"t"}`}}
	_, err := Load(context.Background(), env(map[string]string{EnvWebhookSecretARN: "arn:webhook"}), src, Need{AccessToken: true})
	var me *MissingError
	if !errors.As(err, &me) || me.Name != EnvAccessToken {
		t.Fatalf("err = %v, want missing %s", err, EnvAccessToken)
	}
	if len(src.read) != 0 {
		t.Errorf("read %v for a value none of them holds", src.read)
	}
}

// TestAppSecretFromTheSecretTheFunctionHas: the app secret comes from whichever secret the
// function is given (the webhook's for the webhook, the platform's for senders, which needs it
// for the Embedded Signup code exchange), and no function reads a secret it was not given.
func TestAppSecretFromTheSecretTheFunctionHas(t *testing.T) {
	t.Parallel()
	const webhookARN, platformARN = "arn:webhook", "arn:platform"
	secrets := map[string]string{
		webhookARN:  `{"WHATSAPP_APP_SECRET":"app-webhook","WHATSAPP_VERIFY_TOKEN":"verify","WHATSAPP_APP_ID":"not-for-webhook"}`,
		platformARN: `{"WHATSAPP_ACCESS_TOKEN":"token","WHATSAPP_APP_SECRET":"app-platform","WHATSAPP_APP_ID":"123","WHATSAPP_VERIFY_TOKEN":"not-for-senders"}`,
	}
	for _, tc := range []struct {
		name     string
		vars     map[string]string
		need     Need
		wantRead []string
		want     Secrets
		missing  string
	}{
		{"webhook", map[string]string{EnvWebhookSecretARN: webhookARN}, Need{AppSecret: true, VerifyToken: true},
			[]string{webhookARN}, Secrets{AppSecret: "app-webhook", VerifyToken: "verify"}, ""},
		{"senders", map[string]string{EnvPlatformSecretARN: platformARN}, Need{AccessToken: true, AppSecret: true, AppID: true},
			[]string{platformARN}, Secrets{AppSecret: "app-platform", AccessToken: "token", AppID: "123"}, ""},
		{"both given: the webhook's first", map[string]string{EnvWebhookSecretARN: webhookARN, EnvPlatformSecretARN: platformARN},
			Need{AppSecret: true}, []string{webhookARN}, Secrets{AppSecret: "app-webhook"}, ""},
		{"verify token never from the platform secret", map[string]string{EnvPlatformSecretARN: platformARN},
			Need{VerifyToken: true}, nil, Secrets{}, EnvVerifyToken},
		{"app id never from the webhook secret", map[string]string{EnvWebhookSecretARN: webhookARN},
			Need{AppID: true}, nil, Secrets{}, EnvAppID},
		{"env wins over both", map[string]string{EnvPlatformSecretARN: platformARN, EnvAppSecret: "from-env"},
			Need{AppSecret: true}, nil, Secrets{AppSecret: "from-env"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &fakeSecrets{byARN: secrets}
			c, err := Load(context.Background(), env(tc.vars), src, tc.need)
			if strings.Join(src.read, ",") != strings.Join(tc.wantRead, ",") {
				t.Errorf("read secrets %v, want %v", src.read, tc.wantRead)
			}
			if tc.missing != "" {
				var me *MissingError
				if !errors.As(err, &me) || me.Name != tc.missing {
					t.Fatalf("err = %v, want missing %s", err, tc.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Secrets != tc.want {
				t.Errorf("secrets = {%q %q %q %q}, want {%q %q %q %q}", c.Secrets.AppSecret, c.Secrets.VerifyToken, c.Secrets.AccessToken,
					c.Secrets.AppID, tc.want.AppSecret, tc.want.VerifyToken, tc.want.AccessToken, tc.want.AppID)
			}
		})
	}
}

// TestCredentialsSettings: the vault's settings are read, and a bad cache TTL is an error.
func TestCredentialsSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(context.Background(), env(map[string]string{EnvCredentialsKMSKey: "alias/k", EnvCredentialsLocalKey: "bG9jYWw=",
		EnvCredentialsCacheTTL: "30s"}), nil, Need{})
	if err != nil {
		t.Fatal(err)
	}
	if c.CredentialsKMSKeyID != "alias/k" || c.Secrets.CredentialsLocalKey != "bG9jYWw=" || c.CredentialsCacheTTL != 30*time.Second {
		t.Fatalf("got %q %q %v", c.CredentialsKMSKeyID, c.Secrets.CredentialsLocalKey, c.CredentialsCacheTTL)
	}
	// A function that seals or opens tokens needs a key; one that only forgets them does not.
	var me *MissingError
	if _, err := Load(context.Background(), env(nil), nil, Need{CredentialsKey: true}); !errors.As(err, &me) || me.Name != EnvCredentialsKMSKey {
		t.Errorf("no credentials key with Need.CredentialsKey: err = %v; want missing %s", err, EnvCredentialsKMSKey)
	}
	if _, err := Load(context.Background(), env(nil), nil, Need{}); err != nil {
		t.Errorf("no credentials key without Need.CredentialsKey: %v", err)
	}
	for _, bad := range []string{"0s", "-1m", "soon"} {
		if _, err := Load(context.Background(), env(map[string]string{EnvCredentialsCacheTTL: bad}), nil, Need{}); err == nil {
			t.Errorf("%s=%q accepted", EnvCredentialsCacheTTL, bad)
		}
	}
}
