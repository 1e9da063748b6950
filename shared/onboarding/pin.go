package onboarding

import (
	"context"
	"errors"
	"fmt"

	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/graph"
)

// SetPIN sets a new two-step PIN for the number at Meta (generated when pin is empty). The PIN
// is kept before Meta sees it and the previous one put back if Meta refuses it
// (credentials.ApplyPIN). The Graph client resolves the number's business token.
func (s *Service) SetPIN(ctx context.Context, phoneNumberID, pin string) error {
	if pin == "" {
		var err error
		if pin, err = credentials.NewPIN(); err != nil {
			return err
		}
	} else if !credentials.ValidPIN(pin) {
		return credentials.ErrBadPIN
	}
	return credentials.ApplyPIN(ctx, s.o.Secrets, phoneNumberID, pin, func(pin string) error {
		return s.o.Graph.SetPIN(ctx, phoneNumberID, pin)
	}, graph.Refused)
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
