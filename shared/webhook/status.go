package webhook

import (
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
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

// statusKey is the order of delivery statuses: rank, then (failures) Meta's error code, then
// Meta's timestamp, then the error title. A record keeps the status with the highest key, so
// the result depends only on the set of statuses seen, never on their order; fixed-width
// fields first, so that comparing the strings compares the fields (the store's condition
// compares them as DynamoDB strings, byte by byte, as Go does).
func statusKey(rank, code int, at time.Time, title string) string {
	if rank == 0 {
		return ""
	}
	return fmt.Sprintf("%02d|%09d|%012d|%s", rank, max(code, 0), max(at.Unix(), 0), title)
}

// DeliveryStatus is the delivery status Meta last reported for one message, as the webhook
// writes it onto the message's record: apart from the record's document and version, so that
// statuses never conflict with each other or with the outbound consumer's writes. Readers of
// the record see it merged (MergeDelivery).
type DeliveryStatus struct {
	WAMID      string          `json:"wamid"`
	Status     outbound.Status `json:"status"`
	At         time.Time       `json:"at"`
	ErrorCode  int             `json:"errorCode,omitempty"`
	ErrorTitle string          `json:"errorTitle,omitempty"`
	// Key orders statuses (statusKey): the record keeps the highest it was given.
	Key string `json:"key"`
	// UpdatedAt is when the webhook applied it.
	UpdatedAt time.Time `json:"updatedAt"`
	// MarksUndeliverable: a 131026 is among the statuses folded in. The record keeps that for
	// good, so that a later delivery (or Meta's retry of one) knows to lift the customer's mark.
	MarksUndeliverable bool `json:"-"`
}

// deliveryOf is st as a DeliveryStatus applied at now (Key empty for an unknown status).
func deliveryOf(st whatsapp.Status, now time.Time) DeliveryStatus {
	d := DeliveryStatus{WAMID: st.ID, Status: outbound.Status(st.Status), At: st.Timestamp.Time(), UpdatedAt: now}
	if d.Status == outbound.StatusFailed && len(st.Errors) > 0 {
		d.ErrorCode, d.ErrorTitle = int(st.Errors[0].Code), st.Errors[0].Title
	}
	d.Key = statusKey(statusRank(d.Status), d.ErrorCode, d.At, d.ErrorTitle)
	d.MarksUndeliverable = d.Status == outbound.StatusFailed && d.ErrorCode == customer.CodeUndeliverable
	return d
}

// FoldStatuses is the statuses of one message (one POST's sent, delivered, read…) as the one
// DeliveryStatus they leave on its record: the one with the highest key. ok is false when none
// is a known status.
func FoldStatuses(sts []whatsapp.Status, now time.Time) (d DeliveryStatus, ok bool) {
	marks := false
	for _, st := range sts {
		x := deliveryOf(st, now)
		marks = marks || x.MarksUndeliverable
		if x.Key > d.Key {
			d = x
		}
	}
	d.MarksUndeliverable = marks
	return d, d.Key != ""
}

// recordStatusKey is the key of the status rec shows (its own statuses, queued, sending,
// deferred or rejected, rank below every delivery status).
func recordStatusKey(rec *outbound.Record) string {
	if rec.Status != outbound.StatusFailed {
		return statusKey(statusRank(rec.Status), 0, rec.StatusAt, "")
	}
	return statusKey(statusRank(rec.Status), rec.ErrorCode, rec.StatusAt, rec.ErrorTitle)
}

// MergeDelivery applies d to rec and reports whether it changed it: d wins when its key is
// higher than the status rec shows, and then sets the status, Meta's timestamp, and the error
// code, title and reason (cleared when d is not a failure: the message got through after all).
// A status of another message (rec has another wamid) changes nothing. Merging is a maximum,
// so merging the same status again, or statuses in any order, gives the same record.
func MergeDelivery(rec *outbound.Record, d DeliveryStatus) bool {
	if rec.WAMID != "" && d.WAMID != "" && rec.WAMID != d.WAMID {
		return false
	}
	if d.Key == "" || d.Key <= recordStatusKey(rec) {
		return false
	}
	rec.Status, rec.StatusAt = d.Status, d.At
	if d.Status == outbound.StatusFailed {
		rec.ErrorCode, rec.ErrorTitle, rec.Reason = d.ErrorCode, d.ErrorTitle, failureReason(d.ErrorCode)
	} else {
		rec.ErrorCode, rec.ErrorTitle, rec.Reason = 0, "", ""
	}
	if d.UpdatedAt.After(rec.UpdatedAt) {
		rec.UpdatedAt = d.UpdatedAt
	}
	return true
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

// FoldOrphans is the statuses kept for wamid before its record was known, as one
// DeliveryStatus (FoldStatuses).
func FoldOrphans(orphans []OrphanStatus, now time.Time) (DeliveryStatus, bool) {
	sts := make([]whatsapp.Status, len(orphans))
	for i, o := range orphans {
		sts[i] = o.Status
	}
	return FoldStatuses(sts, now)
}
