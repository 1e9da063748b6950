// Package customer holds what the backend knows about a customer of a sender: the customer
// service window, opt-outs and deliverability. It imports no AWS code.
package customer

import (
	"strings"
	"time"
)

// Ref identifies a customer. Meta's business-scoped user id (BSUID) is the key where known;
// the phone number is optional since 2026 (users with usernames may hide it).
type Ref struct {
	UserID string `json:"userId,omitempty"` // BSUID, e.g. US.13491208655302741918
	Phone  string `json:"phone,omitempty"`  // E.164, e.g. +16505551234
}

// Key returns the canonical key: "uid:<BSUID>" when known, else "tel:<E.164>"; "" when empty.
func (r Ref) Key() string {
	if r.UserID != "" {
		return "uid:" + r.UserID
	}
	if r.Phone != "" {
		return "tel:" + r.Phone
	}
	return ""
}

// Keys returns every key the customer may be stored under, canonical first.
func (r Ref) Keys() []string {
	var ks []string
	if r.UserID != "" {
		ks = append(ks, "uid:"+r.UserID)
	}
	if r.Phone != "" {
		ks = append(ks, "tel:"+r.Phone)
	}
	return ks
}

// IsBSUID reports whether s looks like a business-scoped user id ("US.1234…") rather than digits.
func IsBSUID(s string) bool {
	i := strings.IndexByte(s, '.')
	if i < 2 || i == len(s)-1 {
		return false
	}
	for _, c := range s[:i] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// Window is the customer service window of (sender, customer).
type Window struct {
	ExpiresAt time.Time `json:"expiresAt"`
	// FreeEntry is true when the window was opened from a Click-to-WhatsApp referral (72 h).
	FreeEntry bool `json:"freeEntry"`
	// LastInboundAt is the timestamp of the newest customer message seen.
	LastInboundAt time.Time `json:"lastInboundAt"`
}

// OpenAt reports whether the window is open at now. Expired items may still be read before
// DynamoDB's TTL deletes them, so the expiry is always checked here.
func (w Window) OpenAt(now time.Time) bool { return w.ExpiresAt.After(now) }

// Standard window lengths.
const (
	ServiceWindow = 24 * time.Hour
)

// WindowFor computes the window a customer message at ts opens: 24 h, or freeEntry when it
// came from a free entry point (72 h by default, configurable).
func WindowFor(ts time.Time, referral bool, freeEntry time.Duration) Window {
	d := ServiceWindow
	if referral && freeEntry > d {
		d = freeEntry
	}
	return Window{ExpiresAt: ts.Add(d), FreeEntry: referral, LastInboundAt: ts}
}

// OptOut is the opt-out state of a customer towards a WABA.
type OptOut struct {
	// Marketing is true after a user_preferences "stop", a 131050 error, or a STOP keyword.
	Marketing bool `json:"marketing"`
	// Keyword is true when the customer sent a STOP keyword: business-initiated free-form
	// content is refused too, not only marketing templates.
	Keyword bool      `json:"keyword"`
	Source  string    `json:"source"`
	At      time.Time `json:"at"`
}

// Active reports whether any opt-out is in force.
func (o OptOut) Active() bool { return o.Marketing || o.Keyword }

// Deliverability marks a customer that Meta reported undeliverable (131026) or capped (131049).
type Deliverability struct {
	UndeliverableUntil   time.Time `json:"undeliverableUntil,omitzero"`
	MarketingCappedUntil time.Time `json:"marketingCappedUntil,omitzero"`
	Reason               string    `json:"reason,omitempty"`
	// UndeliverableWAMID is the message whose 131026 set UndeliverableUntil.
	UndeliverableWAMID string `json:"undeliverableWamid,omitempty"`
	// DeliveredWAMID, in an update only, says that message was delivered after all (another
	// device of a multi-device user received it): the mark it set is lifted.
	DeliveredWAMID string `json:"-"`
}

// Merge applies an update m to the stored marks and reports whether anything changed. Marks
// only extend (the later expiry wins), except that a delivery of the very message whose 131026
// set the undeliverable mark lifts it: the customer is reachable.
func (d *Deliverability) Merge(m Deliverability) bool {
	changed := false
	if m.DeliveredWAMID != "" && m.DeliveredWAMID == d.UndeliverableWAMID && !d.UndeliverableUntil.IsZero() {
		d.UndeliverableUntil, d.UndeliverableWAMID, changed = time.Time{}, "", true
		if d.MarketingCappedUntil.IsZero() {
			d.Reason = ""
		}
	}
	if m.UndeliverableUntil.After(d.UndeliverableUntil) {
		// The mark now belongs to this failure (none named: no delivery can lift it).
		d.UndeliverableUntil, d.UndeliverableWAMID, changed = m.UndeliverableUntil, m.UndeliverableWAMID, true
	}
	if m.MarketingCappedUntil.After(d.MarketingCappedUntil) {
		d.MarketingCappedUntil, changed = m.MarketingCappedUntil, true
	}
	if changed && m.Reason != "" {
		d.Reason = m.Reason
	}
	return changed
}
