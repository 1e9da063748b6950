package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/sender"
)

// Observation is what Meta says about one phone number right now.
type Observation struct {
	Phone graph.PhoneNumber
	// Health is nil when health_status could not be read: no decision then rests on it.
	Health *graph.HealthStatus
	// Ban is what account_update webhooks told about the WABA's ban (zero: never told).
	Ban sender.WABABan
}

// Change is one corrected field, recorded in the sender's history and logged.
type Change struct {
	Field string
	From  string
	To    string
}

// tierByLimit names the tier of a bare numeric limit (Meta sometimes sends numbers).
var tierByLimit = map[int64]string{
	50: "TIER_50", 250: "TIER_250", 1000: "TIER_1K", 2000: "TIER_2K", 10000: "TIER_10K", 100000: "TIER_100K",
}

// TierName turns Meta's messaging limit into a tier name sender.DailyLimit understands, or ""
// when it is absent or not understood.
func TierName(l graph.MessagingLimit) string {
	raw := strings.ToUpper(strings.TrimSpace(l.Raw))
	switch {
	case raw == "":
		return ""
	case sender.KnownTier(raw):
		return raw
	case l.Unlimited:
		return "TIER_UNLIMITED"
	}
	return tierByLimit[l.Limit]
}

// blocked reports whether Meta says the number cannot send, and why. Health BLOCKED counts only
// for registered senders: a number still being set up is blocked by nature.
func blocked(s *sender.Sender, o Observation) (bool, string) {
	switch o.Phone.Status {
	case graph.StatusBanned, graph.StatusRestricted:
		return true, "Meta phone number status " + o.Phone.Status
	}
	if o.Health == nil || o.Health.CanSendMessage != graph.CanSendBlocked {
		return false, ""
	}
	if s.Status != sender.StatusOnline && s.Status != sender.StatusOffline &&
		(s.Status != sender.StatusSuspended || s.Suspension == nil ||
			(s.Suspension.Previous != sender.StatusOnline && s.Suspension.Previous != sender.StatusOffline)) {
		return false, ""
	}
	reason := "Meta health_status can_send_message BLOCKED"
	for _, e := range o.Health.Entities {
		if e.CanSendMessage == graph.CanSendBlocked && len(e.Errors) > 0 {
			reason += fmt.Sprintf(" (%s: %s, error %d)", e.EntityType, e.Errors[0].Description, e.Errors[0].Code)
			break
		}
	}
	return true, reason
}

// healthy reports whether Meta says the number is fully able to send.
func healthy(o Observation) bool {
	return o.Phone.Status == graph.StatusConnected && o.Health != nil && o.Health.CanSendMessage == graph.CanSendAvailable
}

// Apply corrects s to what Meta says at now and returns the changes (none: leave s unwritten).
// Quality, limit tier, throughput level, Meta's number status, name status and health are
// copied as told and each correction is recorded in the history (source reconciler).
// DISCONNECTED is a lost registration (failed, retry setup); a ban in force (webhook-told, or a
// scheduled disable whose date has come) suspends; BANNED/RESTRICTED or health BLOCKED
// suspends; a hard suspension is lifted once Meta reports CONNECTED and AVAILABLE and no ban is
// in force; any suspension whose expiry has passed is lifted unless Meta still blocks the
// number; a connecting number Meta reports CONNECTED is online.
func Apply(s *sender.Sender, o Observation, now time.Time) []Change {
	var changes []Change
	set := func(field string, cur *string, v string) bool {
		if v == "" || *cur == v {
			return false
		}
		changes = append(changes, Change{Field: field, From: *cur, To: v})
		*cur = v
		return true
	}
	limitsChanged := false
	if o.Phone.QualityRating != "" {
		q := string(sender.QualityFromMeta(o.Phone.QualityRating))
		cur := string(s.QualityRating)
		if set("qualityRating", &cur, q) {
			s.QualityRating = sender.Quality(cur)
			limitsChanged = true
		}
	}
	tier := TierName(o.Phone.MessagingLimit)
	if tier == "" {
		tier = strings.TrimSpace(o.Phone.MessagingLimit.Raw)
	}
	if set("messagingLimit", &s.MessagingLimit, tier) {
		limitsChanged = true
	}
	if set("throughputLevel", &s.ThroughputLevel, o.Phone.ThroughputLevel) {
		limitsChanged = true
	}
	set("metaStatus", &s.MetaStatus, o.Phone.Status)
	if s.RequestedDisplayName == "" {
		// While a new name awaits Meta's review, name_status describes the current name: the
		// pending status stays until phone_number_name_update decides.
		set("displayNameStatus", &s.DisplayNameStatus, o.Phone.NameStatus)
	}
	if o.Health != nil {
		set("canSendMessage", &s.CanSendMessage, o.Health.CanSendMessage)
	}
	if limitsChanged && now.After(s.LimitEventAt) {
		s.LimitEventAt = now
	}

	// Every field correction is written in the history (a status change records itself).
	for _, c := range changes {
		s.Note(fmt.Sprintf("%s corrected from %q to %q", c.Field, c.From, c.To), sender.SourceReconciler, now)
	}

	from := s.Status
	banned, banReason := o.Ban.InForce(now)
	bad, reason := blocked(s, o)
	switch {
	case registrationLost(s, o):
		_, _ = s.LoseRegistration("Meta reports the number "+o.Phone.Status+": registration lost; retry setup",
			sender.SourceReconciler, now)
	case banned && s.Status != sender.StatusSuspended:
		// A ban Meta told by webhook (or a SCHEDULE_FOR_DISABLE whose date has come).
		_ = s.Suspend(banReason, time.Time{}, false, sender.SourceReconciler, now)
	case s.Status == sender.StatusSuspended:
		switch {
		case s.SuspensionLapsed(now) && !bad:
			_ = s.ReinstateBecause("suspension expired", sender.SourceReconciler, now)
		case liftable(s) && healthy(o) && !banned:
			_ = s.ReinstateBecause("Meta reports CONNECTED and can_send_message AVAILABLE, no WABA ban in force",
				sender.SourceReconciler, now)
		}
	case s.Status == sender.StatusConnecting && o.Phone.Status == graph.StatusConnected:
		// Meta reports the number registered: the register succeeded even if its answer was lost.
		_ = s.Fire(sender.EventRegistered, sender.SourceReconciler, "Meta reports the number CONNECTED", now)
	case bad:
		_ = s.Suspend(reason, time.Time{}, false, sender.SourceReconciler, now)
	}
	if s.Status != from {
		changes = append(changes, Change{Field: "status", From: string(from), To: string(s.Status)})
	}
	if len(changes) > 0 {
		s.UpdatedAt = now
	}
	return changes
}

// registrationLost reports Meta saying a number we hold registered no longer is: a setup
// failure to retry, not a policy suspension.
func registrationLost(s *sender.Sender, o Observation) bool {
	if o.Phone.Status != graph.StatusDisconnected {
		return false
	}
	switch s.Status {
	case sender.StatusOnline, sender.StatusOffline:
		return true
	case sender.StatusSuspended:
		return !s.SuspendedByBan()
	}
	return false
}

// liftable reports a suspension the reconciler may lift when Meta reports the number healthy:
// every hard one (whoever made it: outbound 368/131031, a webhook, the reconciler) and its own
// soft ones; others' soft suspensions lapse at their expiry.
func liftable(s *sender.Sender) bool {
	if s.Suspension == nil {
		return true
	}
	return !s.Suspension.Soft || s.Suspension.Source == sender.SourceReconciler
}
