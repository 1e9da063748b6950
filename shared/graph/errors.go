package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Error codes Meta documents for the Cloud API (reference section 6 and 8). Callers branch on
// these through Classify; the constants exist for logs, metrics and tests.
const (
	CodeAmbiguous          = 1      // invalid request or server error: retry a little
	CodeTemporary          = 2      // temporarily unavailable
	CodeAppCallRate        = 4      // application request limit reached
	CodeInvalidParam       = 100    // invalid parameter
	CodeTokenInvalid       = 190    // access token expired or invalid
	CodeAccountRestricted  = 368    // temporarily blocked for policy violations
	CodeWABACallRate       = 80007  // WABA management rate limit
	CodeThroughput         = 130429 // per-number throughput reached
	CodeCountryRestricted  = 130497 // messaging to this country is restricted
	CodeGenericUser        = 131000 // something went wrong (transient)
	CodeServiceUnavailable = 131016 // service unavailable (transient)
	CodeSameNumber         = 131021 // sender and recipient are the same number
	CodeUndeliverable      = 131026 // message undeliverable
	CodeAccountLocked      = 131031 // business account locked
	CodePayment            = 131042 // business eligibility payment issue
	CodeCertificate        = 131045 // incorrect certificate: number not registered
	CodeWindowClosed       = 131047 // re-engagement message: service window closed
	CodeSpamRate           = 131048 // spam rate limit hit
	CodeMarketingCap       = 131049 // per-user marketing frequency cap
	CodeMarketingOptOut    = 131050 // user stopped marketing messages
	CodeUnsupportedType    = 131051 // unsupported message type
	CodePairRate           = 131056 // pair rate limit (same recipient)
	CodeMaintenance        = 131057 // account in maintenance mode
	CodeBSUIDUnsupported   = 131062 // message type cannot be sent to a BSUID
	CodeLimitCut           = 131064 // limit cut for template-classification violations
	CodeTemplateParams     = 132000 // template parameter count mismatch
	CodeTemplateMissing    = 132001 // template does not exist in that language / not approved
	CodeTemplateTooLong    = 132005 // hydrated template text too long
	CodeTemplatePolicy     = 132007 // template format character policy violated
	CodeTemplateFormat     = 132012 // template parameter format mismatch
	CodeTemplatePaused     = 132015 // template paused for low quality
	CodeTemplateDisabled   = 132016 // template disabled
	CodeDeregisterFailed   = 133000 // previous deregistration failed
	CodeWrongPIN           = 133005 // two-step verification PIN mismatch
	CodeVerifyFirst        = 133006 // phone number must be verified before registering
	CodeTooManyPINGuesses  = 133008 // too many two-step PIN guesses
	CodePINTooFast         = 133009 // two-step PIN guessed too fast
	CodeNotRegistered      = 133010 // phone number not registered
	CodeRecentlyDeleted    = 133015 // number recently deleted: wait 5 minutes
	CodeRegisterLimit      = 133016 // register/deregister rate limit: 72 h block
	CodeRequestCodeFailed  = 136024 // request_code failed
	CodeWrongCode          = 136025 // verify_code: wrong code
)

// Class is what a caller decides on: the meaning of a Graph error, independent of its HTTP status
// or title. Values are stable snake_case strings, fit for logs and metric dimensions.
type Class string

// Classes of the send table (reference section 6).
const (
	ClassNone              Class = "none" // err was nil
	ClassWindowClosed      Class = "window_closed"
	ClassUndeliverable     Class = "undeliverable"
	ClassMarketingCap      Class = "marketing_cap"
	ClassMarketingOptOut   Class = "marketing_opt_out"
	ClassThroughput        Class = "throughput"
	ClassPairRate          Class = "pair_rate"
	ClassSpamRate          Class = "spam_rate"
	ClassAccountRestricted Class = "account_restricted"
	ClassAccountLocked     Class = "account_locked"
	ClassPayment           Class = "payment"
	ClassUnsupportedType   Class = "unsupported_type"
	ClassTemplateInvalid   Class = "template_invalid"
	ClassTemplateMissing   Class = "template_missing"
	ClassTemplatePaused    Class = "template_paused"
	ClassTemplateDisabled  Class = "template_disabled"
	ClassTokenInvalid      Class = "token_invalid"
	ClassCallRate          Class = "call_rate"
	ClassInvalidParam      Class = "invalid_param"
	ClassAmbiguous         Class = "ambiguous"
	ClassTransient         Class = "transient"
	ClassMaintenance       Class = "maintenance"
	ClassNotRegistered     Class = "not_registered"
	ClassCountryRestricted Class = "country_restricted"
	ClassSameNumber        Class = "same_number"
	ClassBSUIDUnsupported  Class = "bsuid_unsupported"
	ClassLimitCut          Class = "limit_cut"
	// ClassNetwork covers transport failures (connect, reset, timeout) and 5xx answers that carry
	// no known code: the request may or may not have reached Meta.
	ClassNetwork Class = "network"
	// ClassUnknown is anything else, including undecodable 2xx answers: not retried, because a
	// send may already have happened.
	ClassUnknown Class = "unknown"
)

