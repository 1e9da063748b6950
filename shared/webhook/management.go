package webhook

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/metrics"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Throughput levels as Meta names them on the phone number object.
const (
	ThroughputStandard = "STANDARD"
	ThroughputHigh     = "HIGH"
)

// Sender suspension reasons set by account_update.
const (
	ReasonWABADisabled       = sender.ReasonWABADisabled
	ReasonAccountDeleted     = sender.ReasonAccountDeleted
	ReasonWABAReinstated     = "waba_reinstated"
	ReasonScheduledToDisable = "waba_scheduled_for_disable"
	// ReasonPolicyViolation prefixes the history note an ACCOUNT_VIOLATION leaves on each sender.
	ReasonPolicyViolation = "waba_policy_violation"
)

// banReasons maps ban states to the suspension reason they set.
var banReasons = map[string]string{
	whatsapp.BanStateDisable:            ReasonWABADisabled,
	whatsapp.AccountEventAccountDeleted: ReasonAccountDeleted,
}

// applyTier sets the sender's messaging limit when the event is newer than the one applied
// (sender.NewerTier, the rule the portfolio's register uses too).
func applyTier(s *sender.Sender, tier string, at time.Time) bool {
	if !sender.NewerTier(tier, at, s.MessagingLimit, s.LimitEventAt) {
		return false
	}
	s.MessagingLimit, s.LimitEventAt = tier, at
	return true
}

// updateSender applies fn to one sender and stamps UpdatedAt when it changed anything.
func (r *run) updateSender(ctx context.Context, id string, fn func(*sender.Sender) bool) error {
	_, err := r.h.st.UpdateSender(ctx, id, existing(func(s *sender.Sender) bool {
		if !fn(s) {
			return false
		}
		s.UpdatedAt = r.now
		return true
	}))
	if err != nil && !errors.Is(err, persist.ErrNotFound) {
		return fmt.Errorf("update sender %s: %w", id, err)
	}
	return nil
}

// senderByPhone finds the sender of a display number (management fields carry no
// phone_number_id); nil when none is known.
func (r *run) senderByPhone(ctx context.Context, waba, display string) (*sender.Sender, string, error) {
	e164, err := phone.Display(display)
	if err != nil {
		return nil, "", nil
	}
	snd, err := r.h.st.GetSenderByPhone(ctx, e164)
	switch {
	case err == nil:
		return snd, e164, nil
	case !errors.Is(err, persist.ErrNotFound):
		return nil, e164, fmt.Errorf("get sender by phone: %w", err)
	}
	// The phone index may be behind a re-registration: the WABA's senders are authoritative.
	list, err := r.wabaSenders(ctx, waba)
	if err != nil {
		return nil, e164, err
	}
	for _, s := range list {
		if s.PhoneNumber == e164 {
			return s, e164, nil
		}
	}
	return nil, e164, nil
}

func (r *run) unknownSender(field, waba string) {
	r.counters.Inc(metrics.UnknownSenders)
	r.h.log.Warn("webhook for a phone number with no sender record: applied to the portfolio only", "field", field, "waba", waba)
}

// qualityUpdate applies phone_number_quality_update: the portfolio's messaging limit (and the
// sender's copy) and, on THROUGHPUT_UPGRADE, the sender's throughput level. Quality colours are
// no longer in this webhook: QualityRating is left to the reconciler.
func (r *run) qualityUpdate(ctx context.Context, waba string, u *whatsapp.PhoneNumberQualityUpdate, at time.Time) error {
	tier := string(u.Limit())
	snd, _, err := r.senderByPhone(ctx, waba, u.DisplayPhoneNumber)
	if err != nil {
		return err
	}
	if err := r.portfolioTier(ctx, waba, tier, at, snd); err != nil {
		return err
	}
	if snd == nil {
		r.unknownSender(whatsapp.FieldPhoneNumberQualityUpdate, waba)
		return nil
	}
	upgrade := strings.EqualFold(u.Event, "THROUGHPUT_UPGRADE")
	return r.updateSender(ctx, snd.ID, func(s *sender.Sender) bool {
		changed := applyTier(s, tier, at)
		// No webhook lowers throughput, so HIGH is applied whatever the order of events.
		if upgrade && s.ThroughputLevel != ThroughputHigh {
			s.ThroughputLevel, changed = ThroughputHigh, true
		}
		return changed
	})
}

