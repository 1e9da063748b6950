package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
)

// Onboarder runs Embedded Signup onboardings and keeps the business credentials (implemented
// by *onboarding.Service).
type Onboarder interface {
	Start(ctx context.Context, r onboarding.Request) (*onboarding.Onboarding, error)
	Get(ctx context.Context, id string) (*onboarding.Onboarding, error)
	Retry(ctx context.Context, id string) (*onboarding.Onboarding, error)
	ReplaceToken(ctx context.Context, businessID, token string) error
	SetPIN(ctx context.Context, phoneNumberID, pin string) error
}

var _ Onboarder = (*onboarding.Service)(nil)

// The onboarding and credential routes (in the endpoints table):
//
//	POST /onboardings                 202 {onboarding}
//	GET  /onboardings/{id}            200 {onboarding}
//	POST /onboardings/{id}/retry      202 {onboarding}
//	PUT  /businesses/{id}/token       204
//	POST /senders/{id}/pin            200 {"phoneNumberId","pinSet":true}

// onboardingRequest is the body of POST /onboardings: what Embedded Signup returned to the
// product's page, and the product's own choices.
type onboardingRequest struct {
	Code          string   `json:"code"`
	WABAID        string   `json:"wabaId"`
	PhoneNumberID string   `json:"phoneNumberId"`
	BusinessID    string   `json:"businessId"`
	Type          string   `json:"type"`
	DisplayName   string   `json:"displayName"`
	Assistants    []string `json:"assistants"`
}

func (a *API) onboarder() (Onboarder, error) {
	if a.onboard == nil {
		return nil, &apiError{http.StatusNotImplemented, "not_configured", "onboarding is not configured in this function"}
	}
	return a.onboard, nil
}

func (a *API) postOnboarding(w http.ResponseWriter, r *http.Request, _ []string) error {
	ob, err := a.onboarder()
	if err != nil {
		return err
	}
	var in onboardingRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	o, err := ob.Start(r.Context(), onboarding.Request{Code: in.Code, WABAID: in.WABAID, PhoneNumberID: in.PhoneNumberID,
		BusinessID: in.BusinessID, Type: sender.Type(in.Type), DisplayName: in.DisplayName, Assistants: in.Assistants,
		Actor: principal(r.Context())})
	if err != nil {
		return onboardingErr(err)
	}
	writeJSON(w, http.StatusAccepted, o)
	return nil
}

func (a *API) getOnboarding(w http.ResponseWriter, r *http.Request, p []string) error {
	ob, err := a.onboarder()
	if err != nil {
		return err
	}
	o, err := ob.Get(r.Context(), p[0])
	if err != nil {
		return onboardingErr(err)
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (a *API) retryOnboarding(w http.ResponseWriter, r *http.Request, p []string) error {
	ob, err := a.onboarder()
	if err != nil {
		return err
	}
	o, err := ob.Retry(r.Context(), p[0])
	if err != nil {
		return onboardingErr(err)
	}
	writeJSON(w, http.StatusAccepted, o)
	return nil
}

func (a *API) putBusinessToken(w http.ResponseWriter, r *http.Request, p []string) error {
	ob, err := a.onboarder()
	if err != nil {
		return err
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := ob.ReplaceToken(r.Context(), p[0], strings.TrimSpace(in.Token)); err != nil {
		return onboardingErr(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) postSenderPIN(w http.ResponseWriter, r *http.Request, p []string) error {
	ob, err := a.onboarder()
	if err != nil {
		return err
	}
	var in struct {
		// PIN is optional: absent, the backend generates one. Never answered.
		PIN string `json:"pin"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if _, err := a.store.GetSender(r.Context(), p[0]); err != nil {
		return senderErr(err)
	}
	if err := ob.SetPIN(r.Context(), p[0], in.PIN); err != nil {
		return onboardingErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"phoneNumberId": p[0], "pinSet": true})
	return nil
}

// onboardingErr maps the onboarding service's errors to answers.
func onboardingErr(err error) error {
	var ie *onboarding.InvalidError
	switch {
	case errors.As(err, &ie):
		return badRequest("%s", ie.Error())
	case errors.Is(err, persist.ErrNotFound):
		return &apiError{http.StatusNotFound, "onboarding_not_found", "no onboarding with this id"}
	case errors.Is(err, onboarding.ErrCodeRequired):
		return &apiError{http.StatusConflict, "code_required", onboarding.ErrCodeRequired.Error()}
	case errors.Is(err, onboarding.ErrTokenRefused):
		return &apiError{http.StatusBadRequest, "token_refused", onboarding.ErrTokenRefused.Error()}
	case errors.Is(err, credentials.ErrBadPIN):
		return badRequest("pin must be six digits")
	case errors.Is(err, credentials.ErrTokenForgotten):
		return &apiError{http.StatusConflict, "business_disconnected", "the business disconnected: onboard it again"}
	}
	return err
}
