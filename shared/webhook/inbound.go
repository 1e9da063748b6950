package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/metrics"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// maxEventBytes leaves room under SQS's 256 KiB for the batch's own overhead.
const maxEventBytes = 250 << 10

// inbound is one customer message on its way to the inbound queue.
type inbound struct {
	waba, pnid string
	msg        *whatsapp.Message
	value      *whatsapp.MessagesValue
	cust       whatsapp.CustomerRef
	ref        customer.Ref
	ts         time.Time

	rec    InboundMessage
	sent   bool
	body   string
	stop   bool
	window *customer.Window
	// win and evWin hold the window and its event form, so that neither costs an allocation.
	win   customer.Window
	evWin EventWindow
}

func (r *run) newInbound(waba string, v *whatsapp.MessagesValue, m *whatsapp.Message) *inbound {
	in := &inbound{waba: waba, pnid: v.Metadata.PhoneNumberID.String(), msg: m, value: v, ts: m.Timestamp.Time()}
	if in.ts.IsZero() {
		in.ts = r.now
	}
	in.cust = m.Customer(v.Contacts)
	in.ref = customer.Ref{UserID: in.cust.UserID, Phone: r.h.fromWaID(in.cust.WaID)}
	return in
}

// fromWaID is phone.FromWaID ("" when not a number), cached per instance: the parse is the
// largest CPU cost of a message after JSON, and customers write more than once.
func (h *Handler) fromWaID(waID string) string {
	if waID == "" {
		return ""
	}
	if e164, ok := h.phones.Get(waID, time.Time{}); ok {
		return e164
	}
	e164, err := phone.FromWaID(waID)
	if err != nil {
		e164 = ""
	}
	h.phones.Put(waID, e164, time.Time{})
	return e164
}

// prepare records the message (its window and dedupe record: one conditional write on the
// common path) and applies its other effects; the forward itself is batched later.
func (r *run) prepare(ctx context.Context, in *inbound) error {
	m := in.msg
	if !whatsapp.KnownMessageType(m.Type) {
		r.counters.Inc(metrics.UnknownMessageTypes)
		r.h.log.Warn("webhook message type unknown: forwarded with its raw JSON", "type", truncate(m.Type, 64), "waba", in.waba)
	}
	if _, err := r.sender(ctx, in.waba, in.pnid, true); err != nil {
		return err
	}
	in.rec = InboundMessage{WAMID: m.ID, PhoneNumberID: in.pnid, Customer: in.ref}
	if m.Type != whatsapp.MessageTypeSystem && in.ref.Key() != "" && m.GroupID == "" && in.pnid != "" {
		in.win = customer.WindowFor(in.ts, m.HasFreeEntryReferral(), r.h.cfg.FreeEntryWindow)
		in.window = &in.win
		in.rec.Window = &in.win
	}
	forwarded, err := r.h.st.RecordInbound(ctx, in.rec)
	if err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	if forwarded {
		// A POST that forwarded it answered 500: this is Meta's retry; its effects were applied.
		r.counters.Inc(metrics.DuplicateMessages)
		return nil
	}
	if err := r.messageEffects(ctx, in); err != nil {
		return err
	}
	body, err := r.event(ctx, in)
	if err != nil {
		return err
	}
	in.body = body
	return nil
}

// messageEffects applies what a message changes besides its window: the customer's alias (a
// write only when this instance has not written the same mapping lately), a STOP keyword's
// opt-out, a system message's identity change. The common message changes none of them.
func (r *run) messageEffects(ctx context.Context, in *inbound) error {
	m := in.msg
	if m.Type == whatsapp.MessageTypeSystem {
		// from may name the old or the new identity: only the system object is trusted.
		return r.identityChange(ctx, in)
	}
	if in.ref.UserID != "" && in.ref.Phone != "" {
		if err := r.alias(ctx, in.waba, in.ref, in.ts); err != nil {
			return err
		}
	}
	if m.Type == whatsapp.MessageTypeText && m.Text != nil && in.ref.Key() != "" && r.h.keywords.Match(m.Text.Body) {
		in.stop = true
		ev := OptOutEvent{Stop: true, Keyword: true, Source: "keyword", At: in.ts}
		if err := r.h.st.ApplyOptOut(ctx, in.waba, in.ref, ev); err != nil {
			return fmt.Errorf("record stop keyword: %w", err)
		}
		r.h.log.Info("customer opted out by keyword", "waba", in.waba, "phone_number_id", in.pnid)
	}
	return nil
}