// portfolioTier records tier for the WABA's portfolio key and for the business portfolio of
// each given sender (their limit is shared since October 2025).
func (r *run) portfolioTier(ctx context.Context, waba, tier string, at time.Time, senders ...*sender.Sender) error {
	if !sender.TierTellsPortfolio(tier) {
		return nil
	}
	keys := []string{"waba:" + waba}
	for _, s := range senders {
		if s != nil && s.PortfolioKey() != keys[0] {
			keys = append(keys, s.PortfolioKey())
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, err := r.h.st.SetPortfolioTier(ctx, k, tier, at); err != nil {
			return fmt.Errorf("set portfolio tier: %w", err)
		}
	}
	return nil
}

// capabilityUpdate applies business_capability_update: the portfolio's messaging limit, copied
// to every sender of the WABA.
func (r *run) capabilityUpdate(ctx context.Context, waba string, u *whatsapp.BusinessCapabilityUpdate, at time.Time, where string) error {
	tier := string(u.Limit())
	if tier == "" {
		r.markParked("unusable", where+":business_capability_update without a limit")
		return nil
	}
	senders, err := r.wabaSenders(ctx, waba)
	if err != nil {
		return fmt.Errorf("list senders of waba: %w", err)
	}
	if err := r.portfolioTier(ctx, waba, tier, at, senders...); err != nil {
		return err
	}
	if len(senders) == 0 {
		r.unknownSender(whatsapp.FieldBusinessCapabilityUpdate, waba)
	}
	for _, s := range senders {
		if err := r.updateSender(ctx, s.ID, func(s *sender.Sender) bool { return applyTier(s, tier, at) }); err != nil {
			return err
		}
	}
	return nil
}

// accountUpdate applies account_update: bans and reinstatements to every sender of the WABA,
// restrictions copied to them, and everything else recorded on the account item.
func (r *run) accountUpdate(ctx context.Context, waba string, u *whatsapp.AccountUpdate, at time.Time) error {
	if err := r.partnerEvent(ctx, waba, u, at); err != nil {
		return err
	}
	switch u.Event {
	case whatsapp.AccountEventDisabledUpdate:
		state := ""
		if u.BanInfo != nil {
			state = strings.ToUpper(u.BanInfo.State())
		}
		switch state {
		case whatsapp.BanStateDisable, whatsapp.BanStateReinstate:
			return r.ban(ctx, waba, state, at)
		case whatsapp.BanStateScheduleForDisable:
			return r.scheduledDisable(ctx, waba, u.BanInfo.WABABanDate, at)
		default:
			r.counters.Inc(metrics.UnknownValues)
			return r.updateAccount(ctx, waba, func(a *Account) bool {
				return a.addEvent(AccountEvent{Event: u.Event, Detail: "ban state " + truncate(state, 64), EventAt: at})
			})
		}
	case whatsapp.AccountEventAccountDeleted:
		return r.ban(ctx, waba, whatsapp.AccountEventAccountDeleted, at)
	case whatsapp.AccountEventAccountRestriction:
		return r.restrictions(ctx, waba, u.RestrictionInfo, at)
	case whatsapp.AccountEventAccountViolation:
		typ := ""
		if u.ViolationInfo != nil {
			typ = u.ViolationInfo.ViolationType
		}
		r.h.log.Warn("WABA policy violation recorded", "waba", waba, "violation", truncate(typ, 64))
		if err := r.updateAccount(ctx, waba, func(a *Account) bool { return a.addViolation(Violation{Type: typ, EventAt: at}) }); err != nil {
			return err
		}
		// A violation changes no status (Meta follows with a restriction or a ban when it acts)
		// but every sender's history shows it, so an operator sees why traffic may stop.
		note := ReasonPolicyViolation + ":" + truncate(typ, 64)
		return r.eachSender(ctx, waba, func(s *sender.Sender) bool { return s.Note(note, sender.SourceWebhook, at) })
	default:
		detail := ""
		switch {
		case u.DisconnectionInfo != nil:
			detail = strings.TrimSpace(u.DisconnectionInfo.Reason + " " + u.DisconnectionInfo.InitiatedBy)
		case u.Country != "":
			detail = u.Country
		}
		return r.updateAccount(ctx, waba, func(a *Account) bool {
			return a.addEvent(AccountEvent{Event: truncate(u.Event, 64), Detail: truncate(detail, 200), EventAt: at})
		})
	}
}

// ban records a ban state (ordered by event time) and makes every sender of the WABA match
// the account's current state. Re-applying the current state is harmless, which makes a retry
// after a partial fan-out complete it.
func (r *run) ban(ctx context.Context, waba, state string, at time.Time) error {
	acct, err := r.h.st.UpdateAccount(ctx, waba, ifChanged(func(a *Account, _ bool) bool {
		a.WABAID = waba
		if !a.setBan(state, at) {
			return false
		}
		a.UpdatedAt = r.now
		return true
	}))
	if err != nil {
		return fmt.Errorf("record ban state: %w", err)
	}
	if acct.Ban == nil || acct.Ban.State != state || !acct.Ban.EventAt.Equal(at) {
		// A newer ban state was already applied (and fanned out): this event is history.
		return nil
	}
	r.h.log.Warn("WABA ban state applied to its senders", "waba", waba, "state", state)
	return r.converge(ctx, waba, acct, func(a *Account) any { return a.Ban }, func(a *Account) error {
		if a.Ban == nil {
			return nil
		}
		return r.eachSender(ctx, waba, func(s *sender.Sender) bool { return applyBan(s, a.Ban.State, a.Ban.EventAt) })
	})
}

// eachSender applies fn to every sender of the WABA.
// wabaSenders lists the senders of waba once per POST, however many of its changes fan out
// to them (each update still reads the sender it writes, with optimistic locking).
func (r *run) wabaSenders(ctx context.Context, waba string) ([]*sender.Sender, error) {
	r.mu.Lock()
	l, ok := r.wabaLists[waba]
	if !ok {
		l = &wabaList{done: make(chan struct{})}
		if r.wabaLists == nil {
			r.wabaLists = map[string]*wabaList{}
		}
		r.wabaLists[waba] = l
	}
	r.mu.Unlock()
	if !ok {
		l.list, l.err = r.h.st.ListSendersByWABA(ctx, waba)
		close(l.done)
	} else {
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l.list, l.err
}

type wabaList struct {
	done chan struct{}
	list []*sender.Sender
	err  error
}

func (r *run) eachSender(ctx context.Context, waba string, fn func(*sender.Sender) bool) error {
	senders, err := r.wabaSenders(ctx, waba)
	if err != nil {
		return fmt.Errorf("list senders of waba: %w", err)
	}
	for _, s := range senders {
		if err := r.updateSender(ctx, s.ID, fn); err != nil {
			return err
		}
	}
	return nil
}

// converge copies account state to senders until the account stops changing under the copy:
// an event for the same WABA in a concurrent POST may change the account after this copy read
// it, and whichever copy finishes last must leave the senders matching the newest state.
func (r *run) converge(ctx context.Context, waba string, acct *Account, view func(*Account) any, fanout func(*Account) error) error {
	for i := 0; i < 5; i++ {
		if err := fanout(acct); err != nil {
			return err
		}
		cur, err := r.h.st.GetAccount(ctx, waba)
		if err != nil {
			return fmt.Errorf("re-read account: %w", err)
		}
		if reflect.DeepEqual(view(acct), view(cur)) {
			return nil
		}
		acct = cur
	}
	return fmt.Errorf("account %s kept changing during the fan-out to its senders", waba)
}

// applyBan makes one sender match a ban state; it reports whether it changed anything.
func applyBan(s *sender.Sender, state string, at time.Time) bool {
	before := snapshot(s)
	if reason, ok := banReasons[state]; ok {
		if s.Status == sender.StatusSuspended && s.Suspension != nil && s.Suspension.Reason == reason && s.Suspension.Until.IsZero() && !s.Suspension.Soft {
			return false
		}
		if err := s.Suspend(reason, time.Time{}, false, sender.SourceWebhook, at); err != nil {
			return false
		}
		return !reflect.DeepEqual(before, snapshot(s))
	}
	// REINSTATE: lift the suspensions a ban caused that started before the reinstatement;
	// others (368 on a send, a health block, a spam rate limit) keep their own cause, which the
	// reconciler lifts when Meta reports the number healthy.
	if !s.SuspendedByBan() {
		return false
	}
	if since := suspendedSince(s); !since.IsZero() && since.After(at) {
		return false
	}
	if err := s.ReinstateBecause(ReasonWABAReinstated, sender.SourceWebhook, at); err != nil {
		return false
	}
	return true
}

// suspendedSince is when the sender last entered suspended, from its history.
func suspendedSince(s *sender.Sender) time.Time {
	for i := len(s.StatusHistory) - 1; i >= 0; i-- {
		if h := s.StatusHistory[i]; h.To == sender.StatusSuspended && h.From != sender.StatusSuspended {
			return h.At
		}
	}
	return time.Time{}
}

type senderState struct {
	Status     sender.Status
	Suspension sender.Suspension
	HasSusp    bool
}

func snapshot(s *sender.Sender) senderState {
	st := senderState{Status: s.Status}
	if s.Suspension != nil {
		st.Suspension, st.HasSusp = *s.Suspension, true
	}
	return st
}

// banDateLayouts are the forms waba_ban_date takes ("April 17, 2025").
var banDateLayouts = []string{"January 2, 2006", "Jan 2, 2006", "2006-01-02", time.RFC3339}

// scheduledDisable records a SCHEDULE_FOR_DISABLE warning on the account and as a history
// entry (without a status change) on every sender of the WABA. The senders are not suspended
// ahead of the date (an early suspension would stop traffic the business may still fix): the
// reconciler suspends them once the date has come (sender.WABABan.InForce) unless a later
// REINSTATE cancelled it.
func (r *run) scheduledDisable(ctx context.Context, waba, date string, at time.Time) error {
	var when time.Time
	for _, l := range banDateLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(date)); err == nil {
			when = t.UTC()
			break
		}
	}
	if err := r.updateAccount(ctx, waba, func(a *Account) bool { return a.setSchedule(date, when, at) }); err != nil {
		return err
	}
	reason := ReasonScheduledToDisable
	if !when.IsZero() {
		reason += ":" + when.Format("2006-01-02")
	}
	r.h.log.Warn("WABA scheduled for disable", "waba", waba, "date", truncate(date, 64))
	senders, err := r.wabaSenders(ctx, waba)
	if err != nil {
		return fmt.Errorf("list senders of waba: %w", err)
	}
	for _, s := range senders {
		if err := r.updateSender(ctx, s.ID, func(s *sender.Sender) bool {
			return s.Note(reason, sender.SourceWebhook, at)
		}); err != nil {
			return err
		}
	}
	return nil
}

