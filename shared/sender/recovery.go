package sender

import (
	"slices"
	"time"
)

// Suspension reasons that a WABA ban sets (account_update DISABLE, ACCOUNT_DELETED, or a
// SCHEDULE_FOR_DISABLE whose date has come). A REINSTATE lifts only these.
const (
	ReasonWABADisabled   = "waba_disabled"
	ReasonAccountDeleted = "account_deleted"
)

// banReasons are the suspension reasons a WABA ban sets.
var banReasons = []string{ReasonWABADisabled, ReasonAccountDeleted}

// IsBanReason reports whether a suspension reason is one a WABA ban sets.
func IsBanReason(reason string) bool { return slices.Contains(banReasons, reason) }

// SuspendedByBan reports whether the sender is suspended because its WABA is banned.
func (s *Sender) SuspendedByBan() bool {
	return s.Status == StatusSuspended && s.Suspension != nil && IsBanReason(s.Suspension.Reason)
}

// WABABan is what Meta told about its ban of a WABA (account_update): the latest ban state and
// the latest SCHEDULE_FOR_DISABLE warning, each with the event time it was told at.
type WABABan struct {
	// State is DISABLE, ACCOUNT_DELETED or REINSTATE ("" when never told).
	State   string
	EventAt time.Time
	// ScheduledAt is the date of a SCHEDULE_FOR_DISABLE (zero when none or unreadable);
	// ScheduledEventAt is when that warning was told.
	ScheduledAt      time.Time
	ScheduledEventAt time.Time
}

// Ban states as Meta names them.
const (
	BanDisable        = "DISABLE"
	BanAccountDeleted = "ACCOUNT_DELETED"
	BanReinstate      = "REINSTATE"
)

// InForce reports whether a ban is in force at now and the suspension reason it sets: the
// latest ban state is DISABLE or ACCOUNT_DELETED, or a SCHEDULE_FOR_DISABLE told after the
// latest ban state has reached its date.
func (b WABABan) InForce(now time.Time) (bool, string) {
	if !b.ScheduledAt.IsZero() && !now.Before(b.ScheduledAt) &&
		(b.EventAt.IsZero() || b.ScheduledEventAt.After(b.EventAt)) {
		return true, ReasonWABADisabled
	}
	switch b.State {
	case BanDisable:
		return true, ReasonWABADisabled
	case BanAccountDeleted:
		return true, ReasonAccountDeleted
	}
	return false, ""
}

// Note records an event that changes no status (a ban warning, a policy violation) in the
// history. The same reason at the same time is recorded once; it reports whether it recorded.
func (s *Sender) Note(reason string, src Source, at time.Time) bool {
	for _, h := range s.StatusHistory {
		if h.Reason == reason && h.At.Equal(at) && h.From == h.To {
			return false
		}
	}
	s.UpdatedAt = at
	s.StatusHistory = append(s.StatusHistory, StatusChange{From: s.Status, To: s.Status, At: at, Reason: reason, Source: src})
	s.trimHistory()
	return true
}

// LoseRegistration is Meta reporting the number unregistered (phone number DISCONNECTED,
// 133010, 131045): a setup failure, so the sender goes to failed with reason and the operator
// retries setup. A suspension that no ban caused (a health block seen while the number was
// in fact unregistered) is lifted first; a sender a ban holds stays suspended. It reports
// whether the sender changed.
func (s *Sender) LoseRegistration(reason string, src Source, at time.Time) (bool, error) {
	switch s.Status {
	case StatusFailed, StatusPending:
		return false, nil
	case StatusSuspended:
		if s.SuspendedByBan() || s.Suspension == nil {
			return false, nil
		}
		prev := s.Suspension.Previous
		if prev != StatusOnline && prev != StatusOffline && prev != StatusConnecting {
			return false, nil
		}
		if err := s.ReinstateBecause("suspension replaced: "+reason, src, at); err != nil {
			return false, err
		}
	}
	if err := s.Fire(EventRegistrationLost, src, reason, at); err != nil {
		return false, err
	}
	return true, nil
}

func (s *Sender) trimHistory() {
	if n := len(s.StatusHistory); n > MaxHistory {
		s.StatusHistory = append([]StatusChange(nil), s.StatusHistory[n-MaxHistory:]...)
	}
}