// Classes of phone-number registration (reference section 8). The flow is operator-driven, so
// none of them is retried automatically.
const (
	ClassDeregisterFailed  Class = "deregister_failed"
	ClassWrongPIN          Class = "wrong_pin"
	ClassVerifyFirst       Class = "verify_first"
	ClassTooManyPINGuesses Class = "too_many_pin_guesses"
	ClassPINTooFast        Class = "pin_too_fast"
	ClassRecentlyDeleted   Class = "recently_deleted"
	ClassRegisterLimit     Class = "register_limit"
	ClassRequestCodeFailed Class = "request_code_failed"
	ClassWrongCode         Class = "wrong_code"
)

var codeClasses = map[int]Class{
	CodeWindowClosed:       ClassWindowClosed,
	CodeUndeliverable:      ClassUndeliverable,
	CodeMarketingCap:       ClassMarketingCap,
	CodeMarketingOptOut:    ClassMarketingOptOut,
	CodeThroughput:         ClassThroughput,
	CodePairRate:           ClassPairRate,
	CodeSpamRate:           ClassSpamRate,
	CodeAccountRestricted:  ClassAccountRestricted,
	CodeAccountLocked:      ClassAccountLocked,
	CodePayment:            ClassPayment,
	CodeUnsupportedType:    ClassUnsupportedType,
	CodeTemplateParams:     ClassTemplateInvalid,
	CodeTemplateTooLong:    ClassTemplateInvalid,
	CodeTemplatePolicy:     ClassTemplateInvalid,
	CodeTemplateFormat:     ClassTemplateInvalid,
	CodeTemplateMissing:    ClassTemplateMissing,
	CodeTemplatePaused:     ClassTemplatePaused,
	CodeTemplateDisabled:   ClassTemplateDisabled,
	CodeTokenInvalid:       ClassTokenInvalid,
	CodeAppCallRate:        ClassCallRate,
	CodeWABACallRate:       ClassCallRate,
	CodeInvalidParam:       ClassInvalidParam,
	CodeAmbiguous:          ClassAmbiguous,
	CodeTemporary:          ClassTransient,
	CodeGenericUser:        ClassTransient,
	CodeServiceUnavailable: ClassTransient,
	CodeMaintenance:        ClassMaintenance,
	CodeNotRegistered:      ClassNotRegistered,
	CodeCertificate:        ClassNotRegistered,
	CodeCountryRestricted:  ClassCountryRestricted,
	CodeSameNumber:         ClassSameNumber,
	CodeBSUIDUnsupported:   ClassBSUIDUnsupported,
	CodeLimitCut:           ClassLimitCut,

	CodeDeregisterFailed:  ClassDeregisterFailed,
	CodeWrongPIN:          ClassWrongPIN,
	CodeVerifyFirst:       ClassVerifyFirst,
	CodeTooManyPINGuesses: ClassTooManyPINGuesses,
	CodePINTooFast:        ClassPINTooFast,
	CodeRecentlyDeleted:   ClassRecentlyDeleted,
	CodeRegisterLimit:     ClassRegisterLimit,
	CodeRequestCodeFailed: ClassRequestCodeFailed,
	CodeWrongCode:         ClassWrongCode,
}

// ClassOfCode maps a Meta error code to its class; unknown codes give ClassUnknown. It ignores the
// HTTP status, so a 5xx without a known code is ClassUnknown here but ClassNetwork in Classify.
func ClassOfCode(code int) Class {
	if c, ok := codeClasses[code]; ok {
		return c
	}
	return ClassUnknown
}

// AmbiguousRetryLimit bounds retries of ClassAmbiguous (code 1, "invalid request or server
// error"): it is sometimes a passing server fault and sometimes a bad request that will never
// pass, and a retried send may duplicate a message, so callers try it again at most this often.
const AmbiguousRetryLimit = 2

// Retryable reports whether the same request may succeed if repeated after a backoff
// (the "retry?" column of the reference's table): throughput, pair rate, maintenance, call rate,
// transient, network, and ambiguous within RetryLimit. "Later" rows (marketing cap, spam rate,
// template paused) are not retryable: their state change (deferral, pause) decides when to send again.
func (c Class) Retryable() bool {
	switch c {
	case ClassThroughput, ClassPairRate, ClassMaintenance, ClassCallRate, ClassTransient,
		ClassNetwork, ClassAmbiguous:
		return true
	}
	return false
}

// RetryLimit is the class's own bound on retries: AmbiguousRetryLimit for ClassAmbiguous, 0 for
// every other class (no class-specific bound: the caller's policy applies; 0 also for classes that
// are not retryable at all).
func (c Class) RetryLimit() int {
	if c == ClassAmbiguous {
		return AmbiguousRetryLimit
	}
	return 0
}

// Wait is the minimum delay Meta documents before the same thing can succeed, or 0 when it
// documents none. Use PairRateBackoff for ClassPairRate, whose wait grows per attempt.
func (c Class) Wait() time.Duration {
	switch c {
	case ClassMarketingCap:
		return 24 * time.Hour
	case ClassMaintenance:
		return time.Minute
	case ClassRecentlyDeleted:
		return 5 * time.Minute
	case ClassRegisterLimit:
		return 72 * time.Hour
	}
	return 0
}

