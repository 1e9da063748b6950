package sender

import (
	"errors"
	"fmt"
	"time"
)

// Event is something that moves a sender between statuses. The state machine is the switch in
// (*Sender).Next: every (status, event, source) it does not accept is refused with a reason.
type Event string

// Events of the sender lifecycle.
const (
	// EventStartVerification: an operator asks Meta for a code. From failed it is the product's
	// "retry setup" (failed → pending); from pending it is a re-send and changes nothing.
	EventStartVerification Event = "start_verification"
	// EventCodeVerified: Meta accepted the code (verify_code): pending → connecting.
	EventCodeVerified Event = "code_verified"
	// EventRegistered: Meta registered the number (register, or the reconciler seeing the
	// number CONNECTED): connecting → online. It is the only way to online from connecting.
	EventRegistered Event = "registered"
	// EventSetupFailed: verification or registration failed for good: pending|connecting → failed.
	EventSetupFailed Event = "setup_failed"
	// EventRegistrationLost: Meta says the number is no longer registered (133010, 131045):
	// online|offline|connecting → failed, so the operator runs setup again.
	EventRegistrationLost Event = "registration_lost"
	// EventEnable: an operator sets the sender online: offline → online. Not from connecting:
	// online needs a successful register (EventRegistered).
	EventEnable Event = "enable"
	// EventDisable: an operator sets the sender offline: online → offline.
	EventDisable Event = "disable"
	// EventSuspend: Meta suspends the sender (any status → suspended). On a suspended sender it
	// refreshes the suspension's reason and expiry without a history entry.
	EventSuspend Event = "suspend"
	// EventReinstate: Meta lifts the suspension: suspended → the status it had before.
	EventReinstate Event = "reinstate"
)

// Events lists every event, for exhaustive tests.
var Events = []Event{
	EventStartVerification, EventCodeVerified, EventRegistered, EventSetupFailed,
	EventRegistrationLost, EventEnable, EventDisable, EventSuspend, EventReinstate,
}

// Sources lists every change source, for exhaustive tests.
var Sources = []Source{SourceOperator, SourceWebhook, SourceReconciler, SourceOutbound}

// ErrTransitionRefused is matched (errors.Is) by every *TransitionError.
var ErrTransitionRefused = errors.New("sender status transition refused")

// TransitionError is a refused transition; the admin API maps it to 409.
type TransitionError struct {
	From   Status
	Event  Event
	Source Source
	// Reason says, for an operator, why the transition is not allowed.
	Reason string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("sender: %s from %s by %s refused: %s", e.Event, e.From, e.Source, e.Reason)
}

// Is makes errors.Is(err, ErrTransitionRefused) true.
func (e *TransitionError) Is(target error) bool { return target == ErrTransitionRefused }

// IsRefused reports whether err is a refused transition.
func IsRefused(err error) bool { return errors.Is(err, ErrTransitionRefused) }

// MaxHistory bounds StatusHistory so the sender stays one DynamoDB item (400 KB); the oldest
// entries are dropped first.
const MaxHistory = 500

// byMeta reports whether src is Meta speaking (directly or as seen by our own pipelines).
func byMeta(src Source) bool {
	return src == SourceWebhook || src == SourceReconciler || src == SourceOutbound
}

