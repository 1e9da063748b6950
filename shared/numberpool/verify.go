package numberpool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/persist"
)

// Verification methods (Meta's code_method).
const (
	MethodSMS   = graph.CodeMethodSMS
	MethodVoice = graph.CodeMethodVoice
)

// methodFor picks SMS unless the caller or the number's country asks for a call.
func (p *Pool) methodFor(n *Number, asked string) string {
	switch strings.ToUpper(asked) {
	case MethodSMS, MethodVoice:
		return strings.ToUpper(asked)
	}
	if slices.Contains(p.o.VoiceCountries, n.Country) {
		return MethodVoice
	}
	return MethodSMS
}

// StartVerification starts (or starts over) the hands-free verification of a pool number:
// add it to the portfolio when it has no pre-verified id yet, mark it verifying, ask Meta for a
// code by method ("" picks SMS, or VOICE for VoiceCountries). The code then arrives at the
// carrier webhook (HandleInbound). Failures leave the number unverified with the reason.
func (p *Pool) StartVerification(ctx context.Context, e164, method string) (*Number, error) {
	now := p.now()
	var attempt int
	var chosen string
	n, err := p.o.Store.UpdateNumber(ctx, e164, func(cur *Number) (*Number, error) {
		if cur == nil {
			return nil, ErrNotOurs
		}
		switch cur.State {
		case StateUnverified, StateVerifying:
		case StateVerified:
			// Meta re-verifies only in the window before expiry.
			if now.Before(cur.VerifiedUntil.Add(-p.o.ReverifyBefore)) {
				return nil, fmt.Errorf("verified until %s; re-verification opens %s before: %w",
					cur.VerifiedUntil.Format(time.RFC3339), p.o.ReverifyBefore, ErrState)
			}
		default:
			return nil, stateErr(cur, "verify")
		}
		if p.o.Mode == ModeWABA && cur.MetaID == "" {
			return nil, fmt.Errorf("verify: in waba mode a number is verified once added to a WABA: %w", ErrState)
		}
		next := *cur
		next.Attempt++
		attempt, chosen = next.Attempt, p.methodFor(cur, method)
		next.State, next.Method, next.Reason = StateVerifying, chosen, ""
		next.CodeDeadline, next.UpdatedAt = now.Add(p.o.CodeTimeout), now
		return &next, nil
	})
	if err != nil {
		return nil, err
	}
	if n.MetaID == "" {
		id, err := p.o.Graph.AddPreVerifiedNumber(ctx, p.o.BusinessID, n.E164)
		if err != nil {
			return p.failAttempt(ctx, e164, attempt, "add to the business portfolio failed: "+graphReason(err))
		}
		if n, err = p.setMetaID(ctx, e164, attempt, id); err != nil {
			return nil, err
		}
	}
	return p.requestCode(ctx, n, attempt, chosen)
}

func (p *Pool) setMetaID(ctx context.Context, e164 string, attempt int, id string) (*Number, error) {
	return p.o.Store.UpdateNumber(ctx, e164, func(cur *Number) (*Number, error) {
		if cur == nil || cur.Attempt != attempt {
			return nil, persist.ErrNoChange
		}
		next := *cur
		next.MetaID, next.UpdatedAt = id, p.now()
		return &next, nil
	})
}