// restrictions merges an ACCOUNT_RESTRICTION into the account (per type, newest event wins; an
// empty list lifts every earlier restriction) and copies the result to every sender.
func (r *run) restrictions(ctx context.Context, waba string, list []whatsapp.Restriction, at time.Time) error {
	acct, err := r.h.st.UpdateAccount(ctx, waba, ifChanged(func(a *Account, _ bool) bool {
		a.WABAID = waba
		changed := false
		if len(list) == 0 {
			changed = a.clearRestrictions(at)
		}
		for _, x := range list {
			if x.RestrictionType == "" {
				continue
			}
			if a.setRestriction(x.RestrictionType, x.Expiration.Time, at) {
				changed = true
			}
		}
		if changed {
			a.UpdatedAt = r.now
		}
		return changed
	}))
	if err != nil {
		return fmt.Errorf("record restrictions: %w", err)
	}
	r.h.log.Warn("WABA restrictions applied to its senders", "waba", waba, "count", len(acct.ActiveRestrictions()))
	return r.converge(ctx, waba, acct, func(a *Account) any { return a.ActiveRestrictions() }, func(a *Account) error {
		want := []sender.Restriction{}
		for _, x := range a.ActiveRestrictions() {
			want = append(want, sender.Restriction{Type: x.Type, Until: x.Until})
		}
		return r.eachSender(ctx, waba, func(s *sender.Sender) bool {
			cur := s.Restrictions
			if cur == nil {
				cur = []sender.Restriction{}
			}
			if reflect.DeepEqual(cur, want) {
				return false
			}
			s.Restrictions = append([]sender.Restriction(nil), want...)
			if len(s.Restrictions) == 0 {
				s.Restrictions = nil
			}
			return true
		})
	})
}

