package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// PhoneNumberFields is the field list GetPhoneNumber asks for.
const PhoneNumberFields = "quality_rating,whatsapp_business_manager_messaging_limit,status,name_status," +
	"code_verification_status,throughput,verified_name,display_phone_number,platform_type,account_mode"

// Known enum values. Every enum field is an open string: values Meta adds later are kept as sent.
const (
	QualityGreen   = "GREEN"
	QualityYellow  = "YELLOW"
	QualityRed     = "RED"
	QualityUnknown = "UNKNOWN"
	QualityNA      = "NA"

	StatusPending      = "PENDING"
	StatusDeleted      = "DELETED"
	StatusMigrated     = "MIGRATED"
	StatusBanned       = "BANNED"
	StatusRestricted   = "RESTRICTED"
	StatusRateLimited  = "RATE_LIMITED"
	StatusFlagged      = "FLAGGED"
	StatusConnected    = "CONNECTED"
	StatusDisconnected = "DISCONNECTED"
	StatusUnknown      = "UNKNOWN"
	StatusUnverified   = "UNVERIFIED"

	NameApproved               = "APPROVED"
	NameAvailableWithoutReview = "AVAILABLE_WITHOUT_REVIEW"
	NameDeclined               = "DECLINED"
	NameExpired                = "EXPIRED"
	NamePendingReview          = "PENDING_REVIEW"
	NameNone                   = "NONE"

	VerificationVerified    = "VERIFIED"
	VerificationNotVerified = "NOT_VERIFIED"
	VerificationExpired     = "EXPIRED"

	ThroughputStandard = "STANDARD"
	ThroughputHigh     = "HIGH"

	CanSendAvailable = "AVAILABLE"
	CanSendLimited   = "LIMITED"
	CanSendBlocked   = "BLOCKED"
)

// PhoneNumber is the phone-number node. Quality, limit, throughput and status stay separate
// fields: the product derives its labels from them.
type PhoneNumber struct {
	ID                     string
	DisplayPhoneNumber     string // as Meta writes it (digits, sometimes formatted): parse with shared/phone.Display
	VerifiedName           string
	QualityRating          string
	MessagingLimit         MessagingLimit
	Status                 string
	NameStatus             string
	CodeVerificationStatus string
	ThroughputLevel        string
	PlatformType           string
	AccountMode            string
}

// MessagingLimit is whatsapp_business_manager_messaging_limit: unique out-of-window recipients
// per moving 24 h for the whole business portfolio. Meta sends a tier string ("TIER_250",
// "TIER_2K", "TIER_UNLIMITED"); a bare number is accepted too.
type MessagingLimit struct {
	// Raw is the value as sent ("TIER_2K", "1000"); empty when absent.
	Raw string
	// Limit is the number of unique users, 0 when absent, unlimited or not understood.
	Limit int64
	// Unlimited is set for TIER_UNLIMITED.
	Unlimited bool
}

// Known reports whether the limit was understood (a number or unlimited).
func (l MessagingLimit) Known() bool { return l.Limit > 0 || l.Unlimited }

// UnmarshalJSON never fails: an unexpected shape is kept in Raw with Limit 0.
func (l *MessagingLimit) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*l = MessagingLimit{}
		return nil
	}
	*l = ParseMessagingLimit(string(bytes.Trim(b, `"`)))
	return nil
}

// ParseMessagingLimit reads "TIER_250", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_1M",
// "TIER_UNLIMITED", "UNLIMITED" or a bare number.
func ParseMessagingLimit(s string) MessagingLimit {
	l := MessagingLimit{Raw: s}
	v := strings.ToUpper(strings.TrimSpace(s))
	v = strings.TrimPrefix(v, "TIER_")
	if v == "UNLIMITED" {
		l.Unlimited = true
		return l
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "K"):
		mult, v = 1_000, strings.TrimSuffix(v, "K")
	case strings.HasSuffix(v, "M"):
		mult, v = 1_000_000, strings.TrimSuffix(v, "M")
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		l.Limit = n * mult
	} else if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
		l.Limit = int64(f * float64(mult))
	}
	return l
}

type wirePhoneNumber struct {
	ID                     flexString     `json:"id"`
	DisplayPhoneNumber     string         `json:"display_phone_number"`
	VerifiedName           string         `json:"verified_name"`
	QualityRating          string         `json:"quality_rating"`
	MessagingLimit         MessagingLimit `json:"whatsapp_business_manager_messaging_limit"`
	Status                 string         `json:"status"`
	NameStatus             string         `json:"name_status"`
	CodeVerificationStatus string         `json:"code_verification_status"`
	Throughput             *struct {
		Level string `json:"level"`
	} `json:"throughput"`
	PlatformType string `json:"platform_type"`
	AccountMode  string `json:"account_mode"`
}

