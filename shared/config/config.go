// Package config reads the configuration contract every function shares.
//
// Plain settings come from the environment with defaults in code. The three secrets come from
// the environment when set (local runs) and otherwise, once per cold start, from the Secrets
// Manager secret named by WHATSAPP_SECRET_ARN (a JSON object with the same keys).
package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variable names: the configuration contract (README has the table).
const (
	EnvTableName        = "TABLE_NAME"
	EnvOutboundQueueURL = "OUTBOUND_QUEUE_URL"
	EnvInboundQueueURL  = "INBOUND_QUEUE_URL"
	EnvGraphBaseURL     = "GRAPH_API_BASE_URL"
	EnvGraphVersion     = "GRAPH_API_VERSION"
	EnvAppSecret        = "WHATSAPP_APP_SECRET"
	EnvVerifyToken      = "WHATSAPP_VERIFY_TOKEN"
	EnvAccessToken      = "WHATSAPP_ACCESS_TOKEN"
	EnvSecretARN        = "WHATSAPP_SECRET_ARN"
	EnvStopKeywords     = "STOP_KEYWORDS"
	EnvFreeEntryWindow  = "FREE_ENTRY_WINDOW"
	EnvThroughput       = "SENDER_THROUGHPUT_PER_SECOND"
	EnvLogLevel         = "LOG_LEVEL"
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
	// Numbers configures platform numbers (numbers.go).
	Numbers Numbers
}

// Secrets are never logged; String redacts them.
type Secrets struct {
	AppSecret   string `json:"WHATSAPP_APP_SECRET"`
	VerifyToken string `json:"WHATSAPP_VERIFY_TOKEN"`
	AccessToken string `json:"WHATSAPP_ACCESS_TOKEN"`
	// The carrier's credentials, read when platform numbers are on.
	CarrierAccountSID string `json:"TWILIO_ACCOUNT_SID"`
	CarrierAuthToken  string `json:"TWILIO_AUTH_TOKEN"`
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
	// Carrier needs the carrier's credentials when platform numbers are on.
	Carrier bool
}

// Load reads the environment (through getenv, os.Getenv when nil), fills secrets from src when
// WHATSAPP_SECRET_ARN is set and a secret is not in the environment, and checks what need asks for.
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
		TableName:        get(EnvTableName, DefaultTableName),
		OutboundQueueURL: get(EnvOutboundQueueURL, ""),
		InboundQueueURL:  get(EnvInboundQueueURL, ""),
		GraphBaseURL:     strings.TrimRight(get(EnvGraphBaseURL, DefaultGraphBaseURL), "/"),
		GraphVersion:     get(EnvGraphVersion, DefaultGraphVersion),
		FreeEntryWindow:  DefaultFreeEntryWindow,
		LogLevel:         get(EnvLogLevel, "INFO"),
		Secrets: Secrets{
			AppSecret:   getenv(EnvAppSecret),
			VerifyToken: getenv(EnvVerifyToken),
			AccessToken: getenv(EnvAccessToken),
		},
	}
	c.Secrets.CarrierAccountSID, c.Secrets.CarrierAuthToken = getenv(EnvCarrierAccountSID), getenv(EnvCarrierAuthToken)
	numbers, err := loadNumbers(get)
	if err != nil {
		return Config{}, err
	}
	c.Numbers = numbers
	needCarrier := need.Carrier && c.Numbers.Enabled()
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

	needSecret := need.AppSecret && c.Secrets.AppSecret == "" ||
		need.VerifyToken && c.Secrets.VerifyToken == "" ||
		need.AccessToken && c.Secrets.AccessToken == "" ||
		needCarrier && (c.Secrets.CarrierAccountSID == "" || c.Secrets.CarrierAuthToken == "")
	if arn := get(EnvSecretARN, ""); arn != "" && needSecret {
		if src == nil {
			return Config{}, errors.New("WHATSAPP_SECRET_ARN is set but no secret source is wired")
		}
		raw, err := src.SecretString(ctx, arn)
		if err != nil {
			return Config{}, fmt.Errorf("read secret %s: %w", EnvSecretARN, err)
		}
		var fromSM Secrets
		if err := json.Unmarshal([]byte(raw), &fromSM); err != nil {
			// The error text could echo secret bytes: say only where it failed.
			return Config{}, fmt.Errorf("secret named by %s is not a JSON object of strings", EnvSecretARN)
		}
		// Plain variables win where set, for local runs.
		if c.Secrets.AppSecret == "" {
			c.Secrets.AppSecret = fromSM.AppSecret
		}
		if c.Secrets.VerifyToken == "" {
			c.Secrets.VerifyToken = fromSM.VerifyToken
		}
		if c.Secrets.AccessToken == "" {
			c.Secrets.AccessToken = fromSM.AccessToken
		}
		if c.Secrets.CarrierAccountSID == "" {
			c.Secrets.CarrierAccountSID = fromSM.CarrierAccountSID
		}
		if c.Secrets.CarrierAuthToken == "" {
			c.Secrets.CarrierAuthToken = fromSM.CarrierAuthToken
		}
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
		{needCarrier, EnvCarrierAccountSID, c.Secrets.CarrierAccountSID},
		{needCarrier, EnvCarrierAuthToken, c.Secrets.CarrierAuthToken},
	} {
		if req.on && req.value == "" {
			return Config{}, &MissingError{Name: req.name}
		}
	}
	return c, nil
}
