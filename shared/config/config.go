// Package config reads the configuration contract every function shares.
//
// Plain settings come from the environment with defaults in code. Each secret value comes from
// the environment when set (local runs) and otherwise, once per cold start, from the Secrets
// Manager secret that holds it (a JSON object keyed by the same names as the variables):
//
//   - WEBHOOK_SECRET_ARN names the webhook's secret: WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN;
//   - PLATFORM_SECRET_ARN names the secret of the functions that call Graph:
//     WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_ID, the carrier's TWILIO_ACCOUNT_SID and
//     TWILIO_AUTH_TOKEN (platform numbers) and the platform's other credentials, plus
//     WHATSAPP_APP_SECRET for the senders function (the Embedded Signup code exchange).
//
// A function reads only the secrets holding what its Need asks for, and takes from each secret
// only the keys that secret is meant to hold, so the webhook never holds a Graph token even if
// one were put in its secret. A value two secrets may hold (the app secret) comes from the one
// the function is given. To add a secret value: a field in Secrets, a flag in Need and one line
// in secretKeys.
package config

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variable names: the configuration contract (README has the table).
const (
	EnvTableName         = "TABLE_NAME"
	EnvOutboundQueueURL  = "OUTBOUND_QUEUE_URL"
	EnvInboundQueueURL   = "INBOUND_QUEUE_URL"
	EnvGraphBaseURL      = "GRAPH_API_BASE_URL"
	EnvGraphVersion      = "GRAPH_API_VERSION"
	EnvAppSecret         = "WHATSAPP_APP_SECRET"
	EnvVerifyToken       = "WHATSAPP_VERIFY_TOKEN"
	EnvAccessToken       = "WHATSAPP_ACCESS_TOKEN"
	EnvWebhookSecretARN  = "WEBHOOK_SECRET_ARN"
	EnvPlatformSecretARN = "PLATFORM_SECRET_ARN"
	EnvStopKeywords      = "STOP_KEYWORDS"
	EnvFreeEntryWindow   = "FREE_ENTRY_WINDOW"
	EnvThroughput        = "SENDER_THROUGHPUT_PER_SECOND"
	EnvLogLevel          = "LOG_LEVEL"
	// EnvAppID is the Meta app id (for the Embedded Signup code exchange), kept with the
	// other platform secrets.
	EnvAppID = "WHATSAPP_APP_ID"
	// EnvCredentialsKMSKey is the KMS key that wraps business tokens and PINs (AWS).
	EnvCredentialsKMSKey = "CREDENTIALS_KMS_KEY_ID"
	// EnvCredentialsLocalKey is a base64 32-byte key that wraps them where no KMS exists
	// (`make run`, tests); it wins over the KMS key. Deployed templates keep it empty.
	EnvCredentialsLocalKey = "CREDENTIALS_LOCAL_KEY"
	// EnvCredentialsCacheTTL bounds how long a warm instance uses a token it read (default 1m).
	EnvCredentialsCacheTTL = "CREDENTIALS_CACHE_TTL"
)

// Defaults for the non-secret settings.
const (
	DefaultTableName       = "wa-senders"
	DefaultGraphBaseURL    = "https://graph.facebook.com"
	DefaultGraphVersion    = "v26.0"
	DefaultFreeEntryWindow = 72 * time.Hour
	DefaultThroughput      = 80
)

// Config is everything a function reads at cold start.
type Config struct {
	TableName        string
	OutboundQueueURL string
	InboundQueueURL  string
	GraphBaseURL     string
	GraphVersion     string
	// StopKeywords overrides the embedded opt-out keyword list when non-empty.
	StopKeywords []string
	// FreeEntryWindow is how long a window opened from a Click-to-WhatsApp referral lasts.
	FreeEntryWindow time.Duration
	// ThroughputPerSecond paces sends per sender (Meta's default is 80 messages/s).
	ThroughputPerSecond int
	LogLevel            string
	Secrets             Secrets
	// CredentialsKMSKeyID, Secrets.CredentialsLocalKey and CredentialsCacheTTL configure the
	// business-credentials vault (shared/credentials).
	CredentialsKMSKeyID string
	CredentialsCacheTTL time.Duration
	// Numbers configures platform numbers (numbers.go).
	Numbers Numbers
}

