package outbound_test

import (
	"fmt"
	"testing"

	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
)

// TestRefusedSendReleasesBudget: a template Meta refuses never reached the customer, so its
// recipient does not use the portfolio's messaging limit; one Meta accepted does.
func TestRefusedSendReleasesBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code int
		used int
	}{
		{code: 131026, used: 0}, // undeliverable
		{code: 131050, used: 0}, // marketing opt-out
		{code: 132000, used: 0}, // template parameters (a 4xx)
		{code: 0, used: 1},      // accepted
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			snd := h.newSender(nil)
			if tc.code != 0 {
				h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: snd.ID, ErrorCode: tc.code})
			}
			h.send(templateReq("req", snd, h.recipient(), outbound.CategoryMarketing))
			if used, err := h.st.BudgetUsed(h.ctx, snd.PortfolioKey()); err != nil || used != tc.used {
				t.Errorf("budget used %d (%v), want %d; record %+v", used, err, tc.used, h.record("req"))
			}
		})
	}
}