// GetPhoneNumber reads the phone-number node's quality, limit, status and throughput.
func (c *Client) GetPhoneNumber(ctx context.Context, phoneNumberID string) (PhoneNumber, error) {
	var w wirePhoneNumber
	q := url.Values{"fields": {PhoneNumberFields}}
	if err := c.do(ctx, http.MethodGet, phoneNumberID, "", q, nil, &w); err != nil {
		return PhoneNumber{}, fmt.Errorf("get phone number: %w", err)
	}
	return w.phone(phoneNumberID), nil
}

// HealthStatus is a node's health_status: whether it can send, and why not, per entity in the
// chain (PHONE_NUMBER, WABA, BUSINESS, APP, TEMPLATE).
type HealthStatus struct {
	// CanSendMessage is the overall verdict: AVAILABLE, LIMITED or BLOCKED.
	CanSendMessage string
	Entities       []HealthEntity
}

// HealthEntity is one entity's verdict.
type HealthEntity struct {
	EntityType     string
	ID             string
	CanSendMessage string
	Errors         []HealthIssue
	AdditionalInfo []string
}

// HealthIssue explains a LIMITED or BLOCKED entity.
type HealthIssue struct {
	Code             int
	Description      string
	PossibleSolution string
}

type wireHealth struct {
	HealthStatus *struct {
		CanSendMessage string `json:"can_send_message"`
		Entities       []struct {
			EntityType     string     `json:"entity_type"`
			ID             flexString `json:"id"`
			CanSendMessage string     `json:"can_send_message"`
			Errors         []struct {
				ErrorCode        flexInt `json:"error_code"`
				ErrorDescription string  `json:"error_description"`
				PossibleSolution string  `json:"possible_solution"`
			} `json:"errors"`
			AdditionalInfo json.RawMessage `json:"additional_info"`
		} `json:"entities"`
	} `json:"health_status"`
}

// phone converts the wire form; id fills an answer without an id.
func (w wirePhoneNumber) phone(id string) PhoneNumber {
	p := PhoneNumber{
		ID:                     string(w.ID),
		DisplayPhoneNumber:     w.DisplayPhoneNumber,
		VerifiedName:           w.VerifiedName,
		QualityRating:          w.QualityRating,
		MessagingLimit:         w.MessagingLimit,
		Status:                 w.Status,
		NameStatus:             w.NameStatus,
		CodeVerificationStatus: w.CodeVerificationStatus,
		PlatformType:           w.PlatformType,
		AccountMode:            w.AccountMode,
	}
	if w.Throughput != nil {
		p.ThroughputLevel = w.Throughput.Level
	}
	if p.ID == "" {
		p.ID = id
	}
	return p
}

// GetHealthStatus reads health_status of any node (phone number, WABA, template, …).
func (c *Client) GetHealthStatus(ctx context.Context, nodeID string) (HealthStatus, error) {
	var w wireHealth
	q := url.Values{"fields": {"health_status"}}
	if err := c.do(ctx, http.MethodGet, nodeID, "", q, nil, &w); err != nil {
		return HealthStatus{}, fmt.Errorf("get health status: %w", err)
	}
	h, ok := w.health()
	if !ok {
		return HealthStatus{}, fmt.Errorf("get health status: answer has no health_status: %w", ErrUnexpectedResponse)
	}
	return h, nil
}

// health converts the wire form; ok is false when the answer had no health_status.
func (w wireHealth) health() (HealthStatus, bool) {
	if w.HealthStatus == nil {
		return HealthStatus{}, false
	}
	h := HealthStatus{CanSendMessage: w.HealthStatus.CanSendMessage}
	for _, e := range w.HealthStatus.Entities {
		he := HealthEntity{EntityType: e.EntityType, ID: string(e.ID), CanSendMessage: e.CanSendMessage,
			AdditionalInfo: stringList(e.AdditionalInfo)}
		for _, x := range e.Errors {
			he.Errors = append(he.Errors, HealthIssue{Code: int(x.ErrorCode), Description: x.ErrorDescription, PossibleSolution: x.PossibleSolution})
		}
		h.Entities = append(h.Entities, he)
	}
	return h, true
}

// stringList accepts a string array or a single string.
func stringList(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}