// Secrets are never logged; String redacts them.
type Secrets struct {
	AppSecret   string `json:"WHATSAPP_APP_SECRET"`
	VerifyToken string `json:"WHATSAPP_VERIFY_TOKEN"`
	AccessToken string `json:"WHATSAPP_ACCESS_TOKEN"`
	AppID       string `json:"WHATSAPP_APP_ID"`
	// The carrier's credentials, read when platform numbers are on.
	CarrierAccountSID string `json:"TWILIO_ACCOUNT_SID"`
	CarrierAuthToken  string `json:"TWILIO_AUTH_TOKEN"`
	// CredentialsLocalKey (EnvCredentialsLocalKey) wraps business tokens and PINs where no KMS
	// exists. Read from the environment only: no Secrets Manager secret holds it.
	CredentialsLocalKey string `json:"-"`
}

// secretKey is one secret value: the variable that carries it (also its key in the secret's
// JSON), the variables naming the ARNs of the secrets that may hold it, where it goes and who
// needs it. A value held by more than one secret comes from the first of them the function is
// given: each function is given only the secrets whose values it uses (the webhook reads the app
// secret from the webhook secret; the senders function, which needs it for the Embedded Signup
// code exchange, from the platform secret).
type secretKey struct {
	env     string
	arnEnvs []string
	field   func(*Secrets) *string
	needed  func(Need) bool
}

var secretKeys = []secretKey{
	{EnvAppSecret, []string{EnvWebhookSecretARN, EnvPlatformSecretARN}, func(s *Secrets) *string { return &s.AppSecret }, func(n Need) bool { return n.AppSecret }},
	{EnvVerifyToken, []string{EnvWebhookSecretARN}, func(s *Secrets) *string { return &s.VerifyToken }, func(n Need) bool { return n.VerifyToken }},
	{EnvAccessToken, []string{EnvPlatformSecretARN}, func(s *Secrets) *string { return &s.AccessToken }, func(n Need) bool { return n.AccessToken }},
	{EnvAppID, []string{EnvPlatformSecretARN}, func(s *Secrets) *string { return &s.AppID }, func(n Need) bool { return n.AppID }},
	{EnvCarrierAccountSID, []string{EnvPlatformSecretARN}, func(s *Secrets) *string { return &s.CarrierAccountSID }, func(n Need) bool { return n.Carrier }},
	{EnvCarrierAuthToken, []string{EnvPlatformSecretARN}, func(s *Secrets) *string { return &s.CarrierAuthToken }, func(n Need) bool { return n.Carrier }},
}

// String keeps secrets out of any accidental %v.
func (Secrets) String() string { return "Secrets{redacted}" }

// GoString keeps secrets out of %#v.
func (s Secrets) GoString() string { return s.String() }

// MissingError names the first required setting that is absent.
type MissingError struct{ Name string }

func (e *MissingError) Error() string { return "missing required setting " + e.Name }

// SecretSource fetches the JSON secret string named by an ARN (Secrets Manager in AWS).
type SecretSource interface {
	SecretString(ctx context.Context, arn string) (string, error)
}

// Need lists what a function requires beyond the defaults.
type Need struct {
	OutboundQueue bool
	InboundQueue  bool
	AppSecret     bool
	VerifyToken   bool
	AccessToken   bool
	AppID         bool
	// Carrier needs the carrier's credentials when platform numbers are on.
	Carrier bool
	// CredentialsKey: the function seals or opens business tokens and PINs, so a key to wrap
	// them (EnvCredentialsKMSKey or EnvCredentialsLocalKey) is required. The webhook only
	// forgets tokens and holds no key.
	CredentialsKey bool
}

