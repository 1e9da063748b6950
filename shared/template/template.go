// Package template holds the state of message templates as told by Meta's webhooks and send
// errors, keyed by (WABA, name, language).
package template

import (
	"strings"
	"time"
)

// Template is one template in one language.
type Template struct {
	WABAID   string `json:"wabaId"`
	Name     string `json:"name"`
	Language string `json:"language"` // normalised: en_US
	// Status is Meta's event/status: APPROVED, PAUSED, DISABLED, REJECTED, …
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Category  string    `json:"category,omitempty"`
	Quality   string    `json:"quality,omitempty"`
	ID        string    `json:"id,omitempty"`
	EventAt   time.Time `json:"eventAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// NormalizeLanguage makes "en-US", "en_us" and "en_US" the same key.
func NormalizeLanguage(code string) string {
	code = strings.ReplaceAll(strings.TrimSpace(code), "-", "_")
	lang, region, ok := strings.Cut(code, "_")
	if !ok {
		return strings.ToLower(lang)
	}
	return strings.ToLower(lang) + "_" + strings.ToUpper(region)
}

// Blocked reports whether a template in this status must not be sent (known paused, disabled,
// rejected, deleted…). Unknown templates are not blocked: Meta decides.
func Blocked(status string) bool {
	switch strings.ToUpper(status) {
	case "PAUSED", "DISABLED", "REJECTED", "DELETED", "PENDING_DELETION", "ARCHIVED", "LOCKED", "IN_APPEAL", "PENDING":
		return true
	}
	return false
}
