package onboarding

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
)

func newPIN() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// ErrBadPIN is a PIN that is not six digits.
var ErrBadPIN = errors.New("pin must be six digits")

// SetPIN sets a new two-step PIN for the number at Meta (generated when pin is empty) and keeps
// it. The Graph client resolves the number's business token.
func (s *Service) SetPIN(ctx context.Context, phoneNumberID, pin string) error {
	if pin == "" {
		var err error
		if pin, err = newPIN(); err != nil {
			return fmt.Errorf("generate pin: %w", err)
		}
	} else if len(pin) != 6 || !allDigits(pin) {
		return ErrBadPIN
	}
	if err := s.o.Graph.SetPIN(ctx, phoneNumberID, pin); err != nil {
		return err
	}
	if err := s.o.Secrets.PutPIN(ctx, phoneNumberID, pin); err != nil {
		return fmt.Errorf("keep pin (Meta has it: set a new one to recover): %w", err)
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ErrTokenRefused is a replacement token Meta reports invalid, issued to another app, or not
// granting the business's WABAs.
var ErrTokenRefused = errors.New("Meta reports the token invalid or issued to another app")

// ReplaceToken checks token with debug_token and makes it the business's token: every warm
// instance uses it within the credentials cache expiry.
func (s *Service) ReplaceToken(ctx context.Context, businessID, token string) error {
	if !graphID.MatchString(businessID) {
		return &InvalidError{"businessId", "must be Meta's numeric business portfolio id"}
	}
	if token == "" || len(token) > 4096 {
		return &InvalidError{"token", "is required"}
	}
	info, err := s.o.Graph.DebugToken(ctx, s.o.AppID, s.o.AppSecret, token)
	if err != nil {
		return fmt.Errorf("debug token: %w", err)
	}
	if !info.Valid || info.AppID != s.o.AppID {
		return ErrTokenRefused
	}
	if err := s.o.Secrets.PutToken(ctx, businessID, token); err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}
