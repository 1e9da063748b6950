package onboarding

import (
	"context"
	"errors"
	"fmt"
	"github.com/aloro/wa-senders/shared/credentials"
	"slices"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/sender"
)

// result is one step's outcome.
type result struct {
	state    StepState
	reason   string
	detail   string
	attempts int
	wait     time.Duration // for StepRetrying: Meta's documented wait, if any
}

func done() result                 { return result{state: StepDone} }
func skipped(reason string) result { return result{state: StepSkipped, reason: reason} }
func failed(reason, detail string) result {
	return result{state: StepFailed, reason: reason, detail: detail}
}
func transient(reason, detail string, wait time.Duration) result {
	return result{state: StepRetrying, reason: reason, detail: detail, wait: wait}
}

// attempt runs one step, trying a transient failure again at once up to Attempts times.
func (s *Service) attempt(ctx context.Context, o *Onboarding, name StepName, code string) result {
	var res result
	for n := 0; n < s.o.Attempts; n++ {
		if n > 0 {
			t := time.NewTimer(s.o.Backoff(n))
			select {
			case <-ctx.Done():
				t.Stop()
				res.attempts = n
				return res
			case <-t.C:
			}
		}
		res = s.run(ctx, o, name, code)
		if res.state != StepRetrying || res.wait > 0 {
			// A documented wait (133015) is not retried at once.
			res.attempts = n + 1
			return res
		}
	}
	res.attempts = s.o.Attempts
	return res
}

func (s *Service) run(ctx context.Context, o *Onboarding, name StepName, code string) result {
	switch name {
	case StepExchangeCode:
		return s.exchange(ctx, o, code)
	case StepCheckAccess:
		return s.checkAccess(ctx, o)
	case StepSubscribeApp:
		return s.subscribe(ctx, o)
	case StepReadNumber:
		return s.readNumber(ctx, o)
	case StepUpsertSender:
		return s.upsertSender(ctx, o)
	case StepRegister:
		return s.register(ctx, o)
	case StepOnline:
		return s.online(ctx, o)
	}
	return failed(ReasonRejected, "unknown step "+string(name))
}

// classify turns a Graph error into a step result. Meta's message is kept as the detail (it
// never carries a token, code or PIN).
func classify(err error, permanentReason string) result {
	detail := errDetail(err)
	switch code := graph.Code(err); code {
	case graph.CodeTokenInvalid:
		return failed(ReasonTokenInvalid, detail)
	case 10, 200:
		return failed(ReasonPermission, detail)
	case graph.CodeWrongPIN:
		return failed(ReasonWrongPIN, "the number has another two-step PIN: set a new one (POST /senders/{id}/pin) and retry")
	case graph.CodeVerifyFirst:
		return failed(ReasonVerifyFirst, detail)
	case graph.CodeTooManyPINGuesses:
		return failed(ReasonTooManyPINGuesses, detail)
	case graph.CodePINTooFast:
		return transient(ReasonPINTooFast, detail, 0)
	case graph.CodeDeregisterFailed:
		return failed(ReasonDeregisterFailed, detail)
	case graph.CodeRecentlyDeleted:
		return transient(ReasonRecentlyDeleted, detail, graph.ClassRecentlyDeleted.Wait())
	case graph.CodeRegisterLimit:
		return failed(ReasonRegisterLimit, "10 registrations per 72 hours reached: retry after the block ends")
	}
	switch graph.Classify(err) {
	case graph.ClassCallRate:
		return transient(ReasonCallRate, detail, 0)
	case graph.ClassNetwork, graph.ClassTransient, graph.ClassAmbiguous, graph.ClassMaintenance:
		return transient(ReasonUnavailable, detail, 0)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return transient(ReasonUnavailable, "timed out", 0)
	}
	return failed(permanentReason, detail)
}

func errDetail(err error) string {
	var ge *graph.Error
	if errors.As(err, &ge) {
		msg := ge.Message
		if ge.Details != "" {
			msg = ge.Details
		}
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return fmt.Sprintf("Meta error %d: %s", ge.Code, msg)
	}
	var te *graph.TransportError
	if errors.As(err, &te) {
		return "Graph API unreachable"
	}
	return "internal error"
}

