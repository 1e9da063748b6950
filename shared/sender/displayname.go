package sender

import "time"

// Display name statuses this backend sets (Meta's name_status and phone_number_name_update
// decisions are copied as told).
const (
	// NamePendingReview: a change was requested at Meta and awaits its decision.
	NamePendingReview = "PENDING_REVIEW"
)

// Registered reports whether the number is registered at Meta as far as the lifecycle knows:
// online, offline, or suspended from one of those.
func (s *Sender) Registered() bool {
	switch s.Status {
	case StatusOnline, StatusOffline:
		return true
	case StatusSuspended:
		return s.Suspension != nil && (s.Suspension.Previous == StatusOnline || s.Suspension.Previous == StatusOffline)
	}
	return false
}

// RequestDisplayName records a display-name change requested at Meta: the name shown stays
// until phone_number_name_update approves the new one. It reports whether anything changed.
func (s *Sender) RequestDisplayName(name string, at time.Time) bool {
	if s.RequestedDisplayName == name && s.DisplayNameStatus == NamePendingReview {
		return false
	}
	s.RequestedDisplayName, s.DisplayNameStatus, s.UpdatedAt = name, NamePendingReview, at
	return true
}

// ApplyNameDecision applies Meta's decision on the display name (phone_number_name_update):
// the decision becomes DisplayNameStatus; an approved name becomes DisplayName, and a
// registered number must then be registered again (Meta's rule), which ReregisterNeeded asks
// the reconciler to do. It reports whether anything changed.
func (s *Sender) ApplyNameDecision(decision, approvedName string) bool {
	changed := false
	if decision != "" && s.DisplayNameStatus != decision {
		s.DisplayNameStatus, changed = decision, true
	}
	if approvedName != "" && s.DisplayName != approvedName {
		s.DisplayName, changed = approvedName, true
		if s.Registered() {
			s.ReregisterNeeded = true
		}
	}
	// A final decision ends the request (DEFERRED and PENDING keep it open).
	if s.RequestedDisplayName != "" && (decision == "REJECTED" || approvedName != "" && s.RequestedDisplayName == approvedName) {
		s.RequestedDisplayName, changed = "", true
	}
	return changed
}
