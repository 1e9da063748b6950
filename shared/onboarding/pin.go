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
// granting the business's WABAs and numbers.
var ErrTokenRefused = errors.New("Meta reports the token invalid, issued to another app, or not granting the business's WABAs and numbers")

// ReplaceToken checks token with debug_token and the Graph calls onboarding checks a token with
// (the WABA is the business's, the token grants it and each of its senders' numbers), for every
// WABA and number bound to the business, then makes it the business's token (every warm instance
// uses it within the credentials cache expiry) and lifts the send hold a 190 put on the
// business's senders.
func (s *Service) ReplaceToken(ctx context.Context, businessID, token string) error {
	if !graphID.MatchString(businessID) {
		return &InvalidError{"businessId", "must be Meta's numeric business portfolio id"}
	}
	if token == "" || len(token) > 4096 {
		return &InvalidError{"token", "is required"}
	}
	if s.o.Portfolio == nil {
		return errors.New("replace token: no portfolio port configured")
	}
	senders, err := s.o.Portfolio.SendersOfBusiness(ctx, businessID)
	if err != nil {
		return fmt.Errorf("list the business's senders: %w", err)
	}
	info, err := s.o.Graph.DebugToken(ctx, s.o.AppID, s.o.AppSecret, token)
	if err != nil {
		return fmt.Errorf("debug token: %w", err)
	}
	if !info.Valid || info.AppID != s.o.AppID {
		return ErrTokenRefused
	}
	phones := map[string][]string{}
	var wabas []string
	for _, snd := range senders {
		if _, ok := phones[snd.WABAID]; !ok {
			wabas = append(wabas, snd.WABAID)
		}
		phones[snd.WABAID] = append(phones[snd.WABAID], snd.ID)
	}
	for _, waba := range wabas {
		r := s.tokenReaches(ctx, token, info, businessID, waba, phones[waba])
		switch r.state {
		case StepDone:
		case StepRetrying:
			return fmt.Errorf("check the token on WABA %s: %s %s", waba, r.reason, r.detail)
		default:
			return fmt.Errorf("%w (WABA %s: %s)", ErrTokenRefused, waba, r.reason)
		}
	}
	if err := s.o.Secrets.PutToken(ctx, businessID, token); err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	// The token is replaced: a hold left by the refused one must not keep the sends waiting.
	lifted := map[string]bool{}
	for _, snd := range senders {
		if lifted[snd.PortfolioKey()] {
			continue // one hold per portfolio
		}
		lifted[snd.PortfolioKey()] = true
		if err := s.o.Portfolio.LiftTokenHold(ctx, snd); err != nil {
			return fmt.Errorf("lift the 190 send hold (token stored; PUT it again to retry): %w", err)
		}
	}
	return nil
}