// storageFailure is a transient failure of our own storage.
func storageFailure(what string) result {
	return transient(ReasonUnavailable, "storage: "+what, 0)
}

func (s *Service) exchange(ctx context.Context, o *Onboarding, code string) result {
	if _, err := s.o.Secrets.Pending(ctx, o.ID); err == nil {
		return done() // exchanged before the process stopped
	}
	if code == "" {
		return failed(ReasonCodeRequired, "post the onboarding again with its code, or start Embedded Signup again")
	}
	tok, err := s.o.Graph.ExchangeCode(ctx, s.o.AppID, s.o.AppSecret, code)
	if err != nil {
		switch graph.Code(err) {
		case graph.CodeInvalidParam:
			return failed(ReasonCodeInvalid, "the code was used, expired or is unknown: start Embedded Signup again")
		case 101:
			return failed(ReasonAppCredentials, "Meta refused the app id or secret")
		}
		r := classify(err, ReasonRejected)
		if r.state == StepRetrying {
			// The code may still be valid, but it is not kept: posting it again resumes.
			return failed(ReasonCodeRequired, "Meta did not answer the exchange: post the onboarding again with its code")
		}
		return r
	}
	// The code is spent: keep the token before anything else can fail.
	for i := 0; ; i++ {
		err = s.o.Secrets.PutPending(ctx, o.ID, tok)
		if err == nil {
			return done()
		}
		if i == 2 {
			s.o.Log.Error("onboarding: exchanged token could not be kept", "onboarding", o.ID, "error", err)
			return failed(ReasonUnavailable, "storage failed after the code was spent: start Embedded Signup again")
		}
	}
}

// businessToken is the token the onboarding acts with: the exchanged one until promoted, the
// business's afterwards.
func (s *Service) businessToken(ctx context.Context, o *Onboarding) (string, error) {
	if t, err := s.o.Secrets.Pending(ctx, o.ID); err == nil {
		return t, nil
	} else if !errors.Is(err, persist.ErrNotFound) {
		return "", err
	}
	return s.o.Secrets.Token(ctx, o.BusinessID)
}

func (s *Service) checkAccess(ctx context.Context, o *Onboarding) result {
	tok, err := s.o.Secrets.Pending(ctx, o.ID)
	if errors.Is(err, persist.ErrNotFound) {
		if _, err := s.o.Secrets.Token(ctx, o.BusinessID); err == nil {
			return done() // promoted before the process stopped
		}
		return failed(ReasonCodeRequired, "the exchanged token is gone: start Embedded Signup again")
	}
	if err != nil {
		return storageFailure("read token")
	}
	info, err := s.o.Graph.DebugToken(ctx, s.o.AppID, s.o.AppSecret, tok)
	if err != nil {
		return classify(err, ReasonTokenInvalid)
	}
	var phones []string
	if o.PhoneNumberID != "" {
		phones = []string{o.PhoneNumberID}
	}
	if r := s.tokenReaches(ctx, tok, info, o.BusinessID, o.WABAID, phones); r.state != StepDone {
		return r
	}
	// Checked: it becomes the business's one token (replacing an older one) and the WABA's calls use it.
	if err := s.o.Secrets.PutToken(ctx, o.BusinessID, tok); err != nil {
		return storageFailure("store token")
	}
	if err := s.o.Secrets.Bind(ctx, o.BusinessID, o.WABAID); err != nil {
		return storageFailure("bind waba")
	}
	if err := s.o.Secrets.DeletePending(ctx, o.ID); err != nil {
		s.o.Log.Warn("onboarding: drop pending token", "onboarding", o.ID, "error", err)
	}
	return done()
}

