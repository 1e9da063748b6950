package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/metrics"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// pendingStatus is one status of a POST with the change it came in.
type pendingStatus struct {
	waba, pnid string
	st         whatsapp.Status
	contacts   []whatsapp.Contact
}

// groupStatuses groups a POST's statuses by WABA and message id, in order of first appearance:
// the statuses of one message (sent, delivered, read in one POST) are applied to its record
// together, in one write, instead of racing each other.
func groupStatuses(sts []pendingStatus) [][]pendingStatus {
	var groups [][]pendingStatus
	at := map[string]int{}
	for _, p := range sts {
		if p.st.ID == "" {
			groups = append(groups, []pendingStatus{p})
			continue
		}
		k := p.waba + "|" + p.st.ID
		i, ok := at[k]
		if !ok {
			i = len(groups)
			at[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], p)
	}
	return groups
}

// statuses applies the statuses of one outbound message: to its record (correlated by
// biz_opaque_callback_data = request id, else by wamid, else kept as an orphan), and for
// failures the customer-level effects of 131047, 131050 and 131026.
func (r *run) statuses(ctx context.Context, waba, pnid string, group []pendingStatus) error {
	var valid []whatsapp.Status
	var contacts []whatsapp.Contact
	for _, p := range group {
		st := p.st
		if len(p.contacts) > 0 {
			contacts = p.contacts
		}
		if pnid == "" {
			pnid = p.pnid
		}
		if st.ID == "" {
			r.markParked("unusable", "status without an id")
			continue
		}
		if !KnownStatus(st.Status) {
			r.counters.Inc(metrics.UnknownValues)
			r.h.log.Warn("webhook status value unknown: payload parked", "status", truncate(st.Status, 32))
			r.markParked("unknown_value", "status "+truncate(st.Status, 32))
			continue
		}
		if st.Timestamp.IsZero() {
			st.Timestamp = whatsapp.UnixTime(r.now.Unix())
		}
		valid = append(valid, st)
	}
	if len(valid) == 0 {
		return nil
	}
	rec, deliveredAfter131026, err := r.applyToRecord(ctx, waba, pnid, valid)
	if err != nil {
		return err
	}
	lifted := false
	if deliveredAfter131026 {
		// Multi-device: one device failed (131026), another received the message. The
		// customer is reachable: lift the mark that failure set.
		ref := r.statusCustomer(valid[0], contacts, rec)
		if ref.Key() != "" {
			if err := r.h.st.MarkDeliverability(ctx, waba, ref, customer.Deliverability{DeliveredWAMID: valid[0].ID}); err != nil {
				return fmt.Errorf("lift undeliverable after a delivery: %w", err)
			}
			lifted = true
		}
	}
	for _, st := range valid {
		if err := r.statusEffects(ctx, waba, pnid, st, contacts, rec, lifted); err != nil {
			return err
		}
	}
	return nil
}

// statusEffects applies the customer-level reaction to a failed status's error code. lifted
// says the delivery of this message over a 131026 is already recorded on the customer.
func (r *run) statusEffects(ctx context.Context, waba, pnid string, st whatsapp.Status, contacts []whatsapp.Contact, rec *outbound.Record, lifted bool) error {
	if st.Status != whatsapp.StatusFailed || len(st.Errors) == 0 {
		return nil
	}
	code := int(st.Errors[0].Code)
	at := st.Timestamp.Time()
	react, ok := customer.ReactionTo(code, at)
	if !ok {
		return nil
	}
	ref := r.statusCustomer(st, contacts, rec)
	if ref.Key() == "" {
		r.h.log.Warn("failed status names no customer: customer effects skipped", "code", code)
		return nil
	}
	switch {
	case react.CloseWindow:
		if pnid == "" && rec != nil {
			pnid = rec.SenderID
		}
		if pnid != "" {
			// Close every key the customer is known by, or a window kept under the other
			// one would stay open.
			full, err := r.h.st.ResolveCustomer(ctx, waba, ref)
			if err != nil {
				return fmt.Errorf("resolve customer: %w", err)
			}
			if err := r.h.st.CloseWindowAt(ctx, pnid, full, at); err != nil {
				return fmt.Errorf("close window after 131047: %w", err)
			}
		}
		if rec != nil {
			return r.fallback(ctx, rec)
		}
	case react.StopMarketing:
		if err := r.h.st.ApplyOptOut(ctx, waba, ref, OptOutEvent{Stop: true, Source: "error_131050", At: at}); err != nil {
			return fmt.Errorf("record 131050 opt-out: %w", err)
		}
	case !react.Mark.UndeliverableUntil.IsZero():
		if rec != nil && statusRank(rec.Status) > statusRank(outbound.StatusFailed) {
			// The same message was delivered to another device already: reachable. Reported
			// as a delivery so that both orders leave the same item.
			if lifted {
				return nil
			}
			if err := r.h.st.MarkDeliverability(ctx, waba, ref, customer.Deliverability{DeliveredWAMID: st.ID}); err != nil {
				return fmt.Errorf("record delivery over 131026: %w", err)
			}
			return nil
		}
		mark := react.Mark
		mark.UndeliverableWAMID = st.ID
		if err := r.h.st.MarkDeliverability(ctx, waba, ref, mark); err != nil {
			return fmt.Errorf("mark undeliverable: %w", err)
		}
	}
	return nil
}