// PairRateBackoff is Meta's advice for 131056: wait 4^attempt seconds (attempt counted from 0),
// capped at 4^8 s (~18 h) so a runaway counter cannot overflow.
func PairRateBackoff(attempt int) time.Duration {
	attempt = min(max(attempt, 0), 8)
	d := time.Second
	for range attempt {
		d *= 4
	}
	return d
}

// Error is an error answer from the Graph API. Code is 0 when the body was not Meta's JSON
// (a proxy page, an empty body); HTTPStatus is always set.
type Error struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string // e.g. "OAuthException"
	Message    string
	Details    string // error_data.details: often the only precise explanation
	FBTraceID  string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: HTTP %d", e.HTTPStatus)
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.Subcode != 0 {
		fmt.Fprintf(&b, " subcode %d", e.Subcode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Details != "" && e.Details != e.Message {
		b.WriteString(": ")
		b.WriteString(e.Details)
	}
	if e.FBTraceID != "" {
		fmt.Fprintf(&b, " (fbtrace_id %s)", e.FBTraceID)
	}
	return b.String()
}

// Class classifies this answer (see Classify).
func (e *Error) Class() Class {
	if c, ok := codeClasses[e.Code]; ok {
		return c
	}
	if e.HTTPStatus >= 500 {
		return ClassNetwork
	}
	return ClassUnknown
}

// TransportError is a request that got no HTTP answer: dial failure, reset, timeout, a body cut
// short. Meta may or may not have acted on it; it is always retryable.
type TransportError struct {
	Op  string // "POST /{id}/messages" style, never with the token
	Err error
}

func (e *TransportError) Error() string { return "graph: " + e.Op + ": " + e.Err.Error() }

// Unwrap exposes the cause (context.DeadlineExceeded, *net.OpError, io.ErrUnexpectedEOF, …).
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the request ran out of time (the client timeout or the caller's deadline).
func (e *TransportError) Timeout() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// ErrInvalidRequest is wrapped by errors the client raises before sending anything (empty
// phone number id, message without recipient or payload). Classify gives ClassInvalidParam.
var ErrInvalidRequest = errors.New("graph: invalid request")

// ErrUnexpectedResponse is wrapped when a 2xx answer cannot be understood (not JSON, no message
// id). Classify gives ClassUnknown: a send may have happened, so it must not be blindly retried.
var ErrUnexpectedResponse = errors.New("graph: unexpected response")

// TokenError is a call that never left: the access token of the call could not be had (the
// token source or Options.TokenFor failed). Nothing reached Meta, so it is retried
// (ClassTransient), unless the cause wraps ErrTokenRefused (ClassTokenInvalid).
type TokenError struct {
	Op  string // "POST /{id}/messages" style
	Err error
}

func (e *TokenError) Error() string { return "graph: " + e.Op + ": access token: " + e.Err.Error() }

// Unwrap exposes the token source's error.
func (e *TokenError) Unwrap() error { return e.Err }

// ErrTokenRefused is what a token source wraps when the node's business token is gone for good
// (the business disconnected and its token was forgotten): retrying cannot help, and the
// platform token must not stand in for it. Classify maps it to ClassTokenInvalid.
var ErrTokenRefused = errors.New("graph: the business's access token is refused")

// ErrNoToken is returned when the client has no access token configured or the token source
// returned an empty one.
var ErrNoToken = errors.New("graph: no access token")

// Classify maps any error from this package to a Class, by Meta's code first; a 5xx without a
// known code and any TransportError are ClassNetwork; a TokenError is ClassTransient (nothing was
// sent) and ErrTokenRefused ClassTokenInvalid. nil gives ClassNone.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Class()
	}
	var te *TransportError
	if errors.As(err, &te) {
		return ClassNetwork
	}
	if errors.Is(err, ErrTokenRefused) {
		return ClassTokenInvalid
	}
	var tke *TokenError
	if errors.As(err, &tke) {
		return ClassTransient
	}
	if errors.Is(err, ErrInvalidRequest) {
		return ClassInvalidParam
	}
	return ClassUnknown
}

// IsRetryable is Classify(err).Retryable().
func IsRetryable(err error) bool { return Classify(err).Retryable() }

// Code returns Meta's error code carried by err, or 0.
func Code(err error) int {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// IsWrongCode reports a verify_code rejected for a wrong code (136025).
func IsWrongCode(err error) bool { return Code(err) == CodeWrongCode }

// IsWrongPIN reports a register rejected for a wrong two-step PIN (133005).
func IsWrongPIN(err error) bool { return Code(err) == CodeWrongPIN }

// IsNotRegistered reports a number that must be registered again (133010, 131045).
func IsNotRegistered(err error) bool { return Classify(err) == ClassNotRegistered }

// IsTokenInvalid reports an expired or invalid access token (190).
func IsTokenInvalid(err error) bool { return Code(err) == CodeTokenInvalid }
