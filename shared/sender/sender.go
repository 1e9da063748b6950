// Package sender is the domain of WhatsApp senders: a phone number registered with Meta that
// assistants use. It holds the sender's state, the explicit status state machine and the
// product's view of quality and limits. It imports no AWS code.
package sender

import (
	"time"
)

// Type says where the number came from.
type Type string

// Sender types.
const (
	TypePlatform Type = "platform" // bought through the product
	TypeExternal Type = "external" // the customer's own number
)

// Status is the product's lifecycle status of a sender.
type Status string

// Sender statuses (product-senders.md, "Sender Status").
const (
	StatusPending    Status = "pending"    // awaiting verification
	StatusConnecting Status = "connecting" // code verified, registration under way
	StatusOnline     Status = "online"     // fully operational
	StatusOffline    Status = "offline"    // disabled by an operator
	StatusSuspended  Status = "suspended"  // Meta policy action
	StatusFailed     Status = "failed"     // setup failed; retry setup
)

// Statuses lists every status, for exhaustive tests and validation.
var Statuses = []Status{StatusPending, StatusConnecting, StatusOnline, StatusOffline, StatusSuspended, StatusFailed}

// Quality is the product's quality rating, mapped from Meta's colours.
type Quality string

// Quality ratings.
const (
	QualityNew    Quality = "new"    // Meta UNKNOWN / NA
	QualityLow    Quality = "low"    // RED
	QualityMedium Quality = "medium" // YELLOW
	QualityHigh   Quality = "high"   // GREEN
)

// QualityFromMeta maps Meta's quality_rating (GREEN, YELLOW, RED, UNKNOWN, NA) to the product's.
func QualityFromMeta(s string) Quality {
	switch s {
	case "GREEN", "HIGH":
		return QualityHigh
	case "YELLOW", "MEDIUM":
		return QualityMedium
	case "RED", "LOW":
		return QualityLow
	default:
		return QualityNew
	}
}

// Source says who changed a sender.
type Source string

// Change sources recorded in the history.
const (
	SourceOperator   Source = "operator"
	SourceWebhook    Source = "webhook"
	SourceReconciler Source = "reconciler"
	SourceOutbound   Source = "outbound"
)

// StatusChange is one entry of a sender's history.
type StatusChange struct {
	From   Status    `json:"from,omitempty"`
	To     Status    `json:"to"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	Source Source    `json:"source"`
	// Actor is who acted for an operator change: the caller's IAM principal on AWS, "local"
	// under make run.
	Actor string `json:"actor,omitempty"`
}

// Suspension records why a sender is suspended and what to return to.
type Suspension struct {
	Reason string `json:"reason"`
	// Until is when the suspension lapses on its own (a restriction's expiry); zero = until lifted.
	Until time.Time `json:"until,omitzero"`
	// Previous is the status to return to on reinstatement.
	Previous Status `json:"previous"`
	// Soft suspensions (spam rate limit) pause template and bulk traffic only.
	Soft bool `json:"soft,omitempty"`
	// Source is who suspended the sender; the reconciler lifts only its own suspensions.
	Source Source `json:"source,omitempty"`
}

// Sender is the aggregate stored per phone number.
type Sender struct {
	// ID is Meta's phone_number_id.
	ID          string `json:"id"`
	Type        Type   `json:"type"`
	PhoneNumber string `json:"phoneNumber"` // E.164
	WABAID      string `json:"wabaId"`
	// BusinessID is the business portfolio, which owns the messaging limit; empty when unknown.
	BusinessID        string `json:"businessId,omitempty"`
	DisplayName       string `json:"displayName"`
	DisplayNameStatus string `json:"displayNameStatus,omitempty"` // Meta's name_status / decision
	// RequestedDisplayName is a name change requested at Meta and not yet decided.
	RequestedDisplayName string `json:"requestedDisplayName,omitempty"`
	// ReregisterNeeded is set when Meta approved a new display name of a registered number:
	// Meta requires a new register, which the reconciler makes with the kept two-step PIN.
	ReregisterNeeded bool     `json:"reregisterNeeded,omitempty"`
	Status           Status   `json:"status"`
	QualityRating    Quality  `json:"qualityRating"`
	MessagingLimit   string   `json:"messagingLimit,omitempty"` // Meta's tier as told, e.g. TIER_2K
	ThroughputLevel  string   `json:"throughputLevel,omitempty"`
	MetaStatus       string   `json:"metaStatus,omitempty"` // phone number object's status
	CanSendMessage   string   `json:"canSendMessage,omitempty"`
	Assistants       []string `json:"assistants"`
	// Suspension is set while Status is suspended.
	Suspension *Suspension `json:"suspension,omitempty"`
	// Restrictions are the WABA's account restrictions in force (account_update), copied to
	// every sender of the WABA so the outbound decision reads one item.
	Restrictions []Restriction `json:"restrictions,omitempty"`
	// Verification bookkeeping (codes and PINs are never stored here).
	VerificationMethod string         `json:"verificationMethod,omitempty"`
	FailedCodeAttempts int            `json:"failedCodeAttempts,omitempty"`
	StatusHistory      []StatusChange `json:"statusHistory"`
	// LimitEventAt is the time of the last quality/limit event applied (older ones are ignored).
	LimitEventAt time.Time `json:"limitEventAt,omitzero"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	// Version is the optimistic-lock counter the store checks on update.
	Version int64 `json:"-"`
}

// PortfolioKey is the key of the business portfolio that shares the messaging limit: the
// businessId when known, the WABA otherwise.
func (s *Sender) PortfolioKey() string {
	if s.BusinessID != "" {
		return "biz:" + s.BusinessID
	}
	return "waba:" + s.WABAID
}

// HasAssistant reports whether an assistant is assigned to the sender.
func (s *Sender) HasAssistant(id string) bool {
	for _, a := range s.Assistants {
		if a == id {
			return true
		}
	}
	return false
}

// Restriction is a Meta account restriction on the sender's WABA.
type Restriction struct {
	// Type is Meta's restriction_type, e.g. RESTRICTED_BIZ_INITIATED_MESSAGING.
	Type string `json:"type"`
	// Until is the restriction's expiration; zero = no expiry told.
	Until time.Time `json:"until,omitzero"`
}

// Restriction types the outbound decision acts on.
const (
	RestrictBusinessInitiated = "RESTRICTED_BIZ_INITIATED_MESSAGING"
	RestrictCustomerInitiated = "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"
)

// RestrictedAt reports whether a restriction of type typ is in force at now.
func (s *Sender) RestrictedAt(typ string, now time.Time) bool {
	for _, r := range s.Restrictions {
		if r.Type == typ && (r.Until.IsZero() || r.Until.After(now)) {
			return true
		}
	}
	return false
}