// tokenReaches checks that tok (debug_token's info) is valid for the app and reaches the
// business's WABA and each of the numbers: the check before a token becomes the business's.
func (s *Service) tokenReaches(ctx context.Context, tok string, info graph.TokenInfo, businessID, waba string, phones []string) result {
	switch {
	case !info.Valid || info.AppID != s.o.AppID:
		return failed(ReasonTokenInvalid, "Meta reports the token invalid or issued to another app")
	case !info.Grants(graph.ScopeManagement, waba) || !info.Grants(graph.ScopeMessaging, waba):
		return failed(ReasonWABANotGranted, "the token does not grant whatsapp_business_management and whatsapp_business_messaging on this WABA")
	}
	tctx := graph.WithToken(ctx, tok)
	owner, err := s.o.Graph.WABAOwner(tctx, waba)
	if err != nil {
		r := classify(err, ReasonWABANotGranted)
		if r.reason == ReasonPermission {
			r.reason = ReasonWABANotGranted
		}
		return r
	}
	if owner != businessID {
		return failed(ReasonBusinessMismatch, "the WABA belongs to another business portfolio")
	}
	if len(phones) == 0 {
		return done()
	}
	list, err := s.o.Graph.ListPhoneNumbers(tctx, waba)
	if err != nil {
		return classify(err, ReasonWABANotGranted)
	}
	for _, id := range phones {
		if !slices.ContainsFunc(list, func(p graph.PhoneNumber) bool { return p.ID == id }) {
			return failed(ReasonNumberNotInWABA, "the phone number is not one of the WABA's")
		}
	}
	return done()
}

func (s *Service) subscribe(ctx context.Context, o *Onboarding) result {
	tok, err := s.businessToken(ctx, o)
	if err != nil {
		return failed(ReasonTokenInvalid, "no token kept for the business")
	}
	if err := s.o.Graph.SubscribeApp(graph.WithToken(ctx, tok), o.WABAID); err != nil {
		return classify(err, ReasonSubscribeFailed)
	}
	return done()
}

func (s *Service) readNumber(ctx context.Context, o *Onboarding) result {
	if o.PhoneNumberID == "" {
		return skipped("no_number")
	}
	tok, err := s.businessToken(ctx, o)
	if err != nil {
		return failed(ReasonTokenInvalid, "no token kept for the business")
	}
	p, err := s.o.Graph.GetPhoneNumber(graph.WithToken(ctx, tok), o.PhoneNumberID)
	if err != nil {
		return classify(err, ReasonNumberUnreadable)
	}
	e164, err := phone.Display(p.DisplayPhoneNumber)
	if err != nil {
		return failed(ReasonNumberUnreadable, "Meta's display_phone_number is not a phone number")
	}
	o.Facts = &Facts{PhoneNumber: e164, VerifiedName: p.VerifiedName, QualityRating: p.QualityRating,
		CodeVerificationStatus: p.CodeVerificationStatus, NameStatus: p.NameStatus, Status: p.Status,
		ThroughputLevel: p.ThroughputLevel, MessagingLimit: p.MessagingLimit.Raw}
	return done()
}

// applyFacts copies Meta's facts onto the sender.
func applyFacts(snd *sender.Sender, o *Onboarding) {
	f := o.Facts
	snd.WABAID, snd.BusinessID, snd.Type = o.WABAID, o.BusinessID, o.Type
	if f.VerifiedName != "" {
		snd.DisplayName = f.VerifiedName
	}
	snd.DisplayNameStatus = f.NameStatus
	snd.QualityRating = sender.QualityFromMeta(f.QualityRating)
	snd.MessagingLimit = f.MessagingLimit
	snd.ThroughputLevel = f.ThroughputLevel
	snd.MetaStatus = f.Status
	if len(o.Assistants) > 0 {
		snd.Assistants = slices.Clone(o.Assistants)
	}
}

