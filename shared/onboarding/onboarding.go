// Package onboarding connects a business through Meta's Embedded Signup, server to server, as
// a resumable sequence of steps: exchange the code for the business's token, check that the
// token grants the WABA and the number, subscribe the app to the WABA's webhooks, read the
// number's facts, create or update the sender from them, register the number with a generated
// two-step PIN (unless Meta reports it registered) and set the sender online.
//
// Each step's state and the machine-readable reason of a failure are persisted after every
// step, so a process that dies between two steps resumes where it stopped. A transient failure
// is retried a few times at once and then left "retrying" (POST /onboardings/{id}/retry, or the
// reconciler's schedule, resumes it); a permanent one fails the onboarding and the sender with
// its reason. Codes, tokens and PINs are never logged, stored in plaintext or answered.
package onboarding

import (
	"time"

	"github.com/aloro/wa-senders/shared/sender"
)

// Status is an onboarding's overall state.
type Status string

// Onboarding statuses.
const (
	StatusRunning  Status = "running"  // steps under way
	StatusRetrying Status = "retrying" // a step failed transiently; resumed by retry or the schedule
	StatusDone     Status = "done"     // every step succeeded (or was not needed)
	StatusFailed   Status = "failed"   // a step failed for good; see Reason
)

// StepName names a step.
type StepName string

// The steps, in order.
const (
	StepExchangeCode StepName = "exchange_code"
	StepCheckAccess  StepName = "check_access"
	StepSubscribeApp StepName = "subscribe_app"
	StepReadNumber   StepName = "read_number"
	StepUpsertSender StepName = "upsert_sender"
	StepRegister     StepName = "register"
	StepOnline       StepName = "online"
)

// Steps lists the steps in the order they run.
var Steps = []StepName{StepExchangeCode, StepCheckAccess, StepSubscribeApp, StepReadNumber, StepUpsertSender, StepRegister, StepOnline}

// StepState is one step's state.
type StepState string

// Step states.
const (
	StepPending  StepState = "pending"
	StepDone     StepState = "done"
	StepSkipped  StepState = "skipped"  // not needed (already registered, no number yet)
	StepRetrying StepState = "retrying" // failed transiently
	StepFailed   StepState = "failed"   // failed for good
)

// Machine-readable failure reasons (Step.Reason, Onboarding.Reason).
const (
	ReasonCodeInvalid       = "code_invalid"         // used, expired or unknown code
	ReasonCodeRequired      = "code_required"        // the exchange must be resumed with the code (POST /onboardings again)
	ReasonAppCredentials    = "app_credentials"      // Meta refused our app id or secret
	ReasonTokenInvalid      = "token_invalid"        // Meta refused the business token (190)
	ReasonWABANotGranted    = "waba_not_granted"     // the token does not grant the WABA
	ReasonNumberNotInWABA   = "number_not_in_waba"   // the number is not one of the WABA's
	ReasonBusinessMismatch  = "business_mismatch"    // the WABA belongs to another business
	ReasonPermission        = "permission_denied"    // Meta's permission error on a call
	ReasonSubscribeFailed   = "subscribe_failed"     // subscribed_apps refused
	ReasonNumberUnreadable  = "number_unreadable"    // the number's facts could not be used
	ReasonNumberTaken       = "number_taken"         // another sender has this phone number
	ReasonWrongPIN          = "wrong_pin"            // 133005: the number has another two-step PIN
	ReasonVerifyFirst       = "verify_first"         // 133006: the number must be verified first
	ReasonTooManyPINGuesses = "too_many_pin_guesses" // 133008
	ReasonPINTooFast        = "pin_too_fast"         // 133009
	ReasonDeregisterFailed  = "deregister_failed"    // 133000
	ReasonRecentlyDeleted   = "recently_deleted"     // 133015: wait, then retry
	ReasonRegisterLimit     = "register_limit"       // 133016: 10 registers per 72 h
	ReasonUnavailable       = "graph_unavailable"    // Meta unreachable or failing (transient)
	ReasonCallRate          = "call_rate"            // Meta's call-rate limits (transient)
	ReasonRejected          = "graph_rejected"       // any other refusal
	ReasonSenderState       = "sender_state"         // the sender's status refuses the change
	ReasonDisconnected      = "disconnected"         // the business removed the partner or app
)

// Step is one step's recorded state.
type Step struct {
	Name     StepName  `json:"name"`
	State    StepState `json:"state"`
	Reason   string    `json:"reason,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// Facts are what Meta said about the number (read_number).
type Facts struct {
	PhoneNumber            string `json:"phoneNumber"` // E.164
	VerifiedName           string `json:"verifiedName,omitempty"`
	QualityRating          string `json:"qualityRating,omitempty"`
	CodeVerificationStatus string `json:"codeVerificationStatus,omitempty"`
	NameStatus             string `json:"nameStatus,omitempty"`
	Status                 string `json:"status,omitempty"`
	ThroughputLevel        string `json:"throughputLevel,omitempty"`
	MessagingLimit         string `json:"messagingLimit,omitempty"`
}

// PartnerEvent is an account_update partner event recorded on the onboarding.
type PartnerEvent struct {
	Event           string    `json:"event"`
	OwnerBusinessID string    `json:"ownerBusinessId,omitempty"`
	At              time.Time `json:"at"`
}

// Onboarding is one business connecting one WABA (and usually one number).
type Onboarding struct {
	ID string `json:"id"`
	// Actor started the onboarding (see Request.Actor).
	Actor         string         `json:"actor,omitempty"`
	BusinessID    string         `json:"businessId"`
	WABAID        string         `json:"wabaId"`
	PhoneNumberID string         `json:"phoneNumberId,omitempty"`
	RequestedType sender.Type    `json:"requestedType"`
	Type          sender.Type    `json:"type,omitempty"` // decided: platform when a pool number was claimed
	DisplayName   string         `json:"displayName,omitempty"`
	Assistants    []string       `json:"assistants,omitempty"`
	Status        Status         `json:"status"`
	Reason        string         `json:"reason,omitempty"`
	Steps         []Step         `json:"steps"`
	Facts         *Facts         `json:"facts,omitempty"`
	NextAttemptAt time.Time      `json:"nextAttemptAt,omitzero"`
	PartnerEvents []PartnerEvent `json:"partnerEvents,omitempty"`
	CreatedAt     time.Time      `json:"createdAt"`
	UpdatedAt     time.Time      `json:"updatedAt"`
	Version       int64          `json:"-"`
}

// Finished reports whether the onboarding is done or failed.
func (o *Onboarding) Finished() bool { return o.Status == StatusDone || o.Status == StatusFailed }

// step returns the step named n.
func (o *Onboarding) step(n StepName) *Step {
	for i := range o.Steps {
		if o.Steps[i].Name == n {
			return &o.Steps[i]
		}
	}
	return nil
}

func newSteps() []Step {
	out := make([]Step, len(Steps))
	for i, n := range Steps {
		out[i] = Step{Name: n, State: StepPending}
	}
	return out
}

// acted names o's actor on the history entries snd gained since from, as the admin API does for
// an operator's own changes.
func (o *Onboarding) acted(snd *sender.Sender, from int) {
	for i := max(from, 0); i < len(snd.StatusHistory); i++ {
		if snd.StatusHistory[i].Actor == "" {
			snd.StatusHistory[i].Actor = o.Actor
		}
	}
}