// Load reads the environment (through getenv, os.Getenv when nil), fills each secret value need
// asks for and the environment lacks from the secret that holds it (src, once per secret), and
// checks what need asks for.
func Load(ctx context.Context, getenv func(string) string, src SecretSource, need Need) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		TableName:           get(EnvTableName, DefaultTableName),
		OutboundQueueURL:    get(EnvOutboundQueueURL, ""),
		InboundQueueURL:     get(EnvInboundQueueURL, ""),
		GraphBaseURL:        strings.TrimRight(get(EnvGraphBaseURL, DefaultGraphBaseURL), "/"),
		GraphVersion:        get(EnvGraphVersion, DefaultGraphVersion),
		FreeEntryWindow:     DefaultFreeEntryWindow,
		LogLevel:            get(EnvLogLevel, "INFO"),
		CredentialsKMSKeyID: get(EnvCredentialsKMSKey, ""),
	}
	for _, k := range secretKeys {
		*k.field(&c.Secrets) = getenv(k.env)
	}
	c.Secrets.CredentialsLocalKey = getenv(EnvCredentialsLocalKey)
	if v := get(EnvCredentialsCacheTTL, ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("%s: want a positive duration such as 1m, got %q", EnvCredentialsCacheTTL, v)
		}
		c.CredentialsCacheTTL = d
	}
	numbers, err := loadNumbers(get)
	if err != nil {
		return Config{}, err
	}
	c.Numbers = numbers
	// The carrier's credentials are needed only while platform numbers are on.
	need.Carrier = need.Carrier && c.Numbers.Enabled()
	if kw := get(EnvStopKeywords, ""); kw != "" {
		for _, k := range strings.Split(kw, ",") {
			if k = strings.TrimSpace(k); k != "" {
				c.StopKeywords = append(c.StopKeywords, k)
			}
		}
	}
	if v := get(EnvFreeEntryWindow, ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("%s: want a positive duration such as 72h, got %q", EnvFreeEntryWindow, v)
		}
		c.FreeEntryWindow = d
	}
	c.ThroughputPerSecond = DefaultThroughput
	if v := get(EnvThroughput, ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("%s: want a positive integer, got %q", EnvThroughput, v)
		}
		c.ThroughputPerSecond = n
	}

	if err := fillSecrets(ctx, &c.Secrets, get, src, need); err != nil {
		return Config{}, err
	}

	for _, req := range []struct {
		on    bool
		name  string
		value string
	}{
		{need.OutboundQueue, EnvOutboundQueueURL, c.OutboundQueueURL},
		{need.InboundQueue, EnvInboundQueueURL, c.InboundQueueURL},
		{need.AppSecret, EnvAppSecret, c.Secrets.AppSecret},
		{need.VerifyToken, EnvVerifyToken, c.Secrets.VerifyToken},
		{need.AccessToken, EnvAccessToken, c.Secrets.AccessToken},
		{need.AppID, EnvAppID, c.Secrets.AppID},
		{need.Carrier, EnvCarrierAccountSID, c.Secrets.CarrierAccountSID},
		{need.Carrier, EnvCarrierAuthToken, c.Secrets.CarrierAuthToken},
	} {
		if req.on && req.value == "" {
			return Config{}, &MissingError{Name: req.name}
		}
	}
	if need.CredentialsKey && c.CredentialsKMSKeyID == "" && c.Secrets.CredentialsLocalKey == "" {
		return Config{}, &MissingError{Name: EnvCredentialsKMSKey}
	}
	return c, nil
}

// fillSecrets reads, once each, the secrets holding the values need asks for that are still
// empty, and takes from each only the keys it is meant to hold. Plain variables win where set.
func fillSecrets(ctx context.Context, s *Secrets, get func(name, def string) string, src SecretSource, need Need) error {
	read := map[string]map[string]string{} // by ARN variable
	for _, k := range secretKeys {
		if !k.needed(need) || *k.field(s) != "" {
			continue
		}
		arnEnv, arn := "", ""
		for _, e := range k.arnEnvs {
			if arn = get(e, ""); arn != "" {
				arnEnv = e
				break
			}
		}
		if arn == "" {
			continue // reported as the missing value below
		}
		values, ok := read[arnEnv]
		if !ok {
			if src == nil {
				return fmt.Errorf("%s is set but no secret source is wired", arnEnv)
			}
			raw, err := src.SecretString(ctx, arn)
			if err != nil {
				return fmt.Errorf("read secret %s: %w", arnEnv, err)
			}
			if err := json.Unmarshal([]byte(raw), &values); err != nil {
				// The error text could echo secret bytes: say only where it failed.
				return fmt.Errorf("secret named by %s is not a JSON object of strings", arnEnv)
			}
			read[arnEnv] = values
		}
		*k.field(s) = values[k.env]
	}
	return nil
}