// statusCustomer is the recipient of a status, from the status itself and, where it lacks
// them (failed statuses carry no contacts), from the record's request.
func (r *run) statusCustomer(st whatsapp.Status, contacts []whatsapp.Contact, rec *outbound.Record) customer.Ref {
	var ref customer.Ref
	if st.RecipientType != "group" {
		c := st.Customer(contacts)
		ref.UserID = c.UserID
		ref.Phone = r.h.fromWaID(c.WaID)
	}
	if rec != nil {
		if ref.UserID == "" {
			ref.UserID = rec.ToUserID
		}
		if ref.Phone == "" && rec.To != "" {
			if e164, err := phone.FromWaID(rec.To); err == nil {
				ref.Phone = e164
			}
		}
	}
	return ref
}

// applyToRecord correlates the statuses of one message with its outbound record and applies
// them there, or keeps them as orphans when no record is known yet. It returns the record (nil
// for an orphan) and whether the statuses include a delivery that overrode a 131026 failure of
// the same message.
//
// The common path is one conditional write: the statuses folded into one DeliveryStatus
// (FoldStatuses), written onto the record named by biz_opaque_callback_data (our request id,
// set on every send), which answers with the record as it stood, so nothing is read.
func (r *run) applyToRecord(ctx context.Context, waba, pnid string, sts []whatsapp.Status) (*outbound.Record, bool, error) {
	st := sts[0]
	d, ok := FoldStatuses(sts, r.now)
	if !ok {
		return nil, false, nil
	}
	bizID := ""
	for _, x := range sts {
		if x.BizOpaqueCallbackData != "" {
			bizID = x.BizOpaqueCallbackData
			break
		}
	}
	if bizID != "" {
		// A biz_opaque_callback_data from another system sharing the WABA may equal one of our
		// request ids: only a record with this wamid, or none yet, is this message's.
		rec, lift, err := r.writeStatus(ctx, bizID, d)
		switch {
		case errors.Is(err, persist.ErrNotFound):
		case err != nil:
			return nil, false, err
		case rec != nil:
			return rec, lift, nil
		}
	}
	id, err := r.h.st.RequestIDForWAMID(ctx, st.ID)
	switch {
	case err == nil:
		rec, lift, err := r.writeStatus(ctx, id, d)
		switch {
		case errors.Is(err, persist.ErrNotFound):
		case err != nil:
			return nil, false, err
		case rec != nil:
			return rec, lift, nil
		}
	case !errors.Is(err, persist.ErrNotFound):
		return nil, false, fmt.Errorf("look up wamid: %w", err)
	}
	// No record yet (the outbound side may not have stored the wamid, or the message was
	// sent by another system): keep the status, then look again so that a record stored in
	// the meantime is not missed (the outbound side applies orphans after storing the wamid).
	for _, x := range sts {
		o := OrphanStatus{PhoneNumberID: pnid, WABAID: waba, Status: x, ReceivedAt: r.now}
		if err := r.h.st.PutOrphanStatus(ctx, o); err != nil {
			return nil, false, fmt.Errorf("keep orphan status: %w", err)
		}
	}
	id, err = r.h.st.RequestIDForWAMID(ctx, st.ID)
	switch {
	case err == nil:
		rec, err := r.h.st.ApplyOrphans(ctx, st.ID, id)
		if err != nil {
			return nil, false, fmt.Errorf("apply orphan statuses: %w", err)
		}
		return rec, false, nil
	case errors.Is(err, persist.ErrNotFound):
		r.h.log.Info("status for an unknown message kept for later correlation", "status", truncate(st.Status, 32), "waba", waba)
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("look up wamid: %w", err)
	}
}