// templateStatus applies message_template_status_update to the template record, newest event
// first. REINSTATED and UNARCHIVED make the template sendable again like APPROVED.
func (r *run) templateStatus(ctx context.Context, waba string, u *whatsapp.MessageTemplateStatusUpdate, at time.Time) error {
	reason := u.Reason.String()
	if strings.EqualFold(reason, "NONE") {
		reason = ""
	}
	if reason == "" && u.OtherInfo != nil {
		reason = u.OtherInfo.Title
	}
	status := strings.ToUpper(u.Event)
	_, err := r.h.st.UpdateTemplateState(ctx, waba, u.Name, u.Language, ifChanged(func(t *TemplateState, found bool) bool {
		if found && (t.Status == status && t.EventAt.Equal(at) || !newer(at, status, t.EventAt, t.Status)) {
			return false
		}
		t.Status, t.Reason, t.EventAt, t.UpdatedAt = status, reason, at, r.now
		if u.Category != "" {
			t.Category = u.Category
		}
		if u.TemplateID != "" {
			t.ID = u.TemplateID.String()
		}
		return true
	}))
	if err != nil {
		return fmt.Errorf("update template status: %w", err)
	}
	return nil
}

// templateQuality applies message_template_quality_update, ordered by its own event time.
func (r *run) templateQuality(ctx context.Context, waba string, u *whatsapp.MessageTemplateQualityUpdate, at time.Time) error {
	q := strings.ToUpper(u.NewQualityScore)
	_, err := r.h.st.UpdateTemplateState(ctx, waba, u.Name, u.Language, ifChanged(func(t *TemplateState, found bool) bool {
		if found && (t.Quality == q && t.QualityAt.Equal(at) || !newer(at, q, t.QualityAt, t.Quality)) {
			return false
		}
		t.Quality, t.QualityAt, t.UpdatedAt = q, at, r.now
		if u.TemplateID != "" && t.ID == "" {
			t.ID = u.TemplateID.String()
		}
		return true
	}))
	if err != nil {
		return fmt.Errorf("update template quality: %w", err)
	}
	return nil
}

