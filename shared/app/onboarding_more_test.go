package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/testenv"
)

// poolOf claims the numbers it holds.
type poolOf map[string]bool

func (p poolOf) Claim(_ context.Context, e164, _, _ string) (bool, error) { return p[e164], nil }

// TestOnboardingWithoutNumberAndWithPoolNumber: Embedded Signup's FINISH_ONLY_WABA (no number
// yet) connects the business and its WABA and stops there; a number the platform's pool claims
// becomes a platform sender whatever the caller sent.
func TestOnboardingWithoutNumberAndWithPoolNumber(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	ctx := context.Background()

	onlyWABA := biz{"1601", "2601", ""}
	code := o.fake.AddBusiness(graphfake.Business{ID: onlyWABA.id, WABAID: onlyWABA.waba})
	body, _ := json.Marshal(map[string]any{"code": code, "wabaId": onlyWABA.waba, "businessId": onlyWABA.id, "type": "external"})
	st, raw := o.do(http.MethodPost, "/onboardings", "application/json", body, nil)
	var ob onboarding.Onboarding
	_ = json.Unmarshal(raw, &ob)
	if st != http.StatusAccepted || ob.Status != onboarding.StatusDone {
		t.Fatalf("WABA-only onboarding: %d %s", st, raw)
	}
	for _, s := range ob.Steps {
		want := onboarding.StepSkipped
		if s.Name == onboarding.StepExchangeCode || s.Name == onboarding.StepCheckAccess || s.Name == onboarding.StepSubscribeApp {
			want = onboarding.StepDone
		}
		if s.State != want {
			t.Errorf("step %s: %s, want %s", s.Name, s.State, want)
		}
	}
	if tok, err := o.vault.TokenFor(ctx, onlyWABA.waba); err != nil || tok == "" || !o.fake.Subscribed(onlyWABA.waba) {
		t.Errorf("the WABA is not connected with its business's token (%v)", err)
	}

	pooled := biz{"1602", "2602", "3602"}
	code = o.fake.AddBusiness(pooled.business("Pool Number"))
	ps, _ := o.fake.PhoneNumber(pooled.phone)
	g := graph.New(graph.Options{BaseURL: o.fakeURL, Version: config.DefaultGraphVersion, Token: e2eAccessToken, TokenFor: o.vault.TokenFor})
	svc, err := onboarding.New(onboarding.Options{Store: o.st, Senders: app.OnboardingSenders{Store: o.st}, Secrets: o.vault, Graph: g,
		AppID: e2eAppID, AppSecret: e2eAppSecret, Pool: poolOf{"+" + ps.DisplayPhoneNumber: true}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Start(ctx, onboarding.Request{Code: code, WABAID: pooled.waba, PhoneNumberID: pooled.phone, BusinessID: pooled.id, Type: sender.TypeExternal})
	if err != nil || got.Status != onboarding.StatusDone || got.Type != sender.TypePlatform {
		t.Fatalf("pool onboarding: %+v %v", got, err)
	}
	if _, snd := o.getSender(pooled.phone); snd.Type != sender.TypePlatform || snd.Status != sender.StatusOnline {
		t.Errorf("pool sender: %s %s", snd.Type, snd.Status)
	}
	assertNoSecrets(t, o, code)
}

// TestSetPINAction: POST /senders/{id}/pin sets the PIN at Meta with the sender's business token
// and keeps it; a malformed PIN is 400 and an unknown sender 404, and no answer carries a PIN.
func TestSetPINAction(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	ctx := context.Background()
	b := biz{"1701", "2701", "3701"}
	code := o.fake.AddBusiness(b.business("Pin Shop"))
	if st, ob := o.onboard(b, code); st != http.StatusAccepted || ob.Status != onboarding.StatusDone {
		t.Fatalf("onboarding: %d %s", st, ob.Status)
	}
	before := len(o.fake.Requests())
	mustStatus(t, o.e2e, http.StatusOK, http.MethodPost, "/senders/"+b.phone+"/pin", `{"pin":"246810"}`)
	if pin, _ := o.vault.PIN(ctx, b.phone); pin != "246810" || o.fake.PIN(b.phone) != "246810" {
		t.Error("the PIN set is not both Meta's and kept")
	}
	for _, r := range o.fake.Requests()[before:] {
		if r.TokenOwner != b.id {
			t.Errorf("%s %s used the token of %q", r.Method, r.Path, r.TokenOwner)
		}
	}
	mustStatus(t, o.e2e, http.StatusBadRequest, http.MethodPost, "/senders/"+b.phone+"/pin", `{"pin":"12ab56"}`)
	mustStatus(t, o.e2e, http.StatusNotFound, http.MethodPost, "/senders/3799/pin", `{}`)
	if pin, _ := o.vault.PIN(ctx, b.phone); pin != "246810" {
		t.Error("a refused PIN replaced the kept one")
	}
	assertNoSecrets(t, o, code, "246810")
}
