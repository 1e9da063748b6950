package sender

import (
	"fmt"
	"time"
)

// MaxFailedCodeAttempts is how many wrong verification codes a pending sender accepts before it
// fails; starting verification again from failed (the product's "retry setup") resets the count.
const MaxFailedCodeAttempts = 5

// CodeRejected counts a verification code Meta refused as wrong. At MaxFailedCodeAttempts the
// sender moves to failed (source operator: the operator's attempts ran out) and failed is true.
// It is refused when the sender is not pending.
func (s *Sender) CodeRejected(at time.Time) (failed bool, err error) {
	if _, _, err := s.Next(EventCodeVerified, SourceOperator); err != nil {
		return false, err
	}
	s.FailedCodeAttempts++
	s.UpdatedAt = at
	if s.FailedCodeAttempts < MaxFailedCodeAttempts {
		return false, nil
	}
	reason := fmt.Sprintf("verification failed: %d wrong codes", s.FailedCodeAttempts)
	if err := s.Fire(EventSetupFailed, SourceOperator, reason, at); err != nil {
		return false, err
	}
	return true, nil
}

// CodeAttemptsLeft is how many wrong codes the sender still accepts before failing.
func (s *Sender) CodeAttemptsLeft() int {
	return max(MaxFailedCodeAttempts-s.FailedCodeAttempts, 0)
}
