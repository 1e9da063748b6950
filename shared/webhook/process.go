package webhook

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/metrics"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// run is the processing of one POST: every change is turned into tasks that run in parallel
// (bounded), customer messages are then forwarded in one batch, and the first error of any
// task makes the whole POST answer 500.
type run struct {
	h        *Handler
	now      time.Time
	owner    string
	counters *metrics.Counters
	body     []byte

	sem    chan struct{}
	wg     sync.WaitGroup
	inline bool

	mu     sync.Mutex
	errs   []error
	msgs   []*inbound
	seen   map[string]bool
	parked []string
	lookup map[string]*senderLookup
	// firstPNID and firstLookup hold the POST's first sender lookup (most POSTs have one
	// sender), lookup the others.
	firstPNID   string
	firstLookup *senderLookup
	// pending are the statuses of the POST, applied after every change is read.
	pending []pendingStatus
	// wabaLists are the sender lists read in this POST, by WABA.
	wabaLists map[string]*wabaList
	// alerts are the POST's account_alerts by WABA, merged into one account write each.
	alerts map[string][]Alert
}

func (h *Handler) process(ctx context.Context, body []byte, counters *metrics.Counters) error {
	r := &run{
		h: h, now: h.now().UTC(), owner: h.newOwner(), counters: counters, body: body,
	}
	n, err := whatsapp.DecodeNotification(body)
	if err != nil {
		var pe *whatsapp.ParseError
		reason := "parse_malformed"
		if errors.As(err, &pe) {
			reason = "parse_" + string(pe.Reason)
		}
		h.log.Warn("webhook payload parked: not a WhatsApp notification", "reason", reason, "bytes", len(body))
		return r.park(ctx, Parked{Reason: reason, Detail: err.Error()})
	}
	// A POST of one change with at most one item runs inline: no goroutine, no channel.
	r.inline = len(n.Entry) == 1 && len(n.Entry[0].Changes) == 1
	for i := range n.Entry {
		e := &n.Entry[i]
		for j := range e.Changes {
			r.dispatch(ctx, e, &e.Changes[j], strconv.Itoa(i)+"."+strconv.Itoa(j))
		}
	}
	// Statuses are applied once every change is read: those of one message (sent, delivered,
	// read in separate changes of one POST) go to its record together, in one write.
	for _, g := range groupStatuses(r.pending) {
		r.spawn(func() error { return r.statuses(ctx, g[0].waba, g[0].pnid, g) })
	}
	r.flushAlerts(ctx)
	r.wg.Wait()
	r.forward(ctx)
	if len(r.parked) > 0 {
		sort.Strings(r.parked)
		if err := r.park(ctx, Parked{Reason: reasonsOf(r.parked), WABAID: firstWABA(n), Detail: strings.Join(r.parked, "; ")}); err != nil {
			r.fail(err)
		}
	}
	if len(r.errs) > 0 {
		r.markForwarded()
	}
	return errors.Join(r.errs...)
}

// spawn runs f in parallel with the POST's other tasks, within the parallelism bound; inline
// when it is the POST's only task.
func (r *run) spawn(f func() error) {
	if r.inline {
		if err := f(); err != nil {
			r.fail(err)
		}
		return
	}
	if r.sem == nil {
		r.sem = make(chan struct{}, r.h.cfg.Parallelism)
	}
	r.wg.Add(1)
	r.sem <- struct{}{}
	go func() {
		defer r.wg.Done()
		defer func() { <-r.sem }()
		if err := f(); err != nil {
			r.fail(err)
		}
	}()
}

func (r *run) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

// markParked notes that part of the POST could not be used; the whole body is parked once at
// the end (so an operator can post it again after a fix: processing is idempotent).
func (r *run) markParked(reason, where string) {
	r.mu.Lock()
	r.parked = append(r.parked, reason+"@"+where)
	r.mu.Unlock()
}

func (r *run) park(ctx context.Context, p Parked) error {
	p.Body = r.body
	p.ReceivedAt = r.now
	if err := r.h.st.Park(ctx, p); err != nil {
		return fmt.Errorf("park payload: %w", err)
	}
	r.counters.Inc(metrics.ParkedPayloads)
	return nil
}

func reasonsOf(parked []string) string {
	seen := map[string]bool{}
	var out []string
	for _, p := range parked {
		reason, _, _ := strings.Cut(p, "@")
		if !seen[reason] {
			seen[reason] = true
			out = append(out, reason)
		}
	}
	return strings.Join(out, ",")
}

func firstWABA(n *whatsapp.Notification) string {
	for _, e := range n.Entry {
		if e.ID != "" {
			return e.ID.String()
		}
	}
	return ""
}

