package graphfake

import (
	"fmt"
	"strings"
	"time"
)

// PhoneNumberState is what GET /{phone-number-id} serves, in Meta's field names. Empty fields are
// filled from DefaultPhoneNumber when set, so a test can change only what it cares about.
type PhoneNumberState struct {
	QualityRating          string      `json:"quality_rating,omitempty"`
	MessagingLimit         string      `json:"whatsapp_business_manager_messaging_limit,omitempty"`
	Status                 string      `json:"status,omitempty"`
	NameStatus             string      `json:"name_status,omitempty"`
	CodeVerificationStatus string      `json:"code_verification_status,omitempty"`
	Throughput             *Throughput `json:"throughput,omitempty"`
	VerifiedName           string      `json:"verified_name,omitempty"`
	DisplayPhoneNumber     string      `json:"display_phone_number,omitempty"`
	PlatformType           string      `json:"platform_type,omitempty"`
	AccountMode            string      `json:"account_mode,omitempty"`
	// Health is served for fields=health_status; nil derives it from Status.
	Health *Health `json:"health_status,omitempty"`
}

// Throughput is the phone number's throughput object.
type Throughput struct {
	Level string `json:"level"`
}

// Health is Meta's health_status object.
type Health struct {
	CanSendMessage string         `json:"can_send_message"`
	Entities       []HealthEntity `json:"entities,omitempty"`
}

// HealthEntity is one entity of health_status.
type HealthEntity struct {
	EntityType     string        `json:"entity_type"`
	ID             string        `json:"id"`
	CanSendMessage string        `json:"can_send_message"`
	Errors         []HealthError `json:"errors,omitempty"`
	AdditionalInfo []string      `json:"additional_info,omitempty"`
}

// HealthError explains a LIMITED or BLOCKED entity.
type HealthError struct {
	ErrorCode        int    `json:"error_code"`
	ErrorDescription string `json:"error_description"`
	PossibleSolution string `json:"possible_solution,omitempty"`
}

// DefaultPhoneNumber is the state of a phone number no test has set: a healthy, registered
// number (GREEN, TIER_2K, CONNECTED, STANDARD throughput) whose display number is derived from
// its id ("1555" + the id's last 7 digits), so every id maps to a distinct possible number.
func DefaultPhoneNumber(id string) PhoneNumberState {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, id)
	if len(digits) > 7 {
		digits = digits[len(digits)-7:]
	}
	return PhoneNumberState{
		QualityRating:          "GREEN",
		MessagingLimit:         "TIER_2K",
		Status:                 "CONNECTED",
		NameStatus:             "APPROVED",
		CodeVerificationStatus: "VERIFIED",
		Throughput:             &Throughput{Level: "STANDARD"},
		VerifiedName:           "Fake Sender",
		DisplayPhoneNumber:     fmt.Sprintf("1555%07s", digits),
		PlatformType:           "CLOUD_API",
		AccountMode:            "LIVE",
	}
}

// withDefaults fills s's empty fields from DefaultPhoneNumber(id).
func (s PhoneNumberState) withDefaults(id string) PhoneNumberState {
	d := DefaultPhoneNumber(id)
	fill := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	fill(&s.QualityRating, d.QualityRating)
	fill(&s.MessagingLimit, d.MessagingLimit)
	fill(&s.Status, d.Status)
	fill(&s.NameStatus, d.NameStatus)
	fill(&s.CodeVerificationStatus, d.CodeVerificationStatus)
	fill(&s.VerifiedName, d.VerifiedName)
	fill(&s.DisplayPhoneNumber, d.DisplayPhoneNumber)
	fill(&s.PlatformType, d.PlatformType)
	fill(&s.AccountMode, d.AccountMode)
	if s.Throughput == nil || s.Throughput.Level == "" {
		s.Throughput = d.Throughput
	}
	return s
}

// health is the health_status served: the explicit one, or one derived from the number's status.
func (s PhoneNumberState) health(id string) Health {
	if s.Health != nil {
		return *s.Health
	}
	can := "AVAILABLE"
	var errs []HealthError
	switch s.Status {
	case "BANNED", "RESTRICTED", "DELETED", "DISCONNECTED", "PENDING", "UNVERIFIED":
		can = "BLOCKED"
		errs = []HealthError{{ErrorCode: 141000, ErrorDescription: "Phone number status is " + s.Status}}
	case "RATE_LIMITED", "FLAGGED":
		can = "LIMITED"
		errs = []HealthError{{ErrorCode: 141001, ErrorDescription: "Phone number status is " + s.Status}}
	}
	return Health{CanSendMessage: can, Entities: []HealthEntity{
		{EntityType: "PHONE_NUMBER", ID: id, CanSendMessage: can, Errors: errs},
	}}
}

// registered reports whether sends from this number are accepted (else 133010).
func (s PhoneNumberState) registered() bool {
	switch s.Status {
	case "PENDING", "UNVERIFIED", "DISCONNECTED", "DELETED":
		return false
	}
	return true
}

// numberRecord is the fake's full record of a number: the served state and the registration bookkeeping.
type numberRecord struct {
	state    PhoneNumberState
	pin      string      // two-step PIN set by the first register
	regCalls []time.Time // register/deregister calls, for the 10-per-72h limit
}

// registerLimit is Meta's register/deregister allowance per number per window.
const (
	registerLimit  = 10
	registerWindow = 72 * time.Hour
)

// allowRegisterCall records a register/deregister call at now, or reports the limit reached.
func (p *numberRecord) allowRegisterCall(now time.Time) bool {
	cut := now.Add(-registerWindow)
	kept := p.regCalls[:0]
	for _, t := range p.regCalls {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	p.regCalls = kept
	if len(p.regCalls) >= registerLimit {
		return false
	}
	p.regCalls = append(p.regCalls, now)
	return true
}
