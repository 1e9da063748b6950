package customer

import (
	"testing"
	"time"
)

// TestDeliverabilityMerge: marks only extend, and a delivery of the message whose 131026 set
// the undeliverable mark lifts it (a multi-device customer); a delivery of another message
// does not.
func TestDeliverabilityMerge(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	mark := func(w string, until time.Time) Deliverability {
		return Deliverability{UndeliverableUntil: until, Reason: "131026", UndeliverableWAMID: w}
	}
	tests := []struct {
		name        string
		cur         Deliverability
		m           Deliverability
		wantChanged bool
		wantUntil   time.Time
	}{
		{"first mark", Deliverability{}, mark("w1", t0), true, t0},
		{"earlier mark ignored", mark("w1", t0), mark("w2", t0.Add(-time.Hour)), false, t0},
		{"later mark extends", mark("w1", t0), mark("w2", t0.Add(time.Hour)), true, t0.Add(time.Hour)},
		{"delivery of the same message lifts", mark("w1", t0), Deliverability{DeliveredWAMID: "w1"}, true, time.Time{}},
		{"delivery of another message keeps", mark("w1", t0), Deliverability{DeliveredWAMID: "w2"}, false, t0},
		{"delivery with no mark", Deliverability{}, Deliverability{DeliveredWAMID: "w1"}, false, time.Time{}},
		{"mark extended by an unnamed failure is not lifted", func() Deliverability {
			d := mark("w1", t0)
			d.Merge(Deliverability{UndeliverableUntil: t0.Add(time.Hour)})
			return d
		}(), Deliverability{DeliveredWAMID: "w1"}, false, t0.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.cur
			if got := d.Merge(tc.m); got != tc.wantChanged || !d.UndeliverableUntil.Equal(tc.wantUntil) {
				t.Fatalf("Merge = %v, until %v; want %v, %v", got, d.UndeliverableUntil, tc.wantChanged, tc.wantUntil)
			}
		})
	}
}
