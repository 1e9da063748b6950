// Package numberpool is the platform's own numbers: bought from a carrier, added to the
// platform's business portfolio as pre-verified numbers, verified with no person involved
// (Meta's code arrives at the number, the carrier posts it to our webhook, the code is read
// from the SMS body or the call's transcription and submitted), offered in Embedded Signup,
// claimed by a business, returned when its sender is deleted and released after a hold.
//
// A bought number is never leaked: a purchase intent is written before the carrier is asked
// and settled after (Reconcile finishes what a crash interrupted), so every number the carrier
// sold us is in the pool, claimed, or released. Codes are never stored or logged.
package numberpool

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// State is a pool number's state.
type State string

// Pool number states.
const (
	StateUnverified State = "unverified" // bought; not (or no longer) verified: Reason says why
	StateVerifying  State = "verifying"  // a code was requested; waiting for it at the carrier webhook
	StateVerified   State = "verified"   // verified until VerifiedUntil; offered in Embedded Signup
	StateClaimed    State = "claimed"    // a business picked it: ClaimedBy, PhoneNumberID
	StateReleased   State = "released"   // given back to the carrier
)

// Mode is how pool numbers reach a customer's WABA.
type Mode string

// Modes.
const (
	// ModePreVerified: a Solution Partner adds its numbers to its own portfolio as pre-verified
	// numbers, verifies them ahead, and customers pick one in Embedded Signup.
	ModePreVerified Mode = "preverified"
	// ModeWABA: without Solution Partner status a bought number is added to the customer's
	// WABA after its onboarding (POST /{waba}/phone_numbers), then verified and registered.
	ModeWABA Mode = "waba"
)

// maxSeen bounds the carrier event ids kept on a number to drop replays.
const maxSeen = 20

// Number is one pool number.
type Number struct {
	E164       string `json:"phoneNumber"`
	Country    string `json:"country"`
	CarrierSID string `json:"carrierSid"`
	// RequestID is the purchase request that bought it.
	RequestID string `json:"requestId"`
	State     State  `json:"state"`
	// Reason says why the number is unverified (or why the last step failed).
	Reason string `json:"reason,omitempty"`
	// MetaID is the pre-verified number's id (ModePreVerified) or the WABA phone number id (ModeWABA).
	MetaID string `json:"metaId,omitempty"`
	// Attempt counts verification attempts; a code is applied only to the attempt it answers.
	Attempt       int       `json:"attempt"`
	Method        string    `json:"verificationMethod,omitempty"`
	CodeDeadline  time.Time `json:"codeDeadline,omitzero"`
	VerifiedUntil time.Time `json:"verifiedUntil,omitzero"`
	// ClaimedBy is the business that claimed the number; PhoneNumberID its id in that business's WABA.
	ClaimedBy     string    `json:"claimedBy,omitempty"`
	ClaimedWABA   string    `json:"claimedWaba,omitempty"`
	PhoneNumberID string    `json:"phoneNumberId,omitempty"`
	ClaimedAt     time.Time `json:"claimedAt,omitzero"`
	// ReturnedAt is when the last business gave the number back; the hold runs from there.
	ReturnedAt time.Time `json:"returnedAt,omitzero"`
	ReleasedAt time.Time `json:"releasedAt,omitzero"`
	// Seen are the carrier event ids already applied (replays change nothing).
	Seen      []string  `json:"seen,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// saw reports whether the carrier event id was applied already.
func (n *Number) saw(id string) bool { return slices.Contains(n.Seen, id) }

func (n *Number) see(id string) {
	n.Seen = append(n.Seen, id)
	if len(n.Seen) > maxSeen {
		n.Seen = slices.Clone(n.Seen[len(n.Seen)-maxSeen:])
	}
}

// IntentState is a purchase intent's state.
type IntentState string

// Purchase intent states.
const (
	IntentPending IntentState = "pending" // written before asking the carrier
	IntentBought  IntentState = "bought"  // the carrier sold it; not yet in the pool
	IntentDone    IntentState = "done"    // in the pool
	IntentFailed  IntentState = "failed"  // nothing was bought
)

// Intent is a purchase request, keyed by its request id.
type Intent struct {
	RequestID  string      `json:"requestId"`
	E164       string      `json:"phoneNumber"`
	State      IntentState `json:"state"`
	CarrierSID string      `json:"carrierSid,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	// LeaseUntil keeps a second caller with the same request id from buying concurrently.
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Open reports whether the intent still needs settling.
func (i *Intent) Open() bool { return i.State == IntentPending || i.State == IntentBought }

// Errors a caller decides on.
var (
	// ErrRequestReused: the request id was used for another number.
	ErrRequestReused = errors.New("numberpool: request id already used for another number")
	// ErrInProgress: a purchase with this request id is under way.
	ErrInProgress = errors.New("numberpool: purchase in progress")
	// ErrNotOurs: the number is not in the pool.
	ErrNotOurs = errors.New("numberpool: number not in the pool")
	// ErrState: the number's state does not allow the operation.
	ErrState = errors.New("numberpool: operation not allowed in this state")
	// ErrAlreadyClaimed: another business claimed the number.
	ErrAlreadyClaimed = errors.New("numberpool: number claimed by another business")
	// ErrTaken: the number is in the pool already (bought by another request).
	ErrTaken = errors.New("numberpool: number already in the pool")
)

// PurchaseError is a purchase that bought nothing, with the carrier's reason.
type PurchaseError struct {
	RequestID string
	Reason    string
}

func (e *PurchaseError) Error() string {
	return fmt.Sprintf("numberpool: purchase %s bought nothing: %s", e.RequestID, e.Reason)
}

func stateErr(n *Number, op string) error {
	return fmt.Errorf("%s from %s: %w", op, n.State, ErrState)
}