// writeStatus writes d onto the record of request id and returns the record as it now stands
// and whether d was a delivery over a 131026 failure of the same message (the customer is
// reachable after all). A d that is not higher than the record's status is no change; a record
// of another message (bound to another wamid) is no record: nil, and d is not written.
// persist.ErrNotFound when there is no record.
func (r *run) writeStatus(ctx context.Context, id string, d DeliveryStatus) (*outbound.Record, bool, error) {
	w, err := r.h.st.ApplyDeliveryStatus(ctx, id, d)
	if errors.Is(err, persist.ErrNotFound) {
		return nil, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("apply status to record: %w", err)
	}
	prev := w.Prev
	if w.WAMID != "" && w.WAMID != d.WAMID || prev.WAMID != "" && prev.WAMID != d.WAMID {
		return nil, false, nil
	}
	undeliverable := w.Undeliverable || prev.Status == outbound.StatusFailed && prev.ErrorCode == customer.CodeUndeliverable
	delivery := statusRank(d.Status) > statusRank(outbound.StatusFailed)
	rec := *prev
	if !w.Applied || !MergeDelivery(&rec, d) {
		// A delivery the record already shows is a duplicate, or Meta's retry of a status whose
		// write's answer was lost: the lift that write owed may never have run, so it is owed
		// again (lifting twice is harmless).
		replay := d.Key == recordStatusKey(prev)
		return prev, replay && delivery && undeliverable, nil
	}
	first := statusRank(prev.Status) <= statusRank(outbound.StatusFailed)
	return &rec, first && delivery && undeliverable, nil
}

// fallbackClaim is the dedupe key of a template re-send.
func fallbackClaim(id string) string { return "fallback:" + id }

// fallback re-sends rec as its template after a 131047 (outbound.TemplateFallback decides
// whether it has one), exactly once: FallbackID is set by a conditional record write (the
// once-ness), the enqueue is guarded by a claim → send → mark record, and the FIFO
// deduplication id (and the outbound side's idempotency on request ids) absorb a repeat after
// a lost mark. FallbackID is set whatever the record's current status, so the re-send does not
// depend on the order in which Meta's statuses arrive.
func (r *run) fallback(ctx context.Context, rec *outbound.Record) error {
	base := *rec
	base.FallbackID = ""
	req, ok := outbound.TemplateFallback(base)
	if !ok || rec.FallbackID != "" && rec.FallbackID != req.ID {
		return nil
	}
	if rec.FallbackID == "" {
		updated, err := r.h.st.UpdateKnownRecord(ctx, rec.ID, existing(func(x *outbound.Record) bool {
			if x.FallbackID != "" {
				return false
			}
			x.FallbackID, x.UpdatedAt = req.ID, r.now
			return true
		}))
		if errors.Is(err, persist.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("record fallback id: %w", err)
		}
		if updated.FallbackID != req.ID {
			return nil
		}
	}
	key := fallbackClaim(req.ID)
	state, err := r.h.st.Claim(ctx, key, r.owner, r.h.cfg.ClaimLease)
	if err != nil {
		return fmt.Errorf("claim fallback: %w", err)
	}
	switch state {
	case AlreadyDone:
		return nil
	case Held:
		return fmt.Errorf("fallback %s is being sent by another delivery", req.ID)
	}
	body, err := marshalASCII(req)
	if err != nil {
		return fmt.Errorf("encode fallback request: %w", err)
	}
	if err := r.h.q.Send(ctx, r.h.cfg.OutboundQueueURL, outbound.GroupID(req), outbound.DedupeID(req), string(body)); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = r.h.st.Release(rctx, key, r.owner)
		return fmt.Errorf("enqueue template fallback: %w", err)
	}
	if err := r.h.st.MarkDone(ctx, []string{key}); err != nil {
		return fmt.Errorf("mark fallback sent: %w", err)
	}
	r.h.log.Info("131047: template re-send enqueued", "request_id", rec.ID, "fallback_id", req.ID)
	return nil
}