// Next returns the status the sender moves to on ev from src, without changing it. same is
// true when the event is accepted but changes no status (re-sending a code, refreshing a
// suspension). A refusal is a *TransitionError.
func (s *Sender) Next(ev Event, src Source) (to Status, same bool, err error) {
	from := s.Status
	refuse := func(reason string) (Status, bool, error) {
		return "", false, &TransitionError{From: from, Event: ev, Source: src, Reason: reason}
	}
	if !validStatus(from) {
		return refuse(fmt.Sprintf("unknown status %q", from))
	}
	switch ev {
	case EventRegistered:
		if src != SourceOperator && src != SourceReconciler {
			return refuse("only the register call or Meta's number status can register the number")
		}
	case EventStartVerification, EventCodeVerified, EventEnable, EventDisable:
		if src != SourceOperator {
			return refuse("only an operator can " + describe(ev))
		}
	case EventSuspend, EventReinstate, EventRegistrationLost:
		if !byMeta(src) {
			return refuse("only Meta can " + describe(ev))
		}
	case EventSetupFailed:
		// Any source: the operator flow (too many bad codes, registration refused) or Meta.
	default:
		return refuse(fmt.Sprintf("unknown event %q", ev))
	}

	if from == StatusSuspended && ev != EventSuspend && ev != EventReinstate {
		return refuse("the sender is suspended by Meta; it changes only when Meta reinstates it")
	}

	switch ev {
	case EventStartVerification:
		switch from {
		case StatusPending:
			return StatusPending, true, nil
		case StatusFailed:
			return StatusPending, false, nil
		}
		return refuse("verification starts only from pending or failed (retry setup); the number is already verified")
	case EventCodeVerified:
		if from == StatusPending {
			return StatusConnecting, false, nil
		}
		return refuse("a code is verified only while the sender is pending")
	case EventRegistered:
		if from == StatusConnecting {
			return StatusOnline, false, nil
		}
		return refuse("registration completes only while the sender is connecting")
	case EventSetupFailed:
		if from == StatusPending || from == StatusConnecting {
			return StatusFailed, false, nil
		}
		return refuse("setup can fail only while the sender is pending or connecting")
	case EventRegistrationLost:
		switch from {
		case StatusOnline, StatusOffline, StatusConnecting:
			return StatusFailed, false, nil
		}
		return refuse("the sender is not registered yet")
	case EventEnable:
		switch from {
		case StatusOffline:
			return StatusOnline, false, nil
		case StatusOnline:
			return refuse("the sender is already online")
		case StatusConnecting:
			return refuse("the number is not registered yet: confirm verification again to retry the register")
		}
		return refuse("a sender goes online only from offline; complete verification first")
	case EventDisable:
		switch from {
		case StatusOnline:
			return StatusOffline, false, nil
		case StatusOffline:
			return refuse("the sender is already offline")
		}
		return refuse("a sender goes offline only from online")
	case EventSuspend:
		return StatusSuspended, from == StatusSuspended, nil
	case EventReinstate:
		if from != StatusSuspended {
			return refuse("the sender is not suspended")
		}
		return s.reinstateTarget(), false, nil
	}
	return refuse(fmt.Sprintf("unknown event %q", ev))
}

func describe(ev Event) string {
	switch ev {
	case EventStartVerification:
		return "start verification"
	case EventCodeVerified:
		return "verify a code"
	case EventRegistered:
		return "register the number"
	case EventEnable:
		return "set a sender online"
	case EventDisable:
		return "set a sender offline"
	case EventSuspend:
		return "suspend a sender"
	case EventReinstate:
		return "reinstate a sender"
	case EventRegistrationLost:
		return "report a lost registration"
	}
	return string(ev)
}

func validStatus(st Status) bool {
	for _, s := range Statuses {
		if s == st {
			return true
		}
	}
	return false
}

// reinstateTarget is the status a suspended sender returns to.
func (s *Sender) reinstateTarget() Status {
	if s.Suspension != nil && validStatus(s.Suspension.Previous) && s.Suspension.Previous != StatusSuspended {
		return s.Suspension.Previous
	}
	// No record of the previous status: offline is the safe choice, an operator re-enables it.
	return StatusOffline
}

// Fire applies ev from src and records the change in StatusHistory. Events that change no
// status record nothing. A refused transition leaves the sender untouched and returns a
// *TransitionError. Suspend with details goes through Suspend.
func (s *Sender) Fire(ev Event, src Source, reason string, at time.Time) error {
	if ev == EventSuspend {
		return s.Suspend(reason, time.Time{}, false, src, at)
	}
	to, same, err := s.Next(ev, src)
	if err != nil {
		return err
	}
	if same {
		return nil
	}
	from := s.Status
	if ev == EventReinstate {
		s.Suspension = nil
	}
	if to == StatusPending && from == StatusFailed {
		// Retry setup: the bad-code count starts again.
		s.FailedCodeAttempts = 0
	}
	s.record(from, to, reason, src, at)
	return nil
}