// nameUpdate applies phone_number_name_update: the decision is kept on the account (ordered by
// event time) and copied to the sender's DisplayNameStatus; an approved name becomes its
// DisplayName (Meta requires a re-registration after approval, which the sender flow handles).
func (r *run) nameUpdate(ctx context.Context, waba string, u *whatsapp.PhoneNumberNameUpdate, at time.Time, where string) error {
	snd, e164, err := r.senderByPhone(ctx, waba, u.DisplayPhoneNumber)
	if err != nil {
		return err
	}
	if e164 == "" {
		r.markParked("unusable", where+":phone_number_name_update without a readable number")
		return nil
	}
	ns := NameState{Decision: strings.ToUpper(u.Decision), RequestedName: u.RequestedVerifiedName,
		RejectionReason: u.RejectionReason.String(), EventAt: at}
	acct, err := r.h.st.UpdateAccount(ctx, waba, ifChanged(func(a *Account, _ bool) bool {
		a.WABAID = waba
		if !a.setName(e164, ns) {
			return false
		}
		a.UpdatedAt = r.now
		return true
	}))
	if err != nil {
		return fmt.Errorf("record name decision: %w", err)
	}
	if snd == nil {
		r.unknownSender(whatsapp.FieldPhoneNumberNameUpdate, waba)
		return nil
	}
	return r.converge(ctx, waba, acct, func(a *Account) any { return a.Names[e164] }, func(a *Account) error {
		cur := a.Names[e164]
		// The latest approved name, whatever came after it (a later rejected request does not
		// take the approved name away); an approval asks for a re-registration.
		return r.updateSender(ctx, snd.ID, func(s *sender.Sender) bool {
			return s.ApplyNameDecision(cur.Decision, cur.ApprovedName)
		})
	})
}

