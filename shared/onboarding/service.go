package onboarding

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
)

// Options configure a Service.
type Options struct {
	Store   Store
	Senders Senders
	Secrets Secrets
	Graph   Graph
	// Portfolio lists a business's senders and lifts their 190 hold; needed by ReplaceToken.
	Portfolio Portfolio
	// Pool claims platform numbers; nil when the platform has no pool.
	Pool PoolClaimer
	// AppID and AppSecret are the app's credentials for the code exchange and debug_token.
	AppID, AppSecret string
	Log              *slog.Logger
	Now              func() time.Time
	// Attempts is how often a transiently failing step is tried at once (default 3);
	// Backoff the wait before attempt n ≥ 1 (default 200 ms · 2^(n-1)).
	Attempts int
	Backoff  func(attempt int) time.Duration
}

// Service runs onboardings.
type Service struct{ o Options }

// New returns a Service.
func New(o Options) (*Service, error) {
	// Graph may be nil where only partner events are applied (the webhook function).
	if o.Store == nil || o.Senders == nil || o.Secrets == nil {
		return nil, errors.New("onboarding: store, senders and secrets are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration { return 200 * time.Millisecond << (n - 1) }
	}
	return &Service{o: o}, nil
}

// Request is what the product's page posts after Embedded Signup.
type Request struct {
	Code          string
	WABAID        string
	PhoneNumberID string
	BusinessID    string
	Type          sender.Type
	DisplayName   string
	Assistants    []string
	// Actor is who started it (the caller's IAM principal, "local" under make run): every
	// history entry the onboarding writes names it.
	Actor string
}

// InvalidError is a request the caller must fix (400).
type InvalidError struct{ Field, Problem string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Problem }

// ErrCodeRequired is returned by Retry when the failed step is the code exchange: only a
// POST /onboardings with the code (or a new Embedded Signup) can resume it.
var ErrCodeRequired = errors.New("the code exchange cannot be retried without the code: post the onboarding again with it, or start Embedded Signup again")

var graphID = regexp.MustCompile(`^[0-9]{1,32}$`)

// Validate checks a request.
func (r Request) Validate() error {
	switch {
	case r.Code == "":
		return &InvalidError{"code", "is required (Embedded Signup's exchangeable code)"}
	case len(r.Code) > 2048:
		return &InvalidError{"code", "is too long"}
	case !graphID.MatchString(r.WABAID):
		return &InvalidError{"wabaId", "must be Meta's numeric WABA id"}
	case r.PhoneNumberID != "" && !graphID.MatchString(r.PhoneNumberID):
		return &InvalidError{"phoneNumberId", "must be Meta's numeric phone number id"}
	case !graphID.MatchString(r.BusinessID):
		return &InvalidError{"businessId", "must be Meta's numeric business portfolio id"}
	case r.Type != sender.TypePlatform && r.Type != sender.TypeExternal:
		return &InvalidError{"type", "must be platform or external"}
	case len(r.DisplayName) > 200:
		return &InvalidError{"displayName", "is too long"}
	case len(r.Assistants) > 100:
		return &InvalidError{"assistants", "at most 100"}
	}
	for _, a := range r.Assistants {
		if a == "" || len(a) > 128 {
			return &InvalidError{"assistants", "each must be a non-empty id of at most 128 characters"}
		}
	}
	return nil
}

// IDFor is the onboarding id of a code: the same code always names the same onboarding, and
// the id does not reveal the code.
func IDFor(code string) string {
	sum := sha256.Sum256([]byte("onboarding\x00" + code))
	return "onb_" + hex.EncodeToString(sum[:16])
}

// Start records the onboarding and runs its steps. The same code, or the same WABA and
// number while an onboarding of them is still under way, returns that onboarding: never two.
func (s *Service) Start(ctx context.Context, r Request) (*Onboarding, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if s.o.Graph == nil {
		return nil, errors.New("onboarding: no Graph API client configured")
	}
	id := IDFor(r.Code)
	o, err := s.o.Store.GetOnboarding(ctx, id)
	switch {
	case err == nil:
		// The same code again: resume the exchange if it never completed, else just answer.
		if st := o.step(StepExchangeCode); st != nil && st.State != StepDone && !o.Finished() || o.Reason == ReasonCodeRequired {
			return s.resume(ctx, o, r.Code)
		}
		return o, nil
	case !errors.Is(err, persist.ErrNotFound):
		return nil, fmt.Errorf("read onboarding: %w", err)
	}
	if prevID, err := s.o.Store.OnboardingForAsset(ctx, r.WABAID, r.PhoneNumberID); err == nil {
		prev, err := s.o.Store.GetOnboarding(ctx, prevID)
		if err != nil && !errors.Is(err, persist.ErrNotFound) {
			return nil, fmt.Errorf("read onboarding: %w", err)
		}
		if err == nil && !prev.Finished() {
			// One onboarding per asset at a time: the new code stays unused.
			return prev, nil
		}
	} else if !errors.Is(err, persist.ErrNotFound) {
		return nil, fmt.Errorf("read onboarding of asset: %w", err)
	}
	now := s.o.Now()
	o = &Onboarding{ID: id, BusinessID: r.BusinessID, WABAID: r.WABAID, PhoneNumberID: r.PhoneNumberID,
		RequestedType: r.Type, DisplayName: r.DisplayName, Assistants: slices.Clone(r.Assistants), Actor: r.Actor,
		Status: StatusRunning, Steps: newSteps(), CreatedAt: now, UpdatedAt: now}
	if prevWABA, err := s.o.Store.OnboardingForAsset(ctx, r.WABAID, ""); err == nil {
		// Partner events that arrived before this onboarding (PARTNER_ADDED usually does).
		if p, err := s.o.Store.GetOnboarding(ctx, prevWABA); err == nil && p.ID != id {
			o.PartnerEvents = slices.Clone(p.PartnerEvents)
		}
	}
	if err := s.o.Store.CreateOnboarding(ctx, o); errors.Is(err, persist.ErrConflict) {
		return s.o.Store.GetOnboarding(ctx, id)
	} else if err != nil {
		return nil, fmt.Errorf("create onboarding: %w", err)
	}
	for _, ph := range []string{r.PhoneNumberID, ""} {
		if err := s.o.Store.SetOnboardingForAsset(ctx, r.WABAID, ph, id); err != nil {
			return nil, fmt.Errorf("index onboarding: %w", err)
		}
	}
	s.o.Log.Info("onboarding started", "onboarding", id, "waba", r.WABAID, "phoneNumberId", r.PhoneNumberID)
	return s.resume(ctx, o, r.Code)
}

// Get returns an onboarding (persist.ErrNotFound when unknown).
func (s *Service) Get(ctx context.Context, id string) (*Onboarding, error) {
	return s.o.Store.GetOnboarding(ctx, id)
}

// Retry resumes an onboarding from its failed or retrying step with the token kept from the
// exchange. A done onboarding is returned as it is.
func (s *Service) Retry(ctx context.Context, id string) (*Onboarding, error) {
	o, err := s.o.Store.GetOnboarding(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.Status == StatusDone {
		return o, nil
	}
	if st := o.step(StepExchangeCode); st.State != StepDone {
		return o, ErrCodeRequired
	}
	for i := range o.Steps {
		if o.Steps[i].State == StepFailed || o.Steps[i].State == StepRetrying {
			o.Steps[i].State = StepPending
		}
	}
	o.Status, o.Reason, o.NextAttemptAt = StatusRunning, "", time.Time{}
	if err := s.reopenSender(ctx, o); err != nil {
		return nil, err
	}
	return s.resume(ctx, o, "")
}

// reopenSender takes a sender that failed setup back to connecting for the retry.
func (s *Service) reopenSender(ctx context.Context, o *Onboarding) error {
	if o.PhoneNumberID == "" {
		return nil
	}
	_, err := s.o.Senders.UpdateSender(ctx, o.PhoneNumberID, persist.InPlace(func(snd *sender.Sender) error {
		if snd.Status != sender.StatusFailed {
			return persist.ErrNoChange
		}
		defer o.acted(snd, len(snd.StatusHistory))
		now := s.o.Now()
		if err := snd.Fire(sender.EventStartVerification, sender.SourceOperator, "onboarding retried", now); err != nil {
			return err
		}
		return snd.Fire(sender.EventCodeVerified, sender.SourceOperator, "embedded signup: Meta verified the number", now)
	}))
	if err == nil || errors.Is(err, persist.ErrNotFound) || errors.Is(err, persist.ErrNoChange) {
		return nil
	}
	return fmt.Errorf("reopen sender: %w", err)
}

// staleRun is when an onboarding left "running" is taken for abandoned (its process died) and
// resumed by the schedule.
const staleRun = 2 * time.Minute

// ResumeDue resumes the onboardings whose next attempt is due (transient failures, abandoned
// runs), at most limit; the reconciler's schedule calls it. It returns how many it resumed.
func (s *Service) ResumeDue(ctx context.Context, limit int) (int, error) {
	if s.o.Graph == nil {
		return 0, nil
	}
	ids, err := s.o.Store.DueOnboardings(ctx, s.o.Now(), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, err := s.Retry(ctx, id); err != nil {
			if !errors.Is(err, ErrCodeRequired) {
				s.o.Log.Warn("onboarding: scheduled resume failed", "onboarding", id, "error", err)
			}
			continue
		}
		n++
	}
	return n, nil
}

// resume runs the steps not yet done, saving after each.
func (s *Service) resume(ctx context.Context, o *Onboarding, code string) (*Onboarding, error) {
	o.Status, o.Reason = StatusRunning, ""
	// Until a step is saved the run may die: the schedule resumes it after staleRun.
	o.NextAttemptAt = s.o.Now().Add(staleRun)
	for _, name := range Steps {
		st := o.step(name)
		if st.State == StepDone || st.State == StepSkipped {
			continue
		}
		res := s.attempt(ctx, o, name, code)
		now := s.o.Now()
		st.State, st.Reason, st.Detail, st.At = res.state, res.reason, res.detail, now
		st.Attempts += res.attempts
		o.UpdatedAt = now
		switch res.state {
		case StepRetrying:
			o.Status, o.Reason = StatusRetrying, res.reason
			o.NextAttemptAt = now.Add(max(res.wait, time.Minute))
		case StepFailed:
			o.Status, o.Reason, o.NextAttemptAt = StatusFailed, res.reason, time.Time{}
			s.failSender(ctx, o, res.reason)
			if name == StepCheckAccess {
				// A token that failed the check is never used: do not keep it.
				if err := s.o.Secrets.DeletePending(ctx, o.ID); err != nil {
					s.o.Log.Warn("onboarding: drop refused token", "onboarding", o.ID, "error", err)
				}
			}
		default:
			o.NextAttemptAt = now.Add(staleRun)
		}
		if err := s.o.Store.SaveOnboarding(ctx, o); err != nil {
			return nil, fmt.Errorf("save onboarding after %s: %w", name, err)
		}
		if res.state == StepRetrying || res.state == StepFailed {
			s.o.Log.Warn("onboarding stopped", "onboarding", o.ID, "step", string(name), "state", string(res.state), "reason", res.reason)
			return o, nil
		}
	}
	o.Status, o.NextAttemptAt, o.UpdatedAt = StatusDone, time.Time{}, s.o.Now()
	if err := s.o.Store.SaveOnboarding(ctx, o); err != nil {
		return nil, fmt.Errorf("save onboarding: %w", err)
	}
	s.o.Log.Info("onboarding done", "onboarding", o.ID, "waba", o.WABAID, "phoneNumberId", o.PhoneNumberID)
	return o, nil
}

// failSender records a permanent failure on the sender, when it exists.
func (s *Service) failSender(ctx context.Context, o *Onboarding, reason string) {
	if o.PhoneNumberID == "" {
		return
	}
	_, err := s.o.Senders.UpdateSender(ctx, o.PhoneNumberID, persist.InPlace(func(snd *sender.Sender) error {
		if snd.Status != sender.StatusPending && snd.Status != sender.StatusConnecting {
			return persist.ErrNoChange
		}
		defer o.acted(snd, len(snd.StatusHistory))
		return snd.Fire(sender.EventSetupFailed, sender.SourceOperator, "onboarding failed: "+reason, s.o.Now())
	}))
	if err != nil && !errors.Is(err, persist.ErrNotFound) && !errors.Is(err, persist.ErrNoChange) {
		s.o.Log.Error("onboarding: mark sender failed", "onboarding", o.ID, "error", err)
	}
}
