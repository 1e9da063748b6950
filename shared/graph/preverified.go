package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PreVerifiedFields is the field list PreVerifiedNumber asks for.
const PreVerifiedFields = "id,phone_number,code_verification_status,verification_expiry_time"

// PreVerified is a pre-verified phone number of the platform's business portfolio: added with
// AddPreVerifiedNumber, verified with RequestCode/VerifyCode on its id, offered in Embedded
// Signup until a business claims it (then a normal phone number with a new id replaces it).
type PreVerified struct {
	ID          string
	PhoneNumber string
	// CodeVerificationStatus is VERIFIED, NOT_VERIFIED or EXPIRED.
	CodeVerificationStatus string
	// ExpiresAt is verification_expiry_time: zero while not verified.
	ExpiresAt time.Time
}

type idResponse struct {
	ID flexString `json:"id"`
}

// AddPreVerifiedNumber adds a number (E.164 or digits) to the business portfolio's pool of
// pre-verified numbers (POST /{business}/add_phone_numbers) and returns its pre-verified id.
func (c *Client) AddPreVerifiedNumber(ctx context.Context, businessID, e164 string) (string, error) {
	digits := strings.TrimPrefix(e164, "+")
	if digits == "" {
		return "", fmt.Errorf("add pre-verified number: no number: %w", ErrInvalidRequest)
	}
	var out idResponse
	q := url.Values{"phone_number": {digits}}
	if err := c.do(ctx, http.MethodPost, businessID, "add_phone_numbers", q, nil, &out); err != nil {
		return "", fmt.Errorf("add pre-verified number: %w", err)
	}
	if out.ID == "" {
		return "", fmt.Errorf("add pre-verified number: answer has no id: %w", ErrUnexpectedResponse)
	}
	return string(out.ID), nil
}

// PreVerifiedNumber reads a pre-verified number's verification status and expiry.
func (c *Client) PreVerifiedNumber(ctx context.Context, id string) (PreVerified, error) {
	var w struct {
		ID                     flexString      `json:"id"`
		PhoneNumber            string          `json:"phone_number"`
		CodeVerificationStatus string          `json:"code_verification_status"`
		VerificationExpiryTime json.RawMessage `json:"verification_expiry_time"`
	}
	if err := c.do(ctx, http.MethodGet, id, "", url.Values{"fields": {PreVerifiedFields}}, nil, &w); err != nil {
		return PreVerified{}, fmt.Errorf("get pre-verified number: %w", err)
	}
	p := PreVerified{ID: string(w.ID), PhoneNumber: w.PhoneNumber, CodeVerificationStatus: w.CodeVerificationStatus,
		ExpiresAt: graphTime(w.VerificationExpiryTime)}
	if p.ID == "" {
		p.ID = id
	}
	return p, nil
}

// graphTime reads a Graph timestamp: "2026-03-01T10:00:00+0000", RFC 3339, or Unix seconds
// (as a number or a string). Anything else is the zero time.
func graphTime(raw []byte) time.Time {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC()
	}
	return time.Time{}
}

// AddWABAPhoneNumber creates a phone number on a WABA (POST /{waba}/phone_numbers {cc,
// phone_number, verified_name}), the path for a platform that is not a Solution Partner; the
// number is then verified with RequestCode/VerifyCode and registered. cc is the country
// calling code ("40"), national the national number.
func (c *Client) AddWABAPhoneNumber(ctx context.Context, wabaID, cc, national, verifiedName string) (string, error) {
	if cc == "" || national == "" || verifiedName == "" {
		return "", fmt.Errorf("add phone number to WABA: cc, phone_number and verified_name are required: %w", ErrInvalidRequest)
	}
	body := struct {
		CC           string `json:"cc"`
		PhoneNumber  string `json:"phone_number"`
		VerifiedName string `json:"verified_name"`
	}{cc, national, verifiedName}
	var out idResponse
	if err := c.do(ctx, http.MethodPost, wabaID, "phone_numbers", nil, body, &out); err != nil {
		return "", fmt.Errorf("add phone number to WABA: %w", err)
	}
	if out.ID == "" {
		return "", fmt.Errorf("add phone number to WABA: answer has no id: %w", ErrUnexpectedResponse)
	}
	return string(out.ID), nil
}