// identityChange handles system messages: the customer changed number or BSUID. The new
// identity gets the alias and inherits the opt-outs of the old one; no window opens.
func (r *run) identityChange(ctx context.Context, in *inbound) error {
	sys := in.msg.System
	if sys == nil {
		return nil
	}
	old := in.ref
	next := customer.Ref{}
	switch sys.Type {
	case whatsapp.SystemUserChangedNumber:
		if sys.PreviousUserID != "" && old.UserID == "" {
			old.UserID = sys.PreviousUserID
		}
		next.UserID = sys.UserID
		if w := sys.NewPhoneWaID(); w != "" {
			if e164, err := phone.FromWaID(w); err == nil {
				next.Phone = e164
			}
		}
	case whatsapp.SystemUserChangedUserID:
		if sys.PreviousUserID != "" {
			old = customer.Ref{UserID: sys.PreviousUserID, Phone: in.ref.Phone}
		}
		next = customer.Ref{UserID: sys.UserID, Phone: in.ref.Phone}
		if next.UserID == "" {
			next.UserID = in.ref.UserID
		}
	default:
		r.counters.Inc(metrics.UnknownValues)
		r.h.log.Warn("webhook system message type unknown", "type", truncate(sys.Type, 64))
		return nil
	}
	if next.Key() == "" || next == old {
		return nil
	}
	if next.UserID != "" && next.Phone != "" {
		if err := r.alias(ctx, in.waba, next, in.ts); err != nil {
			return err
		}
	}
	if old.Key() != "" {
		if err := r.h.st.CopyOptOut(ctx, in.waba, old, next); err != nil {
			return fmt.Errorf("carry opt-out to the new identity: %w", err)
		}
	}
	return nil
}

// alias records BSUID ↔ phone. A mapping this instance wrote in the last minutes is not
// written again: a returning customer's every message would otherwise cost two writes. The
// stored time orders different mappings (a changed BSUID); which message of the same mapping
// stamped it does not matter.
func (r *run) alias(ctx context.Context, waba string, ref customer.Ref, at time.Time) error {
	k := waba + "|" + ref.UserID + "|" + ref.Phone
	if _, ok := r.h.aliases.Get(k, r.now); ok {
		return nil
	}
	if err := r.h.st.PutAliasAt(ctx, waba, ref, at); err != nil {
		return fmt.Errorf("put alias: %w", err)
	}
	r.h.aliases.Put(k, at.UnixMilli(), r.now)
	return nil
}

// senderInfo is what a message needs to know about its sender.
type senderInfo struct {
	known bool
	phone string
}

type senderLookup struct {
	once sync.Once
	info senderInfo
	err  error
}

// sender looks the sender up once per POST (and caches it a minute per instance). An unknown
// sender is counted: its webhooks are still applied, the registry may be behind Meta.
func (r *run) sender(ctx context.Context, waba, pnid string, count bool) (senderInfo, error) {
	if pnid == "" {
		return senderInfo{}, nil
	}
	r.mu.Lock()
	var l *senderLookup
	switch {
	case r.firstLookup == nil:
		l = &senderLookup{}
		r.firstPNID, r.firstLookup = pnid, l
	case r.firstPNID == pnid:
		l = r.firstLookup
	default:
		var ok bool
		if l, ok = r.lookup[pnid]; !ok {
			l = &senderLookup{}
			if r.lookup == nil {
				r.lookup = map[string]*senderLookup{}
			}
			r.lookup[pnid] = l
		}
	}
	r.mu.Unlock()
	// The first caller fetches; the POST's others wait for its answer.
	l.once.Do(func() { l.info, l.err = r.fetchSender(ctx, pnid) })
	if l.err != nil {
		return senderInfo{}, l.err
	}
	if !l.info.known && count {
		r.counters.Inc(metrics.UnknownSenders)
		r.h.log.Warn("webhook for a phone number with no sender record: applied anyway", "phone_number_id", pnid, "waba", waba)
	}
	return l.info, nil
}

func (r *run) fetchSender(ctx context.Context, pnid string) (senderInfo, error) {
	if info, ok := r.h.senders.Get(pnid, r.now); ok {
		return info, nil
	}
	snd, err := r.h.st.GetSender(ctx, pnid)
	var info senderInfo
	switch {
	case err == nil:
		info = senderInfo{known: true, phone: snd.PhoneNumber}
	case errors.Is(err, persist.ErrNotFound):
	default:
		return senderInfo{}, fmt.Errorf("get sender: %w", err)
	}
	r.h.senders.Put(pnid, info, r.now)
	return info, nil
}

