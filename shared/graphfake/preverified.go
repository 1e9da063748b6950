package graphfake

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Pre-verified phone numbers and the add-to-WABA path:
//
//	POST /{business}/add_phone_numbers?phone_number=<digits>  → {"id": "<pre-verified id>"}
//	POST /{waba}/phone_numbers {cc, phone_number, verified_name} → {"id": "<phone number id>"}
//	POST /{id}/request_code, POST /{id}/verify_code, GET /{id}?fields=… on those ids
//
// request_code draws a fresh six-digit code and, when a CodeSender is set, "sends" it to the
// number in the background (the carrier fake then posts it to our carrier webhook); verify_code
// accepts only the latest code. Verification lasts PreVerifiedValidity.

// PreVerifiedValidity is how long a verification of a pre-verified number lasts (Meta: 90 days).
const PreVerifiedValidity = 90 * 24 * time.Hour

// CodeSender delivers a verification code to a phone number by SMS or VOICE.
type CodeSender func(ctx context.Context, e164, method, code string) error

// PreVerifiedNumber is the fake's record of a number added to a portfolio or a WABA.
type PreVerifiedNumber struct {
	ID         string    `json:"id"`
	E164       string    `json:"phone_number"`
	Owner      string    `json:"owner"`   // business portfolio or WABA id
	OnWABA     bool      `json:"on_waba"` // added with POST /{waba}/phone_numbers
	Status     string    `json:"code_verification_status"`
	ExpiresAt  time.Time `json:"verification_expiry_time,omitzero"`
	CodesSent  int       `json:"codes_sent"`
	LastMethod string    `json:"last_method,omitempty"`
	code       string
}

type preverified struct {
	mu     sync.Mutex
	byID   map[string]*PreVerifiedNumber
	sender CodeSender
	seq    int64
}

// SetCodeSender sets where request_code on a pre-verified (or WABA-added) number sends its code.
func (f *Fake) SetCodeSender(s CodeSender) {
	f.pv.mu.Lock()
	f.pv.sender = s
	f.pv.mu.Unlock()
}

// PreVerifiedNumbers returns the numbers added through add_phone_numbers or POST /{waba}/phone_numbers.
func (f *Fake) PreVerifiedNumbers() []PreVerifiedNumber {
	f.pv.mu.Lock()
	defer f.pv.mu.Unlock()
	out := make([]PreVerifiedNumber, 0, len(f.pv.byID))
	for _, n := range f.pv.byID {
		out = append(out, *n)
	}
	return out
}

// ExpirePreVerified sets a pre-verified number's verification expiry (tests of re-verification).
func (f *Fake) ExpirePreVerified(id string, at time.Time) {
	f.pv.mu.Lock()
	defer f.pv.mu.Unlock()
	if n := f.pv.byID[id]; n != nil {
		n.ExpiresAt = at
		if !at.After(f.now()) {
			n.Status = "EXPIRED"
		}
	}
}

// ClaimPreVerified is what Embedded Signup does when a business picks a pre-verified number:
// the temporary object goes away and a phone number with a new id (verified, not yet
// registered) takes its place.
func (f *Fake) ClaimPreVerified(id, phoneNumberID string) error {
	f.pv.mu.Lock()
	n := f.pv.byID[id]
	if n == nil || n.Status != "VERIFIED" {
		f.pv.mu.Unlock()
		return fmt.Errorf("graphfake: %s is not a verified pre-verified number", id)
	}
	delete(f.pv.byID, id)
	e164 := n.E164
	f.pv.mu.Unlock()
	f.SetPhoneNumber(phoneNumberID, PhoneNumberState{DisplayPhoneNumber: strings.TrimPrefix(e164, "+"),
		CodeVerificationStatus: "VERIFIED", Status: "PENDING"})
	return nil
}

func (p *preverified) reset() {
	p.mu.Lock()
	p.byID = nil
	p.mu.Unlock()
}

// preverifiedAnswer serves the routes above; ok is false for calls it does not own.
func (f *Fake) preverifiedAnswer(c *call) (result, bool) {
	switch {
	case c.method == http.MethodPost && c.edge == "add_phone_numbers":
		return f.addPreVerified(c, false), true
	case c.method == http.MethodPost && c.edge == "phone_numbers":
		return f.addPreVerified(c, true), true
	}
	f.pv.mu.Lock()
	n := f.pv.byID[c.id]
	f.pv.mu.Unlock()
	if n == nil {
		return result{}, false
	}
	switch {
	case c.method == http.MethodGet && c.edge == "":
		return f.getPreVerified(c), true
	case c.method == http.MethodPost && c.edge == "request_code":
		return f.requestPreVerifiedCode(c), true
	case c.method == http.MethodPost && c.edge == "verify_code":
		return f.verifyPreVerifiedCode(c), true
	}
	return result{}, false
}

