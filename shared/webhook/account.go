package webhook

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Account is what account-level webhooks told us about one WABA, kept in one item
// (WABA#<id>) so operators and the reconciler can query it. Every part is a register ordered
// by Meta's event time (entry.time), so applying the same webhooks in any order ends in the
// same document.
type Account struct {
	WABAID string `json:"wabaId"`
	// Ban is the latest ban state (DISABLE, ACCOUNT_DELETED, REINSTATE) applied to the senders.
	Ban *BanState `json:"ban,omitempty"`
	// ScheduledDisable is the latest SCHEDULE_FOR_DISABLE warning.
	ScheduledDisable *ScheduledDisable `json:"scheduledDisable,omitempty"`
	// Restrictions by restriction_type; RestrictionsClearedAt lifts every restriction told
	// before it (an ACCOUNT_RESTRICTION event with an empty list).
	Restrictions          map[string]RestrictionState `json:"restrictions,omitempty"`
	RestrictionsClearedAt time.Time                   `json:"restrictionsClearedAt,omitzero"`
	Violations            []Violation                 `json:"violations,omitempty"`
	Review                *Review                     `json:"review,omitempty"`
	// Alerts by AlertKey.
	Alerts map[string]Alert `json:"alerts,omitempty"`
	// Events are other account_update events (partner, offboarding, pricing tier, ...).
	Events []AccountEvent `json:"events,omitempty"`
	// Errors are out-of-band errors (messages value.errors) by code.
	Errors map[string]ValueError `json:"errors,omitempty"`
	// Names are display-name decisions by phone number (E.164).
	Names     map[string]NameState `json:"names,omitempty"`
	UpdatedAt time.Time            `json:"updatedAt"`
}

// BanState is a ban_info state (or ACCOUNT_DELETED) with its event time.
type BanState struct {
	State   string    `json:"state"`
	EventAt time.Time `json:"eventAt"`
}

// ScheduledDisable is Meta's warning that the WABA will be disabled.
type ScheduledDisable struct {
	// Date is waba_ban_date as sent ("April 17, 2025"); At is it parsed (zero when not parseable).
	Date    string    `json:"date,omitempty"`
	At      time.Time `json:"at,omitzero"`
	EventAt time.Time `json:"eventAt"`
}

// RestrictionState is one restriction type's latest expiration.
type RestrictionState struct {
	Until   time.Time `json:"until,omitzero"`
	EventAt time.Time `json:"eventAt"`
}

// Violation is an ACCOUNT_VIOLATION.
type Violation struct {
	Type    string    `json:"type"`
	EventAt time.Time `json:"eventAt"`
}

// Review is the latest account_review_update decision.
type Review struct {
	Decision string    `json:"decision"`
	EventAt  time.Time `json:"eventAt"`
}

// Alert is the latest state of one account alert.
type Alert struct {
	EntityType  string    `json:"entityType,omitempty"`
	EntityID    string    `json:"entityId,omitempty"`
	Type        string    `json:"type,omitempty"`
	Severity    string    `json:"severity,omitempty"`
	Status      string    `json:"status,omitempty"`
	Description string    `json:"description,omitempty"`
	EventAt     time.Time `json:"eventAt"`
}

// AlertKey identifies an alert across updates.
func AlertKey(a Alert) string { return a.Type + "|" + a.EntityType + "|" + a.EntityID }

// AccountEvent is an account_update event recorded without a sender effect.
type AccountEvent struct {
	Event   string    `json:"event"`
	Detail  string    `json:"detail,omitempty"`
	EventAt time.Time `json:"eventAt"`
}

// ValueError is an out-of-band error from a messages value.
type ValueError struct {
	Code    int64     `json:"code"`
	Title   string    `json:"title,omitempty"`
	Message string    `json:"message,omitempty"`
	Details string    `json:"details,omitempty"`
	SeenAt  time.Time `json:"seenAt"`
}

