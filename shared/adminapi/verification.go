package adminapi

import (
	"context"
	"errors"
	"fmt"
	"github.com/aloro/wa-senders/shared/persist"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

// DefaultCodeLanguage is the locale of the verification message when the caller gives none.
const DefaultCodeLanguage = "en_US"

// bareLocales maps a bare language to the locale Meta's request_code expects ("locale string,
// e.g. en_US"); other bare languages are passed on as they are.
var bareLocales = map[string]string{"en": "en_US"}

var localePattern = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2,3})?$`)

// codeLanguage normalises "en", "en-us", "EN_us" to Meta's locale form.
func codeLanguage(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return DefaultCodeLanguage, nil
	}
	l := template.NormalizeLanguage(v)
	if loc, ok := bareLocales[l]; ok {
		l = loc
	}
	if !localePattern.MatchString(l) {
		return "", badRequest("language: want a language or locale code such as en or en_US")
	}
	return l, nil
}

// verificationRequest is the body of POST /senders/{id}/verification.
type verificationRequest struct {
	Method   string `json:"method"`
	Language string `json:"language"`
}

// startVerification asks Meta to send a code. From failed it is the product's "retry setup".
func (a *API) startVerification(w http.ResponseWriter, r *http.Request, p []string) error {
	var in verificationRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	var method string
	switch strings.ToLower(strings.TrimSpace(in.Method)) {
	case "sms":
		method = graph.CodeMethodSMS
	case "voice":
		method = graph.CodeMethodVoice
	default:
		return badRequest("method: want sms or voice")
	}
	lang, err := codeLanguage(in.Language)
	if err != nil {
		return err
	}
	ctx := r.Context()
	snd, err := a.store.GetSender(ctx, p[0])
	if err != nil {
		return senderErr(err)
	}
	// Refuse before calling Meta: a verified number must not be sent new codes.
	if _, _, err := snd.Next(sender.EventStartVerification, sender.SourceOperator); err != nil {
		return err
	}
	if err := a.graph.RequestCode(ctx, snd.ID, method, lang); err != nil {
		return err
	}
	now := a.now().UTC()
	snd, err = a.store.UpdateSender(ctx, snd.ID, persist.InPlace(func(s *sender.Sender) error {
		defer stampActor(s, len(s.StatusHistory), principal(ctx))
		reason := "verification code requested by " + strings.ToLower(method)
		if s.Status == sender.StatusFailed {
			reason = "retry setup: " + reason
		}
		if err := s.Fire(sender.EventStartVerification, sender.SourceOperator, reason, now); err != nil {
			return err
		}
		s.VerificationMethod = strings.ToLower(method)
		s.UpdatedAt = now
		return nil
	}))
	if err != nil {
		return senderErr(err)
	}
	a.log.Info("verification code requested", "sender", snd.ID, "method", snd.VerificationMethod, "language", lang)
	return a.writeSender(ctx, w, http.StatusOK, snd)
}

// confirmRequest is the body of POST /senders/{id}/verification/confirm. Neither value is ever
// logged, returned or stored.
type confirmRequest struct {
	Code string `json:"code"`
	PIN  string `json:"pin"`
}

// String keeps the secrets out of any accidental %v.
func (confirmRequest) String() string { return "confirmRequest{redacted}" }

var codePattern = regexp.MustCompile(`^[0-9]{6}$`)

// confirmVerification submits the code (pending → connecting) and registers the number with
// its two-step PIN (connecting → online). A sender already connecting (its code verified, the
// registration lost or refused for a passing reason) goes straight to register.
func (a *API) confirmVerification(w http.ResponseWriter, r *http.Request, p []string) error {
	var in confirmRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	in.Code = strings.TrimSpace(in.Code)
	if in.PIN != "" && !credentials.ValidPIN(in.PIN) {
		return badRequest("pin: the two-step PIN is 6 digits")
	}
	ctx := r.Context()
	snd, err := a.store.GetSender(ctx, p[0])
	if err != nil {
		return senderErr(err)
	}
	if snd.Status != sender.StatusConnecting {
		if _, _, err := snd.Next(sender.EventCodeVerified, sender.SourceOperator); err != nil {
			return err
		}
		if !codePattern.MatchString(in.Code) {
			return badRequest("code: the verification code is 6 digits")
		}
		if snd, err = a.verifyCode(ctx, snd, in.Code); err != nil {
			return err
		}
	}
	if snd, err = a.registerWithKeptPIN(ctx, snd, in.PIN); err != nil {
		return err
	}
	return a.writeSender(ctx, w, http.StatusOK, snd)
}

// registerWithKeptPIN registers snd with pin, else the PIN already kept for it (a retry after a
// lost answer must not change it), else a new one. The PIN is kept before Meta sees it and a
// refused one never replaces the PIN kept before (credentials.ApplyPIN): every later
// re-registration needs it.
func (a *API) registerWithKeptPIN(ctx context.Context, snd *sender.Sender, pin string) (*sender.Sender, error) {
	keeper := a.pins
	if pin == "" {
		var err error
		if pin, _, err = credentials.KeptOrNewPIN(ctx, keeper, snd.ID); err != nil {
			return nil, err
		}
	}
	err := credentials.ApplyPIN(ctx, keeper, snd.ID, pin, func(pin string) error {
		return a.registerAtMeta(ctx, snd.ID, pin)
	}, graph.Refused)
	if errors.Is(err, credentials.ErrPINNotKept) {
		return nil, err // Meta was not asked
	}
	return a.recordRegister(ctx, snd, err)
}

func (a *API) verifyCode(ctx context.Context, snd *sender.Sender, code string) (*sender.Sender, error) {
	verr := a.graph.VerifyCode(ctx, snd.ID, code)
	now := a.now().UTC()
	if verr != nil && !graph.IsWrongCode(verr) {
		return nil, verr
	}
	if verr != nil {
		var failed bool
		upd, err := a.store.UpdateSender(ctx, snd.ID, persist.InPlace(func(s *sender.Sender) error {
			defer stampActor(s, len(s.StatusHistory), principal(ctx))
			f, err := s.CodeRejected(now)
			failed = f
			return err
		}))
		if err != nil {
			return nil, senderErr(err)
		}
		a.log.Warn("wrong verification code", "sender", snd.ID, "attemptsLeft", upd.CodeAttemptsLeft(), "failed", failed)
		if failed {
			return nil, &apiError{http.StatusBadRequest, "wrong_code",
				"the verification code is wrong and no attempts are left: the sender has failed; start verification again to retry"}
		}
		return nil, &apiError{http.StatusBadRequest, "wrong_code",
			fmt.Sprintf("the verification code is wrong; %d attempts left", upd.CodeAttemptsLeft())}
	}
	upd, err := a.store.UpdateSender(ctx, snd.ID, persist.InPlace(func(s *sender.Sender) error {
		defer stampActor(s, len(s.StatusHistory), principal(ctx))
		if err := s.Fire(sender.EventCodeVerified, sender.SourceOperator, "verification code accepted", now); err != nil {
			return err
		}
		s.FailedCodeAttempts = 0
		return nil
	}))
	if err != nil {
		return nil, senderErr(err)
	}
	a.log.Info("verification code accepted", "sender", snd.ID)
	return upd, nil
}

// registerAttempts bounds the register calls one confirm makes when Meta answers with a
// passing failure (5xx, network, throughput): Meta allows 10 register calls per 72 h.
const registerAttempts = 2

// registerFailure says what a failed register means for the sender.
type registerFailure int

const (
	// registerFailedForGood: this number cannot be registered as things are (verify first,
	// register limit, too many PIN guesses, an invalid request): setup failed, retry setup.
	registerFailedForGood registerFailure = iota
	// registerRetryLater: transient or platform-side (a 5xx or network failure, a token being
	// replaced, a number deleted less than 5 minutes ago, PIN tried too fast, an unreadable
	// answer): the verified state is kept; confirming again retries the register.
	registerRetryLater
	// registerNeedsPIN: the number has another two-step PIN: the caller gives it.
	registerNeedsPIN
)

// classifyRegister maps a register error to its effect on the sender.
func classifyRegister(err error) registerFailure {
	switch class := graph.Classify(err); {
	case class == graph.ClassWrongPIN:
		return registerNeedsPIN
	case class.Retryable(), class == graph.ClassTokenInvalid, class == graph.ClassRecentlyDeleted,
		class == graph.ClassPINTooFast, class == graph.ClassUnknown:
		return registerRetryLater
	}
	return registerFailedForGood
}

// registerAtMeta registers the number, repeating a passing failure once.
func (a *API) registerAtMeta(ctx context.Context, phoneNumberID, pin string) error {
	var rerr error
	for i := range registerAttempts {
		if rerr = a.graph.Register(ctx, phoneNumberID, pin); rerr == nil || !graph.IsRetryable(rerr) || i == registerAttempts-1 {
			break
		}
		if err := sleepCtx(ctx, a.registerBackoff); err != nil {
			break
		}
	}
	return rerr
}

// recordRegister moves snd by the register's outcome rerr (nil: registered).
func (a *API) recordRegister(ctx context.Context, snd *sender.Sender, rerr error) (*sender.Sender, error) {
	now := a.now().UTC()
	if rerr == nil {
		upd, err := a.store.UpdateSender(ctx, snd.ID, persist.InPlace(func(s *sender.Sender) error {
			defer stampActor(s, len(s.StatusHistory), principal(ctx))
			return s.Fire(sender.EventRegistered, sender.SourceOperator, "registered with Meta", now)
		}))
		if err != nil {
			return nil, senderErr(err)
		}
		a.log.Info("sender registered", "sender", snd.ID)
		return upd, nil
	}
	class := graph.Classify(rerr)
	switch classifyRegister(rerr) {
	case registerNeedsPIN:
		// The number already has a two-step PIN: the caller must give it (or reset it at Meta).
		return nil, &apiError{http.StatusBadRequest, "wrong_pin",
			"the number already has a different two-step PIN: send it as pin; the sender stays connecting"}
	case registerRetryLater:
		// The code is verified: keep it. Confirming again (no code needed) retries the register.
		a.log.Warn("register failed, sender stays connecting", "sender", snd.ID, "class", string(class), "graphCode", graph.Code(rerr))
		msg := fmt.Sprintf("Meta could not register the number now (%s", class)
		if c := graph.Code(rerr); c != 0 {
			msg += fmt.Sprintf(", code %d", c)
		}
		msg += "); the code stays verified and the sender connecting: confirm again later to retry the register"
		return nil, &apiError{http.StatusServiceUnavailable, "register_retry_later", msg}
	}
	reason := fmt.Sprintf("registration failed: %s", class)
	if c := graph.Code(rerr); c != 0 {
		reason += fmt.Sprintf(" (code %d)", c)
	}
	if _, err := a.store.UpdateSender(ctx, snd.ID, persist.InPlace(func(s *sender.Sender) error {
		defer stampActor(s, len(s.StatusHistory), principal(ctx))
		return s.Fire(sender.EventSetupFailed, sender.SourceOperator, reason, now)
	})); err != nil && !sender.IsRefused(err) && !errors.Is(err, persist.ErrNotFound) {
		return nil, err
	}
	a.log.Warn("registration failed", "sender", snd.ID, "class", string(class), "graphCode", graph.Code(rerr))
	return nil, rerr
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newPIN draws a uniform six-digit PIN from crypto/rand.