// requestCode asks Meta for the code; a refused SMS falls back to a call once. A request whose
// answer was lost leaves the number verifying: the code may well arrive, and the deadline
// catches it when it does not.
func (p *Pool) requestCode(ctx context.Context, n *Number, attempt int, method string) (*Number, error) {
	err := p.o.Graph.RequestCode(ctx, n.MetaID, method, p.o.Language)
	if err != nil && method == MethodSMS && !isTransport(err) {
		p.o.Log.Warn("pool sms code refused; trying a call", "number_id", n.MetaID, "graph_code", graph.Code(err))
		method = MethodVoice
		if err = p.o.Graph.RequestCode(ctx, n.MetaID, method, p.o.Language); err == nil {
			n, err = p.o.Store.UpdateNumber(ctx, n.E164, func(cur *Number) (*Number, error) {
				if cur == nil || cur.Attempt != attempt || cur.State != StateVerifying {
					return nil, persist.ErrNoChange
				}
				next := *cur
				next.Method, next.UpdatedAt = MethodVoice, p.now()
				return &next, nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	switch {
	case err == nil:
		p.o.Log.Info("pool verification code requested", "number_id", n.MetaID, "method", method, "attempt", attempt)
		return n, nil
	case isTransport(err):
		p.o.Log.Warn("pool request_code answer lost; waiting for the code", "number_id", n.MetaID)
		return n, nil
	}
	return p.failAttempt(ctx, n.E164, attempt, "request_code failed: "+graphReason(err))
}

func isTransport(err error) bool {
	var te *graph.TransportError
	return errors.As(err, &te)
}

// graphReason is a short, secret-free reason from a Graph error.
func graphReason(err error) string {
	r := string(graph.Classify(err))
	if c := graph.Code(err); c != 0 {
		r += fmt.Sprintf(" (code %d)", c)
	}
	return r
}

// failAttempt makes the attempt's number unverified with reason (if the attempt is still current).
func (p *Pool) failAttempt(ctx context.Context, e164 string, attempt int, reason string) (*Number, error) {
	n, err := p.o.Store.UpdateNumber(ctx, e164, func(cur *Number) (*Number, error) {
		if cur == nil || cur.Attempt != attempt || cur.State != StateVerifying {
			return nil, persist.ErrNoChange
		}
		next := *cur
		next.State, next.Reason, next.CodeDeadline, next.UpdatedAt = StateUnverified, reason, time.Time{}, p.now()
		return &next, nil
	})
	if err != nil {
		return nil, err
	}
	p.o.Log.Warn("pool verification failed", "number_id", n.MetaID, "attempt", attempt, "reason", reason)
	return n, &VerificationError{Reason: reason}
}

// VerificationError is a verification that ended unverified.
type VerificationError struct{ Reason string }

func (e *VerificationError) Error() string { return "numberpool: verification failed: " + e.Reason }

// Outcome is what a carrier webhook did.
type Outcome string

// Outcomes of HandleInbound.
const (
	OutcomeNotOurs  Outcome = "not_ours" // no live pool number: nothing changed
	OutcomeReplay   Outcome = "replay"   // event applied before: nothing changed
	OutcomeIgnored  Outcome = "ignored"  // not verifying, or no code in an SMS: nothing changed
	OutcomeVerified Outcome = "verified" // code accepted
	OutcomeFailed   Outcome = "failed"   // wrong code, unreadable transcription or Meta's error: unverified
	OutcomeAnswered Outcome = "answered" // a call to a pool number: answered, to be recorded
)

// Owns reports whether e164 is a live pool number.
func (p *Pool) Owns(ctx context.Context, e164 string) (bool, error) {
	n, err := p.o.Store.GetNumber(ctx, e164)
	if errors.Is(err, persist.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return n.State != StateReleased, nil
}

// HandleInbound applies a carrier webhook (signature already checked): an SMS or a call's
// transcription carrying Meta's code for a number being verified. An error means a passing
// failure (the store, or a verify_code that got no answer): nothing was applied, the carrier may
// retry and the deadline still holds.
func (p *Pool) HandleInbound(ctx context.Context, in carrier.Inbound) (Outcome, error) {
	n, err := p.o.Store.GetNumber(ctx, in.To)
	if errors.Is(err, persist.ErrNotFound) {
		return OutcomeNotOurs, nil
	}
	if err != nil {
		return "", fmt.Errorf("read pool number: %w", err)
	}
	if n.State == StateReleased {
		return OutcomeNotOurs, nil
	}
	if in.Kind == carrier.InboundCall {
		// Only Meta's verification call is recorded and transcribed; any other call to a pool
		// number (a claimed one is a business's) is not.
		if n.State == StateVerifying {
			return OutcomeAnswered, nil
		}
		return OutcomeIgnored, nil
	}
	if n.saw(in.ID) {
		return OutcomeReplay, nil
	}
	if n.State != StateVerifying || n.MetaID == "" {
		return OutcomeIgnored, nil
	}
	attempt := n.Attempt
	code, ok := carrier.ExtractCode(in.Text)
	if !ok {
		if in.Kind == carrier.InboundSMS {
			return OutcomeIgnored, nil // another sender's SMS; Meta's may still come
		}
		reason := "the call's transcription had no 6-digit code"
		if in.Status != "" && in.Status != "completed" {
			reason = "the call could not be transcribed (" + in.Status + ")"
		}
		return OutcomeFailed, p.finish(ctx, n.E164, attempt, in.ID, StateUnverified, reason, time.Time{})
	}
	verr := p.o.Graph.VerifyCode(ctx, n.MetaID, code)
	if verr != nil && isTransport(verr) {
		// The answer was lost: Meta may have accepted it. Ask.
		if until, ok := p.verifiedAtMeta(ctx, n.MetaID); ok {
			return OutcomeVerified, p.finish(ctx, n.E164, attempt, in.ID, StateVerified, "", until)
		}
		return "", fmt.Errorf("verify code: %w", verr)
	}
	if verr != nil {
		reason := "verify_code failed: " + graphReason(verr)
		if graph.IsWrongCode(verr) {
			reason = "Meta refused the code as wrong"
		}
		return OutcomeFailed, p.finish(ctx, n.E164, attempt, in.ID, StateUnverified, reason, time.Time{})
	}
	until, ok := p.verifiedAtMeta(ctx, n.MetaID)
	if !ok {
		until = p.now().Add(graphValidity)
	}
	return OutcomeVerified, p.finish(ctx, n.E164, attempt, in.ID, StateVerified, "", until)
}

// graphValidity is how long Meta keeps a pre-verified number verified, used when the expiry
// could not be read.
const graphValidity = 90 * 24 * time.Hour

// verifiedAtMeta reads the number's verification at Meta: its expiry when VERIFIED.
func (p *Pool) verifiedAtMeta(ctx context.Context, metaID string) (time.Time, bool) {
	if p.o.Mode == ModeWABA {
		return time.Time{}, false
	}
	pv, err := p.o.Graph.PreVerifiedNumber(ctx, metaID)
	if err != nil || pv.CodeVerificationStatus != graph.VerificationVerified {
		return time.Time{}, false
	}
	if pv.ExpiresAt.IsZero() {
		return p.now().Add(graphValidity), true
	}
	return pv.ExpiresAt, true
}

// finish records the end of an attempt, if it is still the current one.
func (p *Pool) finish(ctx context.Context, e164 string, attempt int, eventID string, st State, reason string, until time.Time) error {
	now := p.now()
	n, err := p.o.Store.UpdateNumber(ctx, e164, func(cur *Number) (*Number, error) {
		if cur == nil || cur.Attempt != attempt || cur.State != StateVerifying {
			return nil, persist.ErrNoChange
		}
		next := *cur
		next.see(eventID)
		next.State, next.Reason, next.CodeDeadline, next.UpdatedAt = st, reason, time.Time{}, now
		if st == StateVerified {
			next.VerifiedUntil = until
			if p.o.Mode == ModeWABA && next.ClaimedBy != "" {
				// Added to the business's WABA and now verified: it is theirs, ready to register.
				next.State, next.PhoneNumberID, next.ClaimedAt = StateClaimed, next.MetaID, now
			}
		}
		return &next, nil
	})
	if err != nil {
		return fmt.Errorf("record verification: %w", err)
	}
	p.o.Log.Info("pool verification finished", "number_id", n.MetaID, "attempt", attempt, "state", string(n.State), "reason", reason)
	return nil
}