// NameState is the latest display-name decision for a phone number, and the latest approved
// name (each ordered by its own event time).
type NameState struct {
	Decision        string    `json:"decision"`
	RequestedName   string    `json:"requestedName,omitempty"`
	RejectionReason string    `json:"rejectionReason,omitempty"`
	EventAt         time.Time `json:"eventAt"`
	ApprovedName    string    `json:"approvedName,omitempty"`
	ApprovedAt      time.Time `json:"approvedAt,omitzero"`
}

// maxAccountList bounds the lists of an account item (the newest are kept).
const maxAccountList = 50

// newer reports whether an event at t (with tie-break key k) replaces a register set at cur
// (with key ck): later wins; on equal times the greater key wins, so order never matters.
func newer(t time.Time, k string, cur time.Time, ck string) bool {
	if !t.Equal(cur) {
		return t.After(cur)
	}
	return k > ck
}

// setBan applies a ban state at t; it reports whether the register changed.
func (a *Account) setBan(state string, t time.Time) bool {
	if a.Ban != nil && (a.Ban.State == state && a.Ban.EventAt.Equal(t) || !newer(t, state, a.Ban.EventAt, a.Ban.State)) {
		return false
	}
	a.Ban = &BanState{State: state, EventAt: t}
	return true
}

func (a *Account) setSchedule(date string, at, t time.Time) bool {
	if s := a.ScheduledDisable; s != nil && (s.Date == date && s.EventAt.Equal(t) || !newer(t, date, s.EventAt, s.Date)) {
		return false
	}
	a.ScheduledDisable = &ScheduledDisable{Date: date, At: at, EventAt: t}
	return true
}

func (a *Account) setRestriction(typ string, until, t time.Time) bool {
	if a.Restrictions == nil {
		a.Restrictions = map[string]RestrictionState{}
	}
	cur, ok := a.Restrictions[typ]
	key := until.UTC().Format(time.RFC3339)
	if ok && (cur.Until.Equal(until) && cur.EventAt.Equal(t) || !newer(t, key, cur.EventAt, cur.Until.UTC().Format(time.RFC3339))) {
		return false
	}
	a.Restrictions[typ] = RestrictionState{Until: until, EventAt: t}
	return true
}

func (a *Account) clearRestrictions(t time.Time) bool {
	if !t.After(a.RestrictionsClearedAt) {
		return false
	}
	a.RestrictionsClearedAt = t
	return true
}

// ActiveRestrictions returns the restrictions told after the last clearing, sorted by type
// (expired ones included: readers check Until against their clock).
func (a *Account) ActiveRestrictions() []RestrictionEntry {
	var out []RestrictionEntry
	for typ, r := range a.Restrictions {
		if !a.RestrictionsClearedAt.IsZero() && !r.EventAt.After(a.RestrictionsClearedAt) {
			continue
		}
		out = append(out, RestrictionEntry{Type: typ, Until: r.Until})
	}
	slices.SortFunc(out, func(x, y RestrictionEntry) int { return cmp.Compare(x.Type, y.Type) })
	return out
}

// RestrictionEntry is a restriction in force as copied to the senders.
type RestrictionEntry struct {
	Type  string
	Until time.Time
}

func (a *Account) addViolation(v Violation) bool {
	for _, x := range a.Violations {
		if x.Type == v.Type && x.EventAt.Equal(v.EventAt) {
			return false
		}
	}
	a.Violations = append(a.Violations, v)
	slices.SortFunc(a.Violations, func(x, y Violation) int {
		if c := x.EventAt.Compare(y.EventAt); c != 0 {
			return c
		}
		return cmp.Compare(x.Type, y.Type)
	})
	if n := len(a.Violations); n > maxAccountList {
		a.Violations = slices.Clone(a.Violations[n-maxAccountList:])
	}
	return true
}

func (a *Account) setReview(decision string, t time.Time) bool {
	if r := a.Review; r != nil && (r.Decision == decision && r.EventAt.Equal(t) || !newer(t, decision, r.EventAt, r.Decision)) {
		return false
	}
	a.Review = &Review{Decision: decision, EventAt: t}
	return true
}