// event renders the normalised event of a message.
func (r *run) event(ctx context.Context, in *inbound) (string, error) {
	m := in.msg
	info, err := r.sender(ctx, in.waba, in.pnid, false)
	if err != nil {
		return "", err
	}
	ev := InboundEvent{
		Version: EventVersion,
		WAMID:   m.ID,
		WABAID:  in.waba,
		Sender:  EventSender{PhoneNumberID: in.pnid, Phone: info.phone, Known: info.known},
		Customer: EventCustomer{
			UserID: in.cust.UserID, ParentUserID: in.cust.ParentUserID, Phone: in.ref.Phone,
			WaID: in.cust.WaID, ProfileName: in.cust.ProfileName, Username: in.cust.Username,
		},
		Type:        m.Type,
		Content:     m.Content(),
		Timestamp:   in.ts,
		Context:     m.Context,
		Referral:    m.Referral,
		GroupID:     m.GroupID,
		Errors:      m.Errors,
		StopKeyword: in.stop,
		Raw:         m.Raw,
		ReceivedAt:  r.now,
	}
	if ev.Sender.Phone == "" {
		if e164, err := in.value.Metadata.DisplayE164(); err == nil {
			ev.Sender.Phone = e164
		}
	}
	if in.window != nil {
		in.evWin = EventWindow{ExpiresAt: in.window.ExpiresAt, FreeEntry: in.window.FreeEntry}
		ev.Window = &in.evWin
	}
	raw, err := encodeEvent(&ev)
	if err != nil {
		return "", fmt.Errorf("encode inbound event: %w", err)
	}
	if len(raw) > maxEventBytes {
		// Keep the message whole in a parking record and forward what identifies it.
		r.markParked("event_too_large", truncate(m.ID, 80))
		ev.Content = whatsapp.Content{Kind: ev.Content.Kind, Supported: ev.Content.Supported}
		ev.Raw, ev.Errors, ev.Referral, ev.Truncated = nil, nil, nil, true
		if raw, err = encodeEvent(&ev); err != nil {
			return "", fmt.Errorf("encode inbound event: %w", err)
		}
	}
	return string(raw), nil
}

// failedIndexes is implemented by the queue adapter's batch error.
type failedIndexes interface{ FailedIndexes() []int }

// forward sends every prepared message in one SendBatch. A message that was not sent makes
// the POST answer 500 and Meta's retry sends it; one that was sent is marked by markForwarded
// if the POST answers 500 all the same.
func (r *run) forward(ctx context.Context) {
	var ready []*inbound
	for _, in := range r.msgs {
		if in.body != "" {
			ready = append(ready, in)
		}
	}
	if len(ready) == 0 {
		return
	}
	bodies := make([]string, len(ready))
	for i, in := range ready {
		bodies[i] = in.body
	}
	// The inbound queue is FIFO: one group per conversation keeps the assistants' order, and the
	// wamid as deduplication id makes a resend within SQS's five minutes a no-op (Meta's retry
	// after an ambiguous failure, or a concurrent delivery of the same message).
	fifo := func(i int) (string, string) {
		in := ready[i]
		return sqsID(in.pnid + "|" + in.ref.Key()), sqsID(in.msg.ID)
	}
	var failed map[int]bool // nil (reads false) unless the send failed
	if err := r.h.q.SendBatch(ctx, r.h.cfg.InboundQueueURL, bodies, fifo); err != nil {
		failed = map[int]bool{}
		var fi failedIndexes
		if errors.As(err, &fi) {
			for _, i := range fi.FailedIndexes() {
				failed[i] = true
			}
		} else {
			for i := range ready {
				failed[i] = true
			}
		}
		r.fail(fmt.Errorf("forward %d of %d message(s) to the inbound queue: %w", len(failed), len(ready), err))
	}
	n := 0
	for i, in := range ready {
		if !failed[i] {
			in.sent = true
			n++
		}
	}
	r.counters.Add(metrics.ForwardedMessages, int64(n))
}

// markForwarded runs when the POST answers 500 after forwarding some of its messages: their
// marks make Meta's retry drop them whenever it comes. The mark gets its own short context
// (the POST's may be what failed). Without it the retry forwards them again, which the FIFO
// queue drops within five minutes (the event carries the wamid for the assistants after that).
func (r *run) markForwarded() {
	var sent []InboundMessage
	for _, in := range r.msgs {
		if in.sent {
			sent = append(sent, in.rec)
		}
	}
	if len(sent) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(context.Background()), 2*time.Second)
	defer cancel()
	if err := r.h.st.MarkForwarded(ctx, sent); err != nil {
		r.h.log.Warn("mark forwarded messages of a failed POST", "count", len(sent), "error", err.Error())
	}
}

// marshalASCII encodes v as JSON with every non-ASCII character escaped (\uXXXX, surrogate
// pairs above U+FFFF). SQS refuses message bodies with characters outside its allowed set
// (U+FFFE, U+FFFF, and some implementations astral characters such as emoji); escaped JSON is
// the same document and is always accepted.
func marshalASCII(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	ascii := true
	for _, b := range raw {
		if b >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return raw, nil
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(raw)+len(raw)/4)
	esc := func(r rune) {
		out = append(out, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
	}
	for _, r := range string(raw) {
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			esc(r1)
			esc(r2)
		default:
			esc(r)
		}
	}
	return out, nil
}

// sqsID keeps an SQS group or deduplication id within its 128 characters: longer ones are
// replaced by their SHA-256 (stable, so the same message always maps to the same id).
func sqsID(s string) string {
	if len(s) <= 128 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
