package sender

import (
	"testing"
	"time"
)

func TestNewerTier(t *testing.T) {
	t.Parallel()
	t1, t2 := t0, t0.Add(time.Second)
	tests := []struct {
		name      string
		tier      string
		at        time.Time
		cur       string
		curAt     time.Time
		want      bool
		wantOther bool // the same pair the other way round
	}{
		{"later wins even lower", "TIER_250", t2, "TIER_10K", t1, true, false},
		{"tie: higher wins", "TIER_10K", t1, "TIER_2K", t1, true, false},
		{"tie: unlimited highest", "TIER_UNLIMITED", t1, "TIER_100K", t1, true, false},
		{"tie: not set lowest", "TIER_2K", t1, "TIER_NOT_SET", t1, true, false},
		{"same tier same time", "TIER_2K", t1, "TIER_2K", t1, false, false},
		{"first ever", "TIER_250", t1, "", time.Time{}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := NewerTier(tc.tier, tc.at, tc.cur, tc.curAt); got != tc.want {
				t.Errorf("NewerTier(%s@%v over %s@%v) = %v", tc.tier, tc.at, tc.cur, tc.curAt, got)
			}
			if tc.cur != "" {
				if got := NewerTier(tc.cur, tc.curAt, tc.tier, tc.at); got != tc.wantOther {
					t.Errorf("reverse = %v, want %v (the rule must be a strict order)", got, tc.wantOther)
				}
			}
		})
	}
	if NewerTier("", t2, "TIER_2K", t1) {
		t.Error("an empty tier replaced a told one")
	}
}

func TestTierTellsPortfolio(t *testing.T) {
	t.Parallel()
	for tier, want := range map[string]bool{"TIER_NOT_SET": false, "": false, "TIER_250": true, "TIER_UNLIMITED": true} {
		if got := TierTellsPortfolio(tier); got != want {
			t.Errorf("TierTellsPortfolio(%q) = %v", tier, got)
		}
	}
}