func (a *Account) setAlert(al Alert) bool {
	if a.Alerts == nil {
		a.Alerts = map[string]Alert{}
	}
	k := AlertKey(al)
	tie := al.Severity + "|" + al.Status + "|" + al.Description
	if cur, ok := a.Alerts[k]; ok {
		if cur == al || !newer(al.EventAt, tie, cur.EventAt, cur.Severity+"|"+cur.Status+"|"+cur.Description) {
			return false
		}
	}
	a.Alerts[k] = al
	if len(a.Alerts) > maxAccountList {
		// Drop the oldest alert.
		oldest := ""
		for key, v := range a.Alerts {
			if o, ok := a.Alerts[oldest]; oldest == "" || !ok || v.EventAt.Before(o.EventAt) || v.EventAt.Equal(o.EventAt) && key < oldest {
				oldest = key
			}
		}
		delete(a.Alerts, oldest)
	}
	return true
}

func (a *Account) addEvent(e AccountEvent) bool {
	for _, x := range a.Events {
		if x == e {
			return false
		}
	}
	a.Events = append(a.Events, e)
	slices.SortFunc(a.Events, func(x, y AccountEvent) int {
		if c := x.EventAt.Compare(y.EventAt); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Event, y.Event); c != 0 {
			return c
		}
		return cmp.Compare(x.Detail, y.Detail)
	})
	if n := len(a.Events); n > maxAccountList {
		a.Events = slices.Clone(a.Events[n-maxAccountList:])
	}
	return true
}

func (a *Account) setError(code string, e ValueError) bool {
	if a.Errors == nil {
		a.Errors = map[string]ValueError{}
	}
	cur, ok := a.Errors[code]
	if ok && (cur == e || !e.SeenAt.After(cur.SeenAt)) {
		return false
	}
	a.Errors[code] = e
	return true
}

func (a *Account) setName(e164 string, n NameState) bool {
	if a.Names == nil {
		a.Names = map[string]NameState{}
	}
	cur := a.Names[e164]
	next := cur
	if cur.EventAt.IsZero() || newer(n.EventAt, n.Decision+n.RequestedName, cur.EventAt, cur.Decision+cur.RequestedName) {
		next.Decision, next.RequestedName, next.RejectionReason, next.EventAt = n.Decision, n.RequestedName, n.RejectionReason, n.EventAt
	}
	if n.Decision == "APPROVED" && n.RequestedName != "" &&
		(cur.ApprovedAt.IsZero() || newer(n.EventAt, n.RequestedName, cur.ApprovedAt, cur.ApprovedName)) {
		next.ApprovedName, next.ApprovedAt = n.RequestedName, n.EventAt
	}
	if next == cur {
		return false
	}
	a.Names[e164] = next
	return true
}

// Partners applies account_update partner events: PARTNER_ADDED matched to its onboarding,
// PARTNER_REMOVED / PARTNER_APP_UNINSTALLED / ACCOUNT_OFFBOARDED disconnecting the WABA's senders
// and forgetting the business's token, ACCOUNT_RECONNECTED recorded (implemented by
// *onboarding.Service). Other events are ignored by it.
type Partners interface {
	PartnerEvent(ctx context.Context, waba, event, ownerBusinessID string, at time.Time) error
}

// partnerEvent hands a partner event to Partners; the event is recorded on the account item
// as before either way.
func (r *run) partnerEvent(ctx context.Context, waba string, u *whatsapp.AccountUpdate, at time.Time) error {
	if r.h.partners == nil {
		return nil
	}
	owner := ""
	if u.WABAInfo != nil {
		owner = string(u.WABAInfo.OwnerBusinessID)
		if id := string(u.WABAInfo.WABAID); id != "" {
			waba = id
		}
	}
	if err := r.h.partners.PartnerEvent(ctx, waba, u.Event, owner, at); err != nil {
		return fmt.Errorf("partner event: %w", err)
	}
	return nil
}
