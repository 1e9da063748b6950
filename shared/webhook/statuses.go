package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/metrics"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// status applies one status of an outbound message: to its record (correlated by
// biz_opaque_callback_data = request id, else by wamid, else kept as an orphan), and for
// failures the customer-level effects of 131047, 131050 and 131026.
func (r *run) status(ctx context.Context, waba, pnid string, st whatsapp.Status, contacts []whatsapp.Contact) error {
	if st.ID == "" {
		r.markParked("unusable", "status without an id")
		return nil
	}
	if !KnownStatus(st.Status) {
		r.counters.Inc(metrics.UnknownValues)
		r.h.log.Warn("webhook status value unknown: payload parked", "status", truncate(st.Status, 32))
		r.markParked("unknown_value", "status "+truncate(st.Status, 32))
		return nil
	}
	if st.Timestamp.IsZero() {
		st.Timestamp = whatsapp.UnixTime(r.now.Unix())
	}
	rec, deliveredAfter131026, err := r.applyToRecord(ctx, waba, pnid, st)
	if err != nil {
		return err
	}
	if deliveredAfter131026 {
		// Multi-device: one device failed (131026), another received the message. The
		// customer is reachable: lift the mark that failure set.
		ref := r.statusCustomer(st, contacts, rec)
		if ref.Key() != "" {
			if err := r.h.st.MarkDeliverability(ctx, waba, ref, customer.Deliverability{DeliveredWAMID: st.ID}); err != nil {
				return fmt.Errorf("lift undeliverable after a delivery: %w", err)
			}
		}
		return nil
	}
	if st.Status != whatsapp.StatusFailed || len(st.Errors) == 0 {
		return nil
	}
	code := int(st.Errors[0].Code)
	if code != CodeWindowClosed && code != CodeMarketingOptOut && code != CodeUndeliverable {
		return nil
	}
	at := st.Timestamp.Time()
	ref := r.statusCustomer(st, contacts, rec)
	if ref.Key() == "" {
		r.h.log.Warn("failed status names no customer: customer effects skipped", "code", code)
		return nil
	}
	switch code {
	case CodeWindowClosed:
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
	case CodeMarketingOptOut:
		if err := r.h.st.ApplyOptOut(ctx, waba, ref, OptOutEvent{Stop: true, Source: "error_131050", At: at}); err != nil {
			return fmt.Errorf("record 131050 opt-out: %w", err)
		}
	case CodeUndeliverable:
		if rec != nil && statusRank(rec.Status) > statusRank(outbound.StatusFailed) {
			// The same message was delivered to another device already: reachable. Reported
			// as a delivery so that both orders leave the same item.
			if err := r.h.st.MarkDeliverability(ctx, waba, ref, customer.Deliverability{DeliveredWAMID: st.ID}); err != nil {
				return fmt.Errorf("record delivery over 131026: %w", err)
			}
			return nil
		}
		d := customer.Deliverability{UndeliverableUntil: at.Add(UndeliverableFor), Reason: "131026", UndeliverableWAMID: st.ID}
		if err := r.h.st.MarkDeliverability(ctx, waba, ref, d); err != nil {
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

// applyToRecord correlates the status with its outbound record and applies it there, or keeps
// it as an orphan when no record is known yet. It returns the record (nil for an orphan) and
// whether this status is a delivery that overrode a 131026 failure of the same message.
func (r *run) applyToRecord(ctx context.Context, waba, pnid string, st whatsapp.Status) (*outbound.Record, bool, error) {
	var lift liftFlag
	rec, err := r.applyToRecordInner(ctx, waba, pnid, st, &lift)
	return rec, lift.set, err
}

// liftFlag carries, out of the record update closure, whether the last applied status was a
// delivery over a 131026 failure (the closure may run more than once; the last run counts).
type liftFlag struct{ set bool }

func (r *run) applyToRecordInner(ctx context.Context, waba, pnid string, st whatsapp.Status, lift *liftFlag) (*outbound.Record, error) {
	apply := func(rec *outbound.Record) bool {
		// A biz_opaque_callback_data from another system sharing the WABA may equal one of our
		// request ids: only a record with this wamid, or none yet, is this message's.
		if rec.WAMID != "" && rec.WAMID != st.ID {
			return false
		}
		wasUndeliverable := rec.Status == outbound.StatusFailed && rec.ErrorCode == CodeUndeliverable
		changed := ApplyStatus(rec, st, r.now)
		lift.set = changed && wasUndeliverable && statusRank(rec.Status) > statusRank(outbound.StatusFailed)
		return changed
	}
	if id := st.BizOpaqueCallbackData; id != "" {
		rec, found, err := r.h.st.UpdateRecordIf(ctx, id, apply)
		if err != nil {
			return nil, fmt.Errorf("apply status to record: %w", err)
		}
		if found && (rec.WAMID == "" || rec.WAMID == st.ID) {
			return rec, nil
		}
	}
	id, err := r.h.st.RequestIDForWAMID(ctx, st.ID)
	switch {
	case err == nil:
		rec, found, err := r.h.st.UpdateRecordIf(ctx, id, apply)
		if err != nil {
			return nil, fmt.Errorf("apply status to record: %w", err)
		}
		if found {
			return rec, nil
		}
	case !r.h.st.NotFound(err):
		return nil, fmt.Errorf("look up wamid: %w", err)
	}
	// No record yet (the outbound side may not have stored the wamid, or the message was
	// sent by another system): keep the status, then look again so that a record stored in
	// the meantime is not missed (the outbound side applies orphans after storing the wamid).
	o := OrphanStatus{PhoneNumberID: pnid, WABAID: waba, Status: st, ReceivedAt: r.now}
	if err := r.h.st.PutOrphanStatus(ctx, o); err != nil {
		return nil, fmt.Errorf("keep orphan status: %w", err)
	}
	id, err = r.h.st.RequestIDForWAMID(ctx, st.ID)
	switch {
	case err == nil:
		rec, err := r.h.st.ApplyOrphans(ctx, st.ID, id)
		if err != nil {
			return nil, fmt.Errorf("apply orphan statuses: %w", err)
		}
		return rec, nil
	case r.h.st.NotFound(err):
		r.h.log.Info("status for an unknown message kept for later correlation", "status", truncate(st.Status, 32), "waba", waba)
		return nil, nil
	default:
		return nil, fmt.Errorf("look up wamid: %w", err)
	}
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
		updated, found, err := r.h.st.UpdateRecordIf(ctx, rec.ID, func(x *outbound.Record) bool {
			if x.FallbackID != "" {
				return false
			}
			x.FallbackID, x.UpdatedAt = req.ID, r.now
			return true
		})
		if err != nil {
			return fmt.Errorf("record fallback id: %w", err)
		}
		if !found || updated.FallbackID != req.ID {
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