// Transition moves the sender to status to, choosing the event that leads there from the
// current status: online from offline is EventEnable and from connecting EventRegistered;
// failed from pending/connecting is EventSetupFailed and from online/offline
// EventRegistrationLost; pending from failed is the retry; suspended is a hard suspension
// without expiry (use Suspend for details); out of suspended is a reinstatement and must
// target Suspension.Previous. A refusal is a *TransitionError carrying the reason; asking for
// the current status is refused too, except re-suspending.
func (s *Sender) Transition(to Status, src Source, reason string, at time.Time) error {
	if to == StatusSuspended {
		return s.Suspend(reason, time.Time{}, false, src, at)
	}
	var candidates []Event
	switch {
	case s.Status == StatusSuspended:
		candidates = []Event{EventReinstate}
	case to == StatusPending:
		candidates = []Event{EventStartVerification}
	case to == StatusConnecting:
		candidates = []Event{EventCodeVerified}
	case to == StatusOnline && s.Status == StatusConnecting:
		candidates = []Event{EventRegistered}
	case to == StatusOnline:
		candidates = []Event{EventEnable}
	case to == StatusOffline:
		candidates = []Event{EventDisable}
	case to == StatusFailed && (s.Status == StatusOnline || s.Status == StatusOffline):
		candidates = []Event{EventRegistrationLost}
	case to == StatusFailed:
		candidates = []Event{EventSetupFailed, EventRegistrationLost}
	default:
		return &TransitionError{From: s.Status, Event: Event("to_" + string(to)), Source: src,
			Reason: fmt.Sprintf("unknown status %q", to)}
	}
	var first error
	for _, ev := range candidates {
		next, same, err := s.Next(ev, src)
		switch {
		case err != nil:
			if first == nil {
				first = err
			}
		case same || next != to:
			if first == nil {
				first = &TransitionError{From: s.Status, Event: ev, Source: src,
					Reason: fmt.Sprintf("the sender would go to %s, not %s", next, to)}
			}
		default:
			return s.Fire(ev, src, reason, at)
		}
	}
	return first
}

// Suspend records Meta's suspension of the sender, from any status. until is when it lapses
// on its own (zero = until Meta lifts it); soft suspensions (spam rate limit, 131048) pause
// template and bulk traffic only. Suspending a suspended sender refreshes reason and expiry
// (a hard suspension is never softened) without a history entry. Only Meta's sources
// (webhook, outbound, reconciler) may suspend.
func (s *Sender) Suspend(reason string, until time.Time, soft bool, src Source, at time.Time) error {
	_, same, err := s.Next(EventSuspend, src)
	if err != nil {
		return err
	}
	if same {
		if s.Suspension == nil {
			s.Suspension = &Suspension{Previous: StatusOffline, Source: src, Soft: soft}
		}
		cur := s.Suspension
		if cur.Soft && !soft {
			// A hard suspension replaces a soft one and is owned by its source.
			cur.Source = src
		}
		cur.Soft = cur.Soft && soft
		cur.Reason = reason
		// No expiry on either side means until lifted; otherwise the later expiry wins.
		if until.IsZero() || cur.Until.IsZero() {
			cur.Until = time.Time{}
		} else if until.After(cur.Until) {
			cur.Until = until
		}
		s.UpdatedAt = at
		return nil
	}
	from := s.Status
	s.Suspension = &Suspension{Reason: reason, Until: until, Previous: from, Soft: soft, Source: src}
	s.record(from, StatusSuspended, reason, src, at)
	return nil
}

// Reinstate lifts a suspension: the sender returns to Suspension.Previous. It is refused
// (a *TransitionError) when the sender is not suspended, so duplicate reinstatements are
// recognisable with IsRefused. Only Meta's sources may reinstate.
func (s *Sender) Reinstate(src Source, at time.Time) error {
	return s.ReinstateBecause("reinstated by Meta", src, at)
}

// ReinstateBecause is Reinstate with the reason recorded in the history.
func (s *Sender) ReinstateBecause(reason string, src Source, at time.Time) error {
	return s.Fire(EventReinstate, src, reason, at)
}

// SuspensionLapsed reports whether a suspension with an expiry has run out at now.
func (s *Sender) SuspensionLapsed(now time.Time) bool {
	return s.Status == StatusSuspended && s.Suspension != nil &&
		!s.Suspension.Until.IsZero() && !now.Before(s.Suspension.Until)
}

func (s *Sender) record(from, to Status, reason string, src Source, at time.Time) {
	s.Status = to
	s.UpdatedAt = at
	s.StatusHistory = append(s.StatusHistory, StatusChange{From: from, To: to, At: at, Reason: reason, Source: src})
	s.trimHistory()
}

// New returns a sender in its initial state (pending, quality new, default limit) with the
// creation recorded in its history.
func New(id string, typ Type, e164, waba, business, displayName string, assistants []string, src Source, at time.Time) *Sender {
	if assistants == nil {
		assistants = []string{}
	}
	return &Sender{
		ID: id, Type: typ, PhoneNumber: e164, WABAID: waba, BusinessID: business,
		DisplayName: displayName, Status: StatusPending, QualityRating: QualityNew,
		Assistants: assistants, CreatedAt: at, UpdatedAt: at,
		StatusHistory: []StatusChange{{To: StatusPending, At: at, Reason: "created", Source: src}},
	}
}
