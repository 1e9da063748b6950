package customer

import "time"

// OptOutRecord is a stored opt-out: OptOut (what readers decode) plus the time of each
// signal, so that stops and resumes apply in timestamp order whatever their arrival order.
type OptOutRecord struct {
	OptOut
	MarketingAt time.Time `json:"marketingAt,omitzero"`
	KeywordAt   time.Time `json:"keywordAt,omitzero"`
}

// Registers returns the signal times. A record from before the registers existed has neither
// (only At): both signals are then taken as set at At. Otherwise a zero time means never set.
func (d *OptOutRecord) Registers() (marketingAt, keywordAt time.Time) {
	if d.MarketingAt.IsZero() && d.KeywordAt.IsZero() {
		return d.At, d.At
	}
	return d.MarketingAt, d.KeywordAt
}

// setRegister moves one signal: a later time wins, and on the same time a stop wins.
func setRegister(val *bool, at *time.Time, v bool, t time.Time) bool {
	if t.After(*at) || t.Equal(*at) && v && !*val {
		changed := *val != v || !t.Equal(*at)
		*val, *at = v, t
		return changed
	}
	return false
}

// Merge applies the signals given (nil: not part of this event) at their times, and the
// event's source and time, and reports whether anything changed. The result does not depend
// on the order events are merged in.
func (d *OptOutRecord) Merge(marketing *bool, mAt time.Time, keyword *bool, kAt time.Time, source string, at time.Time) bool {
	curM, curK := d.Registers()
	changed := false
	if marketing != nil && setRegister(&d.Marketing, &curM, *marketing, mAt) {
		changed = true
	}
	if keyword != nil && setRegister(&d.Keyword, &curK, *keyword, kAt) {
		changed = true
	}
	if d.MarketingAt != curM || d.KeywordAt != curK {
		d.MarketingAt, d.KeywordAt, changed = curM, curK, true
	}
	// Source and At describe the latest event seen, ties broken by name: order-independent.
	if at.After(d.At) || at.Equal(d.At) && source > d.Source {
		d.At, d.Source, changed = at, source, true
	}
	return changed
}

// MergeSignal applies one stop or resume at `at`: a stop sets the marketing opt-out (and the
// keyword one for a STOP keyword), a resume clears both.
func (d *OptOutRecord) MergeSignal(stop, keyword bool, source string, at time.Time) bool {
	marketing := stop
	var kw *bool
	switch {
	case stop && keyword:
		t := true
		kw = &t
	case !stop:
		f := false
		kw = &f
	}
	return d.Merge(&marketing, at, kw, at, source, at)
}

// MergeFrom copies another record's signals (the customer changed number or BSUID: the old
// identity's opt-outs follow them).
func (d *OptOutRecord) MergeFrom(src OptOutRecord) bool {
	mAt, kAt := src.Registers()
	m, k := src.Marketing, src.Keyword
	return d.Merge(&m, mAt, &k, kAt, src.Source, src.At)
}
