package config

import (
	"fmt"
	"strings"
	"time"
)

// Platform-number settings (the pool of our own numbers). The carrier's credentials are
// secrets: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, in the platform secret (PLATFORM_SECRET_ARN).
const (
	EnvNumberPoolMode        = "NUMBER_POOL_MODE"
	EnvBusinessPortfolioID   = "BUSINESS_PORTFOLIO_ID"
	EnvCarrierBaseURL        = "CARRIER_API_BASE_URL"
	EnvCarrierWebhookBaseURL = "CARRIER_WEBHOOK_BASE_URL"
	EnvNumberHold            = "NUMBER_HOLD"
	EnvNumberCodeTimeout     = "NUMBER_CODE_TIMEOUT"
	EnvNumberVoiceCountries  = "NUMBER_VOICE_COUNTRIES"
	EnvCarrierAccountSID     = "TWILIO_ACCOUNT_SID"
	EnvCarrierAuthToken      = "TWILIO_AUTH_TOKEN"
)

// Defaults of the platform-number settings.
const (
	DefaultCarrierBaseURL    = "https://api.twilio.com"
	DefaultNumberHold        = 30 * 24 * time.Hour
	DefaultNumberCodeTimeout = 10 * time.Minute
)

// Pool modes: off (no platform numbers), preverified (a Solution Partner's pre-verified numbers)
// or waba (added to the customer's WABA after onboarding).
const (
	PoolOff         = ""
	PoolPreVerified = "preverified"
	PoolWABA        = "waba"
)

// Numbers configures platform numbers.
type Numbers struct {
	// Mode is PoolOff, PoolPreVerified or PoolWABA (the Solution Partner switch).
	Mode string
	// BusinessID is the platform's business portfolio (PoolPreVerified adds numbers to it).
	BusinessID string
	// CarrierBaseURL is the carrier's REST host (the fake locally).
	CarrierBaseURL string
	// WebhookBaseURL is this backend's public base URL, where the carrier posts SMS and calls.
	WebhookBaseURL string
	// Hold is how long a returned number stays unused before it is released to the carrier.
	Hold           time.Duration
	CodeTimeout    time.Duration
	VoiceCountries []string
}

// Enabled reports whether platform numbers are on.
func (n Numbers) Enabled() bool { return n.Mode != PoolOff }

// loadNumbers reads the platform-number settings; get returns the trimmed value or def.
func loadNumbers(get func(name, def string) string) (Numbers, error) {
	n := Numbers{
		Mode:           strings.ToLower(get(EnvNumberPoolMode, PoolOff)),
		BusinessID:     get(EnvBusinessPortfolioID, ""),
		CarrierBaseURL: strings.TrimRight(get(EnvCarrierBaseURL, DefaultCarrierBaseURL), "/"),
		WebhookBaseURL: strings.TrimRight(get(EnvCarrierWebhookBaseURL, ""), "/"),
		Hold:           DefaultNumberHold,
		CodeTimeout:    DefaultNumberCodeTimeout,
	}
	if n.Mode == "off" {
		n.Mode = PoolOff // the template's spelling of "no platform numbers"
	}
	switch n.Mode {
	case PoolOff, PoolPreVerified, PoolWABA:
	default:
		return Numbers{}, fmt.Errorf("%s: want preverified, waba or empty, got %q", EnvNumberPoolMode, n.Mode)
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{EnvNumberHold, &n.Hold}, {EnvNumberCodeTimeout, &n.CodeTimeout}} {
		if v := get(d.name, ""); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x <= 0 {
				return Numbers{}, fmt.Errorf("%s: want a positive duration such as 720h, got %q", d.name, v)
			}
			*d.dst = x
		}
	}
	for _, c := range strings.Split(get(EnvNumberVoiceCountries, ""), ",") {
		if c = strings.ToUpper(strings.TrimSpace(c)); c != "" {
			n.VoiceCountries = append(n.VoiceCountries, c)
		}
	}
	if !n.Enabled() {
		return n, nil
	}
	if n.WebhookBaseURL == "" {
		return Numbers{}, &MissingError{Name: EnvCarrierWebhookBaseURL}
	}
	if n.Mode == PoolPreVerified && n.BusinessID == "" {
		return Numbers{}, &MissingError{Name: EnvBusinessPortfolioID}
	}
	return n, nil
}