// userPreferences applies marketing stop/resume, ordered by their timestamps.
func (r *run) userPreferences(ctx context.Context, waba string, v *whatsapp.UserPreferencesValue) error {
	for _, p := range v.UserPreferences {
		if !strings.EqualFold(p.Category, "marketing_messages") && p.Category != "" {
			r.counters.Inc(metrics.UnknownValues)
			r.h.log.Warn("user preference category unknown: payload parked", "category", truncate(p.Category, 64))
			r.markParked("unknown_value", "user_preferences category "+truncate(p.Category, 64))
			continue
		}
		stop := strings.EqualFold(p.Value, whatsapp.PreferenceStop)
		if !stop && !strings.EqualFold(p.Value, whatsapp.PreferenceResume) {
			r.counters.Inc(metrics.UnknownValues)
			r.markParked("unknown_value", "user_preferences value "+truncate(p.Value, 32))
			continue
		}
		c := whatsapp.CustomerRef{UserID: p.UserID, WaID: p.WaID, ParentUserID: p.ParentUserID}
		for _, k := range v.Contacts {
			if c.UserID != "" && k.UserID == c.UserID || c.WaID != "" && k.WaID == c.WaID {
				if c.UserID == "" {
					c.UserID = k.UserID
				}
				if c.WaID == "" {
					c.WaID = k.WaID
				}
			}
		}
		ref := customer.Ref{UserID: c.UserID}
		if e164, err := c.E164(); err == nil {
			ref.Phone = e164
		}
		if ref.Key() == "" {
			r.markParked("unusable", "user_preferences without a customer")
			continue
		}
		at := p.Timestamp.Time()
		if at.IsZero() {
			at = r.now
		}
		if ref.UserID != "" && ref.Phone != "" {
			if err := r.alias(ctx, waba, ref, at); err != nil {
				return err
			}
		}
		ev := OptOutEvent{Stop: stop, Source: "user_preferences", At: at}
		if err := r.h.st.ApplyOptOut(ctx, waba, ref, ev); err != nil {
			return fmt.Errorf("apply user preference: %w", err)
		}
	}
	return nil
}

// userIDUpdate applies user_id_update: the customer's new BSUID is aliased to its number and
// inherits the opt-outs of the previous one.
func (r *run) userIDUpdate(ctx context.Context, waba string, u *whatsapp.UserIDUpdate, at time.Time) error {
	if !u.Timestamp.IsZero() {
		at = u.Timestamp.Time()
	}
	ref := customer.Ref{UserID: u.UserID.Current}
	if u.WaID != "" {
		if e164, err := phone.FromWaID(u.WaID); err == nil {
			ref.Phone = e164
		}
	}
	if ref.UserID == "" {
		r.markParked("unusable", "user_id_update without a current user_id")
		return nil
	}
	if ref.Phone != "" {
		if err := r.alias(ctx, waba, ref, at); err != nil {
			return err
		}
	}
	if prev := u.UserID.Previous; prev != "" && prev != ref.UserID {
		if err := r.h.st.CopyOptOut(ctx, waba, customer.Ref{UserID: prev}, ref); err != nil {
			return fmt.Errorf("carry opt-out to the new user id: %w", err)
		}
	}
	return nil
}
