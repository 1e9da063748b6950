package customer

import "time"

// WindowRegisters are what a window is derived from: three registers, each only ever moved
// forward, so that customer messages and 131047 closes applied in any order give the same
// window. Times are Unix milliseconds.
//
//	Last, Base       newest customer message and its expiry (24 h, or 72 h from a referral)
//	Free, FreeBase   newest message from a free entry point and its expiry
//	Close            newest 131047 close
//	Expires          the later of the two expiries, each capped at Close when the close is not
//	                 older than its message: a plain message inside a 72 h free-entry window
//	                 does not shorten it, and a close ends everything sent before it
type WindowRegisters struct {
	HasLast, HasFree, HasClose bool
	Last, Base                 int64
	Free, FreeBase             int64
	Close                      int64
	// Expires and FreeEntry are derived (Derive).
	Expires   int64
	FreeEntry bool
}

// CloseKeep keeps a close (and so the window's record) past Meta's 7-day retry horizon, so
// that a late redelivery of an older message cannot reopen a window Meta said was closed.
const CloseKeep = 8 * 24 * time.Hour

// AddMessage merges a customer message at l giving expiry e and reports whether any register
// moved.
func (w *WindowRegisters) AddMessage(l, e int64, free bool) bool {
	changed := false
	if !w.HasLast || l > w.Last || l == w.Last && e > w.Base {
		w.HasLast, w.Last, w.Base, changed = true, l, e, true
	}
	if free && (!w.HasFree || l > w.Free || l == w.Free && e > w.FreeBase) {
		w.HasFree, w.Free, w.FreeBase, changed = true, l, e, true
	}
	return changed
}

// CloseAt merges a 131047 close at ms and reports whether it moved the register.
func (w *WindowRegisters) CloseAt(ms int64) bool {
	if w.HasClose && w.Close >= ms {
		return false
	}
	w.HasClose, w.Close = true, ms
	return true
}

// Derive recomputes Expires and FreeEntry from the registers.
func (w *WindowRegisters) Derive() {
	capped := func(at, exp int64) int64 {
		if w.HasClose && w.Close >= at && w.Close < exp {
			return w.Close
		}
		return exp
	}
	w.FreeEntry = false
	switch {
	case w.HasLast:
		w.Expires = capped(w.Last, w.Base)
		if w.HasFree {
			if fe := capped(w.Free, w.FreeBase); fe >= w.Expires {
				w.Expires, w.FreeEntry = fe, true
			}
		}
	case w.HasClose:
		w.Expires = w.Close
	}
}

// KeepUntil is how long the record must live: the window's expiry, or CloseKeep past a close
// that still matters (one not older than the last message). It depends only on the registers.
func (w WindowRegisters) KeepUntil() time.Time {
	t := time.UnixMilli(w.Expires)
	if w.HasClose && (!w.HasLast || w.Close >= w.Last) {
		if k := time.UnixMilli(w.Close).Add(CloseKeep); k.After(t) {
			t = k
		}
	}
	return t
}

// Window is the window the registers describe.
func (w WindowRegisters) Window() Window {
	return Window{ExpiresAt: time.UnixMilli(w.Expires).UTC(), FreeEntry: w.FreeEntry, LastInboundAt: time.UnixMilli(w.Last).UTC()}
}
