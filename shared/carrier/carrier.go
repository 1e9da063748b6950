// Package carrier is the port to a telephony carrier that sells the platform's own numbers:
// browse what it offers, buy a number pointing its SMS and voice webhooks at this backend,
// release it, and read the webhooks it sends (signature, parameters, the verification code in
// an SMS body or a call's transcription). Twilio is the first adapter (carrier/twilio); a
// second carrier implements the same interface.
package carrier

import (
	"context"
	"errors"
	"fmt"
)

// Kinds of numbers a caller can browse.
const (
	KindMobile = "mobile"
	KindLocal  = "local"
)

// Capabilities say what a number can receive.
type Capabilities struct {
	SMS   bool `json:"sms"`
	Voice bool `json:"voice"`
	MMS   bool `json:"mms"`
}

// Available is a number the carrier offers.
type Available struct {
	E164         string       `json:"phoneNumber"`
	Country      string       `json:"country"`
	Kind         string       `json:"kind"`
	Capabilities Capabilities `json:"capabilities"`
	// Price is the monthly price when the carrier tells it ("" otherwise), in PriceUnit.
	Price     string `json:"price,omitempty"`
	PriceUnit string `json:"priceUnit,omitempty"`
	// AddressRequired is the carrier's address requirement (none, any, local, foreign).
	AddressRequired string `json:"addressRequired,omitempty"`
}

// Owned is a number bought from the carrier.
type Owned struct {
	// SID is the carrier's id of the number (Twilio's PN… sid).
	SID  string `json:"sid"`
	E164 string `json:"phoneNumber"`
}

// Hooks are where the carrier posts what arrives at a bought number.
type Hooks struct {
	SMSURL   string `json:"smsUrl"`
	VoiceURL string `json:"voiceUrl"`
}

// Carrier is what the number pool needs from a carrier.
type Carrier interface {
	// Available lists numbers for sale in country (ISO 3166-1) of kind, able to receive SMS and calls.
	Available(ctx context.Context, country, kind string, limit int) ([]Available, error)
	// Buy purchases e164 with its webhooks set to hooks; label is a name without personal data.
	Buy(ctx context.Context, e164 string, hooks Hooks, label string) (Owned, error)
	// Find returns the number if this account owns it (ErrNotOwned otherwise): it settles a
	// purchase whose answer was lost.
	Find(ctx context.Context, e164 string) (Owned, error)
	// Release gives the number back to the carrier. Releasing a number already gone is not an error.
	Release(ctx context.Context, sid string) error
}

// ErrNotOwned means the account does not own the number.
var ErrNotOwned = errors.New("carrier: number not owned by this account")

// Error is a carrier's answer to a refused request.
type Error struct {
	HTTPStatus int
	Code       int
	Message    string
	MoreInfo   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("carrier error %d (HTTP %d): %s", e.Code, e.HTTPStatus, e.Message)
}

// Definite reports whether the carrier refused for good (a 4xx other than 429): nothing was
// done and trying again unchanged fails again.
func (e *Error) Definite() bool {
	return e.HTTPStatus >= 400 && e.HTTPStatus < 500 && e.HTTPStatus != 429
}

// IsDefinite reports whether err is a carrier refusal that changed nothing (see Error.Definite).
// A transport failure or a 5xx is not: the request may have taken effect.
func IsDefinite(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Definite()
}
