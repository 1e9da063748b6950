package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// TestClassifyEveryCode covers every row of the reference's error table (section 6) and the
// registration codes (section 8).
func TestClassifyEveryCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		code      int
		class     Class
		retryable bool
	}{
		{"window closed", 131047, ClassWindowClosed, false},
		{"undeliverable", 131026, ClassUndeliverable, false},
		{"marketing frequency cap", 131049, ClassMarketingCap, false},
		{"marketing opt-out", 131050, ClassMarketingOptOut, false},
		{"throughput", 130429, ClassThroughput, true},
		{"pair rate", 131056, ClassPairRate, true},
		{"spam rate", 131048, ClassSpamRate, false},
		{"account restricted", 368, ClassAccountRestricted, false},
		{"account locked", 131031, ClassAccountLocked, false},
		{"payment", 131042, ClassPayment, false},
		{"unsupported type", 131051, ClassUnsupportedType, false},
		{"template params", 132000, ClassTemplateInvalid, false},
		{"template too long", 132005, ClassTemplateInvalid, false},
		{"template policy", 132007, ClassTemplateInvalid, false},
		{"template format", 132012, ClassTemplateInvalid, false},
		{"template missing", 132001, ClassTemplateMissing, false},
		{"template paused", 132015, ClassTemplatePaused, false},
		{"template disabled", 132016, ClassTemplateDisabled, false},
		{"token invalid", 190, ClassTokenInvalid, false},
		{"app call rate", 4, ClassCallRate, true},
		{"waba call rate", 80007, ClassCallRate, true},
		{"invalid parameter", 100, ClassInvalidParam, false},
		{"ambiguous", 1, ClassAmbiguous, true},
		{"temporary", 2, ClassTransient, true},
		{"something went wrong", 131000, ClassTransient, true},
		{"service unavailable", 131016, ClassTransient, true},
		{"maintenance", 131057, ClassMaintenance, true},
		{"not registered", 133010, ClassNotRegistered, false},
		{"certificate", 131045, ClassNotRegistered, false},
		{"country restricted", 130497, ClassCountryRestricted, false},
		{"same number", 131021, ClassSameNumber, false},
		{"bsuid unsupported", 131062, ClassBSUIDUnsupported, false},
		{"limit cut", 131064, ClassLimitCut, false},
		// Registration (section 8).
		{"previous deregistration failed", 133000, ClassDeregisterFailed, false},
		{"wrong pin", 133005, ClassWrongPIN, false},
		{"verify first", 133006, ClassVerifyFirst, false},
		{"too many pin guesses", 133008, ClassTooManyPINGuesses, false},
		{"pin too fast", 133009, ClassPINTooFast, false},
		{"recently deleted", 133015, ClassRecentlyDeleted, false},
		{"register limit", 133016, ClassRegisterLimit, false},
		{"request code failed", 136024, ClassRequestCodeFailed, false},
		{"wrong code", 136025, ClassWrongCode, false},
		// Unknown codes.
		{"unknown code", 999999, ClassUnknown, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Statuses vary on purpose: the class must come from the code alone.
			for _, status := range []int{400, 401, 403, 429, 500, 503} {
				if tc.class == ClassUnknown && status >= 500 {
					continue // covered by TestClassifyStatusFallback
				}
				err := fmt.Errorf("send message: %w", &Error{HTTPStatus: status, Code: tc.code, Message: "x"})
				if got := Classify(err); got != tc.class {
					t.Fatalf("Classify(code %d, HTTP %d) = %q; want %q", tc.code, status, got, tc.class)
				}
				if got := Classify(err).Retryable(); got != tc.retryable {
					t.Fatalf("code %d Retryable = %v; want %v", tc.code, got, tc.retryable)
				}
				if got := IsRetryable(err); got != tc.retryable {
					t.Fatalf("IsRetryable(code %d) = %v; want %v", tc.code, got, tc.retryable)
				}
			}
			if got := ClassOfCode(tc.code); got != tc.class {
				t.Fatalf("ClassOfCode(%d) = %q; want %q", tc.code, got, tc.class)
			}
		})
	}
}

func TestClassifyNonCodeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		err       error
		class     Class
		retryable bool
	}{
		{"nil", nil, ClassNone, false},
		{"5xx without code", &Error{HTTPStatus: 502, Message: "<html>"}, ClassNetwork, true},
		{"5xx with unknown code", &Error{HTTPStatus: 500, Code: 424242}, ClassNetwork, true},
		{"5xx with known code keeps the code", &Error{HTTPStatus: 500, Code: 131026}, ClassUndeliverable, false},
		{"4xx without code", &Error{HTTPStatus: 404}, ClassUnknown, false},
		{"429 without code is not guessed", &Error{HTTPStatus: 429}, ClassUnknown, false},
		{"transport timeout", &TransportError{Op: "POST /{id}/messages", Err: context.DeadlineExceeded}, ClassNetwork, true},
		{"transport eof wrapped", fmt.Errorf("send: %w", &TransportError{Op: "x", Err: io.ErrUnexpectedEOF}), ClassNetwork, true},
		{"invalid request", fmt.Errorf("send: %w", ErrInvalidRequest), ClassInvalidParam, false},
		{"unexpected response", fmt.Errorf("send: %w", ErrUnexpectedResponse), ClassUnknown, false},
		{"foreign error", errors.New("boom"), ClassUnknown, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(tc.err); got != tc.class {
				t.Fatalf("Classify = %q; want %q", got, tc.class)
			}
			if got := Classify(tc.err).Retryable(); got != tc.retryable {
				t.Fatalf("Retryable = %v; want %v", got, tc.retryable)
			}
		})
	}
}

func TestRetryLimitAndWait(t *testing.T) {
	t.Parallel()
	if got := ClassAmbiguous.RetryLimit(); got != AmbiguousRetryLimit || got < 1 {
		t.Fatalf("ClassAmbiguous.RetryLimit() = %d", got)
	}
	if got := ClassThroughput.RetryLimit(); got != 0 {
		t.Fatalf("ClassThroughput.RetryLimit() = %d; want 0 (caller's policy)", got)
	}
	waits := map[Class]time.Duration{
		ClassMarketingCap:    24 * time.Hour,
		ClassMaintenance:     time.Minute,
		ClassRecentlyDeleted: 5 * time.Minute,
		ClassRegisterLimit:   72 * time.Hour,
		ClassThroughput:      0,
	}
	for c, want := range waits {
		if got := c.Wait(); got != want {
			t.Errorf("%s.Wait() = %v; want %v", c, got, want)
		}
	}
}

func TestPairRateBackoff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		attempt int
		want    time.Duration
	}{
		{-1, time.Second},
		{0, time.Second},
		{1, 4 * time.Second},
		{2, 16 * time.Second},
		{3, 64 * time.Second},
		{8, 65536 * time.Second},
		{100, 65536 * time.Second},
	}
	for _, tc := range cases {
		if got := PairRateBackoff(tc.attempt); got != tc.want {
			t.Errorf("PairRateBackoff(%d) = %v; want %v", tc.attempt, got, tc.want)
		}
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	wrap := func(code int) error { return fmt.Errorf("verify code: %w", &Error{HTTPStatus: 400, Code: code}) }
	if !IsWrongCode(wrap(136025)) || IsWrongCode(wrap(133005)) || IsWrongCode(nil) {
		t.Error("IsWrongCode")
	}
	if !IsWrongPIN(wrap(133005)) || IsWrongPIN(wrap(136025)) {
		t.Error("IsWrongPIN")
	}
	if !IsNotRegistered(wrap(133010)) || !IsNotRegistered(wrap(131045)) || IsNotRegistered(wrap(100)) {
		t.Error("IsNotRegistered")
	}
	if !IsTokenInvalid(wrap(190)) || IsTokenInvalid(&TransportError{Op: "x", Err: io.EOF}) {
		t.Error("IsTokenInvalid")
	}
	if Code(wrap(131056)) != 131056 || Code(errors.New("x")) != 0 {
		t.Error("Code")
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	e := &Error{HTTPStatus: 400, Code: 131056, Subcode: 2494055, Message: "(#131056) pair rate limit hit", Details: "too many", FBTraceID: "Abc"}
	want := "graph: HTTP 400 code 131056 subcode 2494055: (#131056) pair rate limit hit: too many (fbtrace_id Abc)"
	if got := e.Error(); got != want {
		t.Fatalf("Error() = %q\nwant      %q", got, want)
	}
	if got := (&Error{HTTPStatus: 502}).Error(); got != "graph: HTTP 502" {
		t.Fatalf("Error() = %q", got)
	}
	te := &TransportError{Op: "POST /{id}/messages", Err: context.DeadlineExceeded}
	if !te.Timeout() || !errors.Is(te, context.DeadlineExceeded) {
		t.Fatal("TransportError should report a timeout and unwrap to its cause")
	}
	if (&TransportError{Op: "x", Err: io.EOF}).Timeout() {
		t.Fatal("EOF is not a timeout")
	}
}
