package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestReplaceTokenOfAnotherBusinessRefusedAndHoldLifted: PUT /businesses/{id}/token refuses a
// token that is valid and ours but another business's (nothing stored), and a token accepted
// after a 190 lifts the business's send hold: the next request is sent, not deferred.
func TestReplaceTokenOfAnotherBusinessRefusedAndHoldLifted(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	ctx := context.Background()
	a := biz{"1301", "2301", "3301"}
	b := biz{"1302", "2302", "3302"}
	for _, x := range []biz{a, b} {
		if st, ob := o.onboard(x, o.fake.AddBusiness(x.business("Shop "+x.id))); st != http.StatusAccepted || ob.Status != onboarding.StatusDone {
			t.Fatalf("onboarding %s: %d %s %s", x.id, st, ob.Status, ob.Reason)
		}
	}
	o.replyThrough(ctx, a, "wamid.rep-a-1", "rep-a-1")

	// Meta refuses the business's token: its sends are held.
	o.fake.RevokeBusinessTokens(a.id)
	req, _ := json.Marshal(map[string]any{"id": "rep-a-2", "senderId": a.phone, "to": "+16505551234", "assistantId": "asst-1", "text": "Yes."})
	o.do(http.MethodPost, "/messages", "application/json", req, nil)
	o.drainOutbound(ctx)
	_, raw := o.do(http.MethodGet, "/messages/rep-a-2", "", nil, nil)
	var rec outbound.Record
	_ = json.Unmarshal(raw, &rec)
	if rec.Status != outbound.StatusDeferred || rec.Reason != outbound.ReasonTokenInvalid {
		t.Fatalf("reply with a refused token: %s %s", rec.Status, rec.Reason)
	}

	// A valid token of ours, but the other business's: refused, nothing stored.
	before, err := o.vault.Token(ctx, a.id)
	if err != nil {
		t.Fatal(err)
	}
	otherTok, err := o.platformGraph().ExchangeCode(ctx, e2eAppID, e2eAppSecret, o.fake.AddBusiness(b.business("Shop "+b.id)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"token": otherTok})
	if st, raw := o.do(http.MethodPut, "/businesses/"+a.id+"/token", "application/json", body, nil); st != http.StatusBadRequest {
		t.Errorf("PUT of another business's token: %d %s, want 400", st, raw)
	}
	if tok, err := o.vault.Token(ctx, a.id); err != nil || tok != before {
		t.Errorf("another business's token was stored for %s (err %v)", a.id, err)
	}

	// The business's own new token: accepted, and the hold goes with the refused one.
	newTok, err := o.platformGraph().ExchangeCode(ctx, e2eAppID, e2eAppSecret, o.fake.AddBusiness(a.business("Shop "+a.id)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = json.Marshal(map[string]string{"token": newTok})
	if st, raw := o.do(http.MethodPut, "/businesses/"+a.id+"/token", "application/json", body, nil); st != http.StatusNoContent {
		t.Fatalf("PUT token: %d %s", st, raw)
	}
	// The next request (another customer: the held one keeps its own conversation's order)
	// goes to Meta with the new token.
	if st, _ := o.postSigned(textMessage(a.waba, a.phone, mustDisplay(o, a.phone), "16505557777", "", "wamid.rep-a-3", "hi", time.Now()), "application/json"); st != http.StatusOK {
		t.Fatalf("inbound: %d", st)
	}
	req, _ = json.Marshal(map[string]any{"id": "rep-a-3", "senderId": a.phone, "to": "+16505557777", "assistantId": "asst-1", "text": "Yes."})
	o.do(http.MethodPost, "/messages", "application/json", req, nil)
	n := len(o.fake.Sends())
	o.drainOutbound(ctx)
	_, raw = o.do(http.MethodGet, "/messages/rep-a-3", "", nil, nil)
	rec = outbound.Record{}
	_ = json.Unmarshal(raw, &rec)
	sends := o.fake.Sends()
	if rec.Status != outbound.StatusSent || len(sends) != n+1 || sends[n].TokenOwner != a.id {
		t.Errorf("the request after the replacement: %s %s (%d sends, want %d)", rec.Status, rec.Reason, len(sends), n+1)
	}
	assertNoSecrets(t, o, newTok, otherTok)
}

// TestOnboardingRerunLeavesOperatorOffline: an onboarding run again for a number Meta already
// reports registered does not bring a sender the operator took offline back online.
func TestOnboardingRerunLeavesOperatorOffline(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	a := biz{"1311", "2311", "3311"}
	if st, ob := o.onboard(a, o.fake.AddBusiness(a.business("Shop"))); st != http.StatusAccepted || ob.Status != onboarding.StatusDone {
		t.Fatalf("onboarding: %d %s %s", st, ob.Status, ob.Reason)
	}
	body, _ := json.Marshal(map[string]any{"status": "offline"})
	if st, raw := o.do(http.MethodPatch, "/senders/"+a.phone, "application/json", body, nil); st != http.StatusOK {
		t.Fatalf("PATCH offline: %d %s", st, raw)
	}
	st, ob := o.onboard(a, o.fake.AddBusiness(a.business("Shop")))
	if st != http.StatusAccepted || ob.Status != onboarding.StatusDone {
		t.Fatalf("onboarding again: %d %s %s", st, ob.Status, ob.Reason)
	}
	if _, snd := o.getSender(a.phone); snd.Status != sender.StatusOffline {
		t.Errorf("sender after the re-run: %s, want offline (the operator's)", snd.Status)
	}
}
