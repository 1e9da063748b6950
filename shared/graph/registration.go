package graph

import (
	"context"
	"fmt"
)

// Verification code delivery methods for RequestCode.
const (
	CodeMethodSMS   = "SMS"
	CodeMethodVoice = "VOICE"
)

// RequestCode asks Meta to send a verification code to the phone number by SMS or VOICE, in
// language (e.g. "en_US"). 136024 means the request failed.
func (c *Client) RequestCode(ctx context.Context, phoneNumberID, method, language string) error {
	if method != CodeMethodSMS && method != CodeMethodVoice {
		return fmt.Errorf("request code: method %q, want SMS or VOICE: %w", method, ErrInvalidRequest)
	}
	if language == "" {
		return fmt.Errorf("request code: no language: %w", ErrInvalidRequest)
	}
	body := struct {
		CodeMethod string `json:"code_method"`
		Language   string `json:"language"`
	}{method, language}
	if err := c.postSuccess(ctx, phoneNumberID, "request_code", body); err != nil {
		return fmt.Errorf("request code: %w", err)
	}
	return nil
}

// VerifyCode submits the code the number received. A wrong code gives IsWrongCode(err).
func (c *Client) VerifyCode(ctx context.Context, phoneNumberID, code string) error {
	if code == "" {
		return fmt.Errorf("verify code: empty code: %w", ErrInvalidRequest)
	}
	body := struct {
		Code string `json:"code"`
	}{code}
	if err := c.postSuccess(ctx, phoneNumberID, "verify_code", body); err != nil {
		return fmt.Errorf("verify code: %w", err)
	}
	return nil
}

// Register registers the number for the Cloud API with its six-digit two-step PIN (set on first
// registration). At most 10 register/deregister calls per number per 72 h (then 133016).
func (c *Client) Register(ctx context.Context, phoneNumberID, pin string) error {
	if !sixDigits(pin) {
		return fmt.Errorf("register: pin must be 6 digits: %w", ErrInvalidRequest)
	}
	body := struct {
		MessagingProduct string `json:"messaging_product"`
		PIN              string `json:"pin"`
	}{"whatsapp", pin}
	if err := c.postSuccess(ctx, phoneNumberID, "register", body); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	return nil
}

// Deregister removes the number from the Cloud API (counts against the same 72 h limit as Register).
func (c *Client) Deregister(ctx context.Context, phoneNumberID string) error {
	if err := c.postSuccess(ctx, phoneNumberID, "deregister", struct{}{}); err != nil {
		return fmt.Errorf("deregister: %w", err)
	}
	return nil
}

func sixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
