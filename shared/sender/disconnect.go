package sender

import "time"

// Disconnect takes the sender offline because the business disconnected it from the platform
// (Meta's partner removal or app uninstall): its token is gone, so nothing can be sent for it
// until it is onboarded again. A suspended sender stays suspended and returns offline when
// reinstated; a failed or archived setup is left as it is. It reports whether anything changed.
func (s *Sender) Disconnect(reason string, src Source, at time.Time) bool {
	switch s.Status {
	case StatusOnline, StatusConnecting, StatusPending:
		from := s.Status
		s.Status = StatusOffline
		s.record(from, StatusOffline, reason, src, at)
		return true
	case StatusSuspended:
		if s.Suspension != nil && s.Suspension.Previous != StatusOffline && s.Suspension.Previous != StatusFailed {
			s.Suspension.Previous = StatusOffline
			return true
		}
	}
	return false
}