func (s *Service) upsertSender(ctx context.Context, o *Onboarding) result {
	if o.PhoneNumberID == "" {
		return skipped("no_number")
	}
	if o.Facts == nil {
		return failed(ReasonNumberUnreadable, "no facts read")
	}
	o.Type = o.RequestedType
	if s.o.Pool != nil {
		claimed, err := s.o.Pool.Claim(ctx, o.Facts.PhoneNumber, o.BusinessID, o.PhoneNumberID)
		if err != nil {
			return storageFailure("claim pool number")
		}
		if claimed {
			o.Type = sender.TypePlatform
		}
	}
	now := s.o.Now()
	_, err := s.o.Senders.UpdateSender(ctx, o.PhoneNumberID, persist.InPlace(func(snd *sender.Sender) error {
		if snd.PhoneNumber != o.Facts.PhoneNumber {
			return fmt.Errorf("%w: sender has another phone number", errNumberTaken)
		}
		applyFacts(snd, o)
		snd.UpdatedAt = now
		defer o.acted(snd, len(snd.StatusHistory))
		switch snd.Status {
		case sender.StatusFailed:
			if err := snd.Fire(sender.EventStartVerification, sender.SourceOperator, "onboarding: setup again", now); err != nil {
				return err
			}
			fallthrough
		case sender.StatusPending:
			return snd.Fire(sender.EventCodeVerified, sender.SourceOperator, "embedded signup: Meta verified the number", now)
		}
		return nil
	}))
	switch {
	case err == nil:
	case errors.Is(err, errNumberTaken):
		return failed(ReasonNumberTaken, "a sender with this id has another phone number")
	case sender.IsRefused(err):
		return failed(ReasonSenderState, err.Error())
	case errors.Is(err, persist.ErrNotFound):
		name := o.Facts.VerifiedName
		if name == "" {
			name = o.DisplayName
		}
		snd := sender.New(o.PhoneNumberID, o.Type, o.Facts.PhoneNumber, o.WABAID, o.BusinessID, name, o.Assistants, sender.SourceOperator, now)
		applyFacts(snd, o)
		if err := snd.Fire(sender.EventCodeVerified, sender.SourceOperator, "embedded signup: Meta verified the number", now); err != nil {
			return failed(ReasonSenderState, err.Error())
		}
		o.acted(snd, 0)
		if err := s.o.Senders.CreateSender(ctx, snd); errors.Is(err, persist.ErrConflict) {
			return failed(ReasonNumberTaken, "another sender holds this phone number")
		} else if err != nil {
			return storageFailure("create sender")
		}
	default:
		return storageFailure("update sender")
	}
	if err := s.o.Secrets.Bind(ctx, o.BusinessID, o.PhoneNumberID); err != nil {
		return storageFailure("bind number")
	}
	return done()
}

var errNumberTaken = errors.New("number taken")

func (s *Service) register(ctx context.Context, o *Onboarding) result {
	if o.PhoneNumberID == "" {
		return skipped("no_number")
	}
	if o.Facts != nil && o.Facts.Status == graph.StatusConnected {
		return skipped("already_registered")
	}
	pin, kept, err := credentials.KeptOrNewPIN(ctx, s.o.Secrets, o.PhoneNumberID)
	if err != nil {
		return storageFailure("read pin")
	}
	if !kept {
		// Kept before Meta sees it: an answer lost after Meta set it must not lose the PIN.
		if err := s.o.Secrets.PutPIN(ctx, o.PhoneNumberID, pin); err != nil {
			return storageFailure("keep pin")
		}
	}
	tok, err := s.businessToken(ctx, o)
	if err != nil {
		return failed(ReasonTokenInvalid, "no token kept for the business")
	}
	if err := s.o.Graph.Register(graph.WithToken(ctx, tok), o.PhoneNumberID, pin); err != nil {
		return classify(err, ReasonRejected)
	}
	return done()
}

func (s *Service) online(ctx context.Context, o *Onboarding) result {
	if o.PhoneNumberID == "" {
		return skipped("no_number")
	}
	now := s.o.Now()
	registered := o.step(StepRegister).State == StepDone
	_, err := s.o.Senders.UpdateSender(ctx, o.PhoneNumberID, persist.InPlace(func(snd *sender.Sender) error {
		if registered {
			snd.MetaStatus = graph.StatusConnected // Meta accepted the register just now
		}
		defer o.acted(snd, len(snd.StatusHistory))
		switch snd.Status {
		case sender.StatusConnecting:
			return snd.Fire(sender.EventRegistered, sender.SourceOperator, "embedded signup: registered", now)
		case sender.StatusOffline:
			// Offline is the operator's (or a disconnection's) until a register brings the
			// number back: a re-run that registered nothing leaves it so.
			if registered {
				return snd.Fire(sender.EventEnable, sender.SourceOperator, "embedded signup: reconnected", now)
			}
		}
		if registered {
			return nil
		}
		return persist.ErrNoChange
	}))
	switch {
	case err == nil, errors.Is(err, persist.ErrNoChange):
		return done()
	case sender.IsRefused(err):
		return failed(ReasonSenderState, err.Error())
	}
	return storageFailure("update sender")
}