func (f *Fake) addPreVerified(c *call, onWABA bool) result {
	var digits string
	if onWABA {
		cc, national, name := c.param("cc"), c.param("phone_number"), c.param("verified_name")
		if cc == "" || national == "" || name == "" {
			return f.errorResult(errParam("The parameters cc, phone_number and verified_name are required."))
		}
		digits = digitsOnly(cc) + digitsOnly(national)
	} else {
		digits = digitsOnly(c.param("phone_number"))
	}
	if len(digits) < 8 || len(digits) > 15 {
		return f.errorResult(errParam("Param phone_number is not a valid phone number."))
	}
	f.pv.mu.Lock()
	defer f.pv.mu.Unlock()
	if f.pv.byID == nil {
		f.pv.byID = map[string]*PreVerifiedNumber{}
	}
	for _, n := range f.pv.byID {
		if n.E164 == "+"+digits {
			if n.Owner == c.id && n.OnWABA == onWABA {
				return okJSON(map[string]string{"id": n.ID}) // Meta answers the existing id
			}
			return f.errorResult(errParam("The phone number is already in use."))
		}
	}
	f.pv.seq++
	id := fmt.Sprintf("%d", 880000000000000+f.pv.seq)
	f.pv.byID[id] = &PreVerifiedNumber{ID: id, E164: "+" + digits, Owner: c.id, OnWABA: onWABA, Status: "NOT_VERIFIED"}
	return okJSON(map[string]string{"id": id})
}

func (f *Fake) getPreVerified(c *call) result {
	f.pv.mu.Lock()
	n := *f.pv.byID[c.id]
	f.pv.mu.Unlock()
	if n.Status == "VERIFIED" && !n.ExpiresAt.IsZero() && !n.ExpiresAt.After(f.now()) {
		n.Status = "EXPIRED"
	}
	out := map[string]any{"id": n.ID, "phone_number": strings.TrimPrefix(n.E164, "+"), "code_verification_status": n.Status}
	if !n.ExpiresAt.IsZero() {
		out["verification_expiry_time"] = n.ExpiresAt.UTC().Format("2006-01-02T15:04:05-0700")
	}
	return okJSON(out)
}

func (f *Fake) requestPreVerifiedCode(c *call) result {
	method := c.param("code_method")
	if method != "SMS" && method != "VOICE" {
		return f.errorResult(errParam("Param code_method must be one of {SMS, VOICE}."))
	}
	if c.param("language") == "" {
		return f.errorResult(errParam("The parameter language is required."))
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return f.errorResult(errCode(136024, "Request code error"))
	}
	code := fmt.Sprintf("%06d", n.Int64())
	f.pv.mu.Lock()
	rec := f.pv.byID[c.id]
	rec.code, rec.LastMethod = code, method
	rec.CodesSent++
	e164, send := rec.E164, f.pv.sender
	f.pv.mu.Unlock()
	if send != nil {
		// Meta sends after answering; delivery failures are the carrier's, not this call's.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := send(ctx, e164, method, code); err != nil && f.log != nil {
				f.log.Warn("graph fake: code delivery failed", "id", c.id, "error", err.Error())
			}
		}()
	}
	return success
}

func (f *Fake) verifyPreVerifiedCode(c *call) result {
	code := c.param("code")
	if code == "" {
		return f.errorResult(errParam("The parameter code is required."))
	}
	f.pv.mu.Lock()
	rec := f.pv.byID[c.id]
	if rec.code == "" || code != rec.code {
		f.pv.mu.Unlock()
		return f.errorResult(errCode(136025, "Code couldn't be verified, You have entered the wrong code."))
	}
	rec.code = ""
	rec.Status = "VERIFIED"
	rec.ExpiresAt = f.now().Add(PreVerifiedValidity).UTC().Truncate(time.Second)
	onWABA, e164, id := rec.OnWABA, rec.E164, rec.ID
	f.pv.mu.Unlock()
	if onWABA {
		// A WABA's number is a normal phone number once verified: register it next.
		f.SetPhoneNumber(id, PhoneNumberState{DisplayPhoneNumber: strings.TrimPrefix(e164, "+"),
			CodeVerificationStatus: "VERIFIED", Status: "PENDING"})
	}
	return success
}
