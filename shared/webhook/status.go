package webhook

import (
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Record reasons set by status webhooks.
const (
	ReasonWindowClosed    = "window_closed"
	ReasonUndeliverable   = "undeliverable"
	ReasonMarketingOptOut = "marketing_opt_out"
	ReasonMetaError       = "meta_error"
)

// statusRank orders statuses so that applying them in any order gives the same record:
// sent < failed < delivered < read < played. A failed after sent wins (the message did not
// get through), but a delivered or read after a failed wins too: Meta reports failures for one
// device of a multi-device user while another received the message.
func statusRank(s outbound.Status) int {
	switch s {
	case outbound.StatusSent:
		return 10
	case outbound.StatusFailed:
		return 15
	case outbound.StatusDelivered:
		return 20
	case outbound.StatusRead:
		return 30
	case outbound.StatusPlayed:
		return 40
	}
	return 0
}

// KnownStatus reports whether s is a status value this package applies.
func KnownStatus(s string) bool { return statusRank(outbound.Status(s)) > 0 }

// failureKey orders two failed statuses with the same rank deterministically.
func failureKey(code int, title string) string { return fmt.Sprintf("%09d|%s", code, title) }

// ApplyStatus applies one status webhook to an outbound record and reports whether it changed
// it. Delivery statuses never regress (statusRank); a failed status records Meta's code and
// title. The result depends only on the set of statuses applied, not on their order, so
// duplicates and reordering are harmless. (The template re-send after a 131047 is decided by
// the caller: see the webhook's status handling.)
func ApplyStatus(rec *outbound.Record, st whatsapp.Status, now time.Time) bool {
	changed := false
	next := outbound.Status(st.Status)
	nr, cr := statusRank(next), statusRank(rec.Status)
	ts := st.Timestamp.Time()
	code, title := 0, ""
	if len(st.Errors) > 0 {
		code, title = int(st.Errors[0].Code), st.Errors[0].Title
	}
	switch {
	case nr == 0:
		// Unknown status values are reported by the caller and change nothing here.
	case nr > cr:
		rec.Status = next
		rec.StatusAt = ts
		if next == outbound.StatusFailed {
			rec.ErrorCode, rec.ErrorTitle, rec.Reason = code, title, failureReason(code)
		} else if cr == statusRank(outbound.StatusFailed) {
			// A delivery after a failure: the message got through after all.
			rec.ErrorCode, rec.ErrorTitle, rec.Reason = 0, "", ""
		}
		changed = true
	case nr == cr && next == outbound.StatusFailed:
		if failureKey(code, title) > failureKey(rec.ErrorCode, rec.ErrorTitle) {
			rec.ErrorCode, rec.ErrorTitle, rec.Reason = code, title, failureReason(code)
			changed = true
		}
		if ts.After(rec.StatusAt) {
			rec.StatusAt, changed = ts, true
		}
	case nr == cr:
		if ts.After(rec.StatusAt) {
			rec.StatusAt, changed = ts, true
		}
	}
	if changed {
		rec.UpdatedAt = now
	}
	return changed
}

func failureReason(code int) string {
	switch code {
	case customer.CodeWindowClosed:
		return ReasonWindowClosed
	case customer.CodeUndeliverable:
		return ReasonUndeliverable
	case customer.CodeMarketingOptOut:
		return ReasonMarketingOptOut
	}
	return ReasonMetaError
}

// ApplyOrphanStatuses is the update of a send's record by the statuses that arrived before its
// wamid was known: each applied by ApplyStatus, unless the record already belongs to another
// wamid; no change when none of them moves it.
func ApplyOrphanStatuses(wamid string, orphans []OrphanStatus, now time.Time) persist.Update[outbound.Record] {
	return func(r *outbound.Record) (*outbound.Record, error) {
		if r.WAMID != "" && r.WAMID != wamid {
			return nil, persist.ErrNoChange
		}
		changed := false
		for _, o := range orphans {
			if ApplyStatus(r, o.Status, now) {
				changed = true
			}
		}
		if !changed {
			return nil, persist.ErrNoChange
		}
		return r, nil
	}
}
