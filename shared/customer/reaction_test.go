package customer

import (
	"testing"
	"time"
)

func TestReactionTo(t *testing.T) {
	t.Parallel()
	at := time.Unix(1764003400, 0).UTC()
	for _, c := range []struct {
		code int
		ok   bool
		want Reaction
	}{
		{CodeWindowClosed, true, Reaction{CloseWindow: true}},
		{CodeMarketingOptOut, true, Reaction{StopMarketing: true}},
		{CodeUndeliverable, true, Reaction{Mark: Deliverability{UndeliverableUntil: at.Add(72 * time.Hour), Reason: "131026"}}},
		{131049, false, Reaction{}},
		{131000, false, Reaction{}},
	} {
		got, ok := ReactionTo(c.code, at)
		if ok != c.ok || got != c.want {
			t.Errorf("ReactionTo(%d) = %+v, %v; want %+v, %v", c.code, got, ok, c.want, c.ok)
		}
	}
}