// dispatch decodes one change and schedules its effects.
func (r *run) dispatch(ctx context.Context, e *whatsapp.Entry, c *whatsapp.Change, where string) {
	waba := e.ID.String()
	v, err := c.Decode()
	if err != nil {
		r.h.log.Warn("webhook change parked: cannot decode", "field", truncate(c.Field, 64), "waba", waba, "at", where)
		r.markParked("decode_error", where+":"+truncate(c.Field, 64)+": "+truncate(err.Error(), 200))
		return
	}
	eventAt := e.Time.Time()
	if eventAt.IsZero() {
		// Management fields carry entry.time; without it the receipt time orders the event.
		eventAt = r.now
	}
	switch v := v.(type) {
	case *whatsapp.MessagesValue:
		r.messages(ctx, waba, v, where)
	case *whatsapp.UserPreferencesValue:
		r.spawn(func() error { return r.userPreferences(ctx, waba, v) })
	case *whatsapp.PhoneNumberQualityUpdate:
		r.spawn(func() error { return r.qualityUpdate(ctx, waba, v, eventAt) })
	case *whatsapp.BusinessCapabilityUpdate:
		r.spawn(func() error { return r.capabilityUpdate(ctx, waba, v, eventAt, where) })
	case *whatsapp.AccountUpdate:
		r.spawn(func() error { return r.accountUpdate(ctx, waba, v, eventAt) })
	case *whatsapp.AccountReviewUpdate:
		r.spawn(func() error {
			return r.updateAccount(ctx, waba, func(a *Account) bool { return a.setReview(v.Decision, eventAt) })
		})
	case *whatsapp.AccountAlerts:
		al := Alert{EntityType: v.EntityType, EntityID: v.EntityID.String(), Type: v.AlertInfo.AlertType,
			Severity: v.AlertInfo.AlertSeverity, Status: v.AlertInfo.AlertStatus,
			Description: v.AlertInfo.AlertDescription, EventAt: eventAt}
		r.mu.Lock()
		if r.alerts == nil {
			r.alerts = map[string][]Alert{}
		}
		r.alerts[waba] = append(r.alerts[waba], al)
		r.mu.Unlock()
	case *whatsapp.MessageTemplateStatusUpdate:
		if v.Name == "" {
			r.markParked("unusable", where+":template status without a name")
			return
		}
		r.spawn(func() error { return r.templateStatus(ctx, waba, v, eventAt) })
	case *whatsapp.MessageTemplateQualityUpdate:
		if v.Name == "" {
			r.markParked("unusable", where+":template quality without a name")
			return
		}
		r.spawn(func() error { return r.templateQuality(ctx, waba, v, eventAt) })
	case *whatsapp.PhoneNumberNameUpdate:
		r.spawn(func() error { return r.nameUpdate(ctx, waba, v, eventAt, where) })
	case *whatsapp.UserIDUpdate:
		r.spawn(func() error { return r.userIDUpdate(ctx, waba, v, eventAt) })
	case *whatsapp.KnownIgnored:
		r.h.log.Debug("webhook field ignored", "field", v.Field)
	case *whatsapp.UnknownField:
		r.counters.Inc(metrics.UnknownFields)
		r.h.log.Warn("webhook field unknown: kept in a parking record", "field", truncate(v.Field, 64), "waba", waba)
		r.markParked("unknown_field", where+":"+truncate(v.Field, 64))
	default:
		r.counters.Inc(metrics.UnknownFields)
		r.markParked("unknown_field", where+":"+truncate(c.Field, 64))
	}
}

// flushAlerts writes the POST's account alerts: one account update per WABA with all of them,
// so alerts of one POST never race each other for the shared account item.
func (r *run) flushAlerts(ctx context.Context) {
	for waba, list := range r.alerts {
		r.spawn(func() error {
			return r.updateAccount(ctx, waba, func(a *Account) bool {
				changed := false
				for _, al := range list {
					if a.setAlert(al) {
						changed = true
					}
				}
				return changed
			})
		})
	}
}

// messages schedules the inbound messages, statuses and out-of-band errors of a messages value.
func (r *run) messages(ctx context.Context, waba string, v *whatsapp.MessagesValue, where string) {
	pnid := v.Metadata.PhoneNumberID.String()
	if items := len(v.Messages) + len(v.Statuses) + min(len(v.Errors), 1); items > 1 {
		r.inline = false
	}
	for i := range v.Messages {
		m := &v.Messages[i]
		if m.ID == "" {
			r.markParked("unusable", fmt.Sprintf("%s:message %d without an id", where, i))
			continue
		}
		if !r.inline { // the only item of a POST has no duplicate in it
			r.mu.Lock()
			dup := r.seen[m.ID]
			if r.seen == nil {
				r.seen = map[string]bool{}
			}
			r.seen[m.ID] = true
			r.mu.Unlock()
			if dup {
				r.counters.Inc(metrics.DuplicateMessages)
				continue
			}
		}
		in := r.newInbound(waba, v, m)
		r.msgs = append(r.msgs, in)
		r.spawn(func() error { return r.prepare(ctx, in) })
	}
	for _, st := range v.Statuses {
		r.pending = append(r.pending, pendingStatus{waba: waba, pnid: pnid, st: st, contacts: v.Contacts})
	}
	if len(v.Errors) > 0 {
		errs := v.Errors
		r.spawn(func() error {
			return r.updateAccount(ctx, waba, func(a *Account) bool {
				changed := false
				for _, e := range errs {
					ve := ValueError{Code: int64(e.Code), Title: e.Title, Message: e.Message, Details: e.Details(), SeenAt: r.now}
					if a.setError(fmt.Sprint(int64(e.Code)), ve) {
						changed = true
					}
				}
				return changed
			})
		})
		r.h.log.Warn("webhook out-of-band errors recorded", "waba", waba, "phone_number_id", pnid, "count", len(v.Errors))
	}
}

func (r *run) updateAccount(ctx context.Context, waba string, fn func(*Account) bool) error {
	_, err := r.h.st.UpdateAccount(ctx, waba, ifChanged(func(a *Account, _ bool) bool {
		a.WABAID = waba
		if !fn(a) {
			return false
		}
		a.UpdatedAt = r.now
		return true
	}))
	if err != nil {
		return fmt.Errorf("update account %s: %w", waba, err)
	}
	return nil
}
