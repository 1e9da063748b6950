package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/testenv"
)

// platformGraph is a Graph client with the platform token, to prepare Meta's side in tests.
func (o *onb) platformGraph() *graph.Client {
	return graph.New(graph.Options{BaseURL: o.fakeURL, Version: config.DefaultGraphVersion, Token: e2eAccessToken})
}

func (o *onb) retry(id string) (int, onboarding.Onboarding) {
	o.t.Helper()
	st, raw := o.do(http.MethodPost, "/onboardings/"+id+"/retry", "application/json", nil, nil)
	var ob onboarding.Onboarding
	_ = json.Unmarshal(raw, &ob)
	return st, ob
}

// failedStep is the step that stopped an onboarding.
func failedStep(ob onboarding.Onboarding) onboarding.Step {
	for _, s := range ob.Steps {
		if s.State == onboarding.StepFailed || s.State == onboarding.StepRetrying {
			return s
		}
	}
	return onboarding.Step{}
}

// TestOnboardingStepFailures: every step's failure ends in its documented state (onboarding
// failed or retrying at that step with its reason; the sender failed when it exists), and a
// retry recovers the transient ones with the token kept from the exchange.
func TestOnboardingStepFailures(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	ctx := context.Background()
	other := biz{"1999", "2999", "3999"}
	o.fake.AddBusiness(other.business("Someone Else"))

	type tc struct {
		name string
		// prepare sets Meta's side up and returns the code to post and the request's assets.
		prepare   func(b biz) (code string, req biz)
		step      onboarding.StepName
		state     onboarding.StepState
		reason    string
		senderNow sender.Status // "" when no sender must exist
		// retried: the state after POST /retry ("" when retry is not part of the case).
		retried onboarding.Status
	}
	script := func(s graphfake.Script) func(b biz) (string, biz) {
		return func(b biz) (string, biz) {
			code := o.fake.AddBusiness(b.business("Case " + b.id))
			if s.PhoneNumberID == "" && s.Path == graphfake.PathRegister {
				s.PhoneNumberID = b.phone
			}
			if err := o.fake.Script(s); err != nil {
				t.Fatal(err)
			}
			return code, b
		}
	}
	register := func(code, times int) func(b biz) (string, biz) {
		return script(graphfake.Script{Path: graphfake.PathRegister, ErrorCode: code, Times: times})
	}
	cases := []tc{
		{name: "bad code", prepare: func(b biz) (string, biz) { o.fake.AddBusiness(b.business("x")); return "never-issued-code", b },
			step: onboarding.StepExchangeCode, state: onboarding.StepFailed, reason: onboarding.ReasonCodeInvalid},
		{name: "reused code", prepare: func(b biz) (string, biz) {
			code := o.fake.AddBusiness(b.business("x"))
			if _, err := o.platformGraph().ExchangeCode(ctx, e2eAppID, e2eAppSecret, code); err != nil {
				t.Fatal(err)
			}
			return code, b
		}, step: onboarding.StepExchangeCode, state: onboarding.StepFailed, reason: onboarding.ReasonCodeInvalid},
		{name: "token without the WABA", prepare: func(b biz) (string, biz) {
			return o.fake.AddBusiness(b.business("x")), biz{b.id, other.waba, other.phone}
		}, step: onboarding.StepCheckAccess, state: onboarding.StepFailed, reason: onboarding.ReasonWABANotGranted},
		{name: "number of another WABA", prepare: func(b biz) (string, biz) {
			return o.fake.AddBusiness(b.business("x")), biz{b.id, b.waba, other.phone}
		}, step: onboarding.StepCheckAccess, state: onboarding.StepFailed, reason: onboarding.ReasonNumberNotInWABA},
		{name: "another business's id", prepare: func(b biz) (string, biz) {
			return o.fake.AddBusiness(b.business("x")), biz{other.id, b.waba, b.phone}
		}, step: onboarding.StepCheckAccess, state: onboarding.StepFailed, reason: onboarding.ReasonBusinessMismatch},
		{name: "subscribe refused", prepare: script(graphfake.Script{Path: "*/subscribed_apps", ErrorCode: 100}),
			step: onboarding.StepSubscribeApp, state: onboarding.StepFailed, reason: onboarding.ReasonSubscribeFailed},
		{name: "subscribe unavailable", prepare: script(graphfake.Script{Path: "*/subscribed_apps", ErrorCode: 2, Times: 3}),
			step: onboarding.StepSubscribeApp, state: onboarding.StepRetrying, reason: onboarding.ReasonUnavailable, retried: onboarding.StatusDone},
		{name: "register wrong PIN 133005", prepare: register(133005, 1), step: onboarding.StepRegister, state: onboarding.StepFailed,
			reason: onboarding.ReasonWrongPIN, senderNow: sender.StatusFailed, retried: onboarding.StatusDone},
		{name: "register verify first 133006", prepare: register(133006, 1), step: onboarding.StepRegister, state: onboarding.StepFailed,
			reason: onboarding.ReasonVerifyFirst, senderNow: sender.StatusFailed},
		{name: "register too many guesses 133008", prepare: register(133008, 1), step: onboarding.StepRegister, state: onboarding.StepFailed,
			reason: onboarding.ReasonTooManyPINGuesses, senderNow: sender.StatusFailed},
		{name: "register deregistration failed 133000", prepare: register(133000, 1), step: onboarding.StepRegister, state: onboarding.StepFailed,
			reason: onboarding.ReasonDeregisterFailed, senderNow: sender.StatusFailed},
		{name: "register limit 133016", prepare: register(133016, 1), step: onboarding.StepRegister, state: onboarding.StepFailed,
			reason: onboarding.ReasonRegisterLimit, senderNow: sender.StatusFailed},
		{name: "register too fast 133009", prepare: register(133009, 3), step: onboarding.StepRegister, state: onboarding.StepRetrying,
			reason: onboarding.ReasonPINTooFast, senderNow: sender.StatusConnecting, retried: onboarding.StatusDone},
		{name: "register recently deleted 133015", prepare: register(133015, 1), step: onboarding.StepRegister, state: onboarding.StepRetrying,
			reason: onboarding.ReasonRecentlyDeleted, senderNow: sender.StatusConnecting, retried: onboarding.StatusDone},
		{name: "register server error", prepare: register(131000, 3), step: onboarding.StepRegister, state: onboarding.StepRetrying,
			reason: onboarding.ReasonUnavailable, senderNow: sender.StatusConnecting, retried: onboarding.StatusDone},
		{name: "register answer lost", prepare: script(graphfake.Script{Path: graphfake.PathRegister, Drop: true, Times: 3}),
			step: onboarding.StepRegister, state: onboarding.StepRetrying, reason: onboarding.ReasonUnavailable,
			senderNow: sender.StatusConnecting, retried: onboarding.StatusDone},
		{name: "ten registers in 72 h", prepare: func(b biz) (string, biz) {
			code := o.fake.AddBusiness(b.business("x"))
			for range 10 {
				_ = o.platformGraph().Register(ctx, b.phone, "000000")
			}
			o.fake.UpdatePhoneNumber(b.phone, func(s *graphfake.PhoneNumberState) { s.Status = "PENDING" })
			return code, b
		}, step: onboarding.StepRegister, state: onboarding.StepFailed, reason: onboarding.ReasonRegisterLimit, senderNow: sender.StatusFailed},
		{name: "number already has another PIN", prepare: func(b biz) (string, biz) {
			code := o.fake.AddBusiness(b.business("x"))
			if err := o.platformGraph().SetPIN(ctx, b.phone, "424242"); err != nil {
				t.Fatal(err)
			}
			return code, b
		}, step: onboarding.StepRegister, state: onboarding.StepFailed, reason: onboarding.ReasonWrongPIN, senderNow: sender.StatusFailed},
	}
	var codes []string
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := biz{fmt.Sprint(1100 + i), fmt.Sprint(2100 + i), fmt.Sprint(3100 + i)}
			code, req := c.prepare(b)
			codes = append(codes, code)
			st, ob := o.onboard(req, code)
			if st != http.StatusAccepted {
				t.Fatalf("POST /onboardings: %d", st)
			}
			fs := failedStep(ob)
			if fs.Name != c.step || fs.State != c.state || fs.Reason != c.reason || string(ob.Reason) != c.reason {
				t.Fatalf("stopped at %s %s %q (onboarding %s %q), want %s %s %q", fs.Name, fs.State, fs.Reason, ob.Status, ob.Reason, c.step, c.state, c.reason)
			}
			wantStatus := onboarding.StatusFailed
			if c.state == onboarding.StepRetrying {
				wantStatus = onboarding.StatusRetrying
			}
			if ob.Status != wantStatus {
				t.Errorf("onboarding status %s, want %s", ob.Status, wantStatus)
			}
			if c.step == onboarding.StepCheckAccess {
				if _, err := o.vault.Pending(ctx, ob.ID); !errors.Is(err, persist.ErrNotFound) {
					t.Errorf("a token that failed the check is kept: %v", err)
				}
				if _, err := o.vault.Token(ctx, req.id); err == nil && req.id != other.id {
					t.Error("a token that failed the check became the business's")
				}
			}
			sst, snd := o.getSender(req.phone)
			switch {
			case c.senderNow == "" && sst != http.StatusNotFound && req.phone == b.phone:
				t.Errorf("a sender exists after a failure before it is created: %d %s", sst, snd.Status)
			case c.senderNow != "" && snd.Status != c.senderNow:
				t.Errorf("sender %s, want %s", snd.Status, c.senderNow)
			case c.senderNow == sender.StatusFailed && !strings.Contains(snd.StatusHistory[len(snd.StatusHistory)-1].Reason, c.reason):
				t.Errorf("sender history does not say why: %+v", snd.StatusHistory[len(snd.StatusHistory)-1])
			}
			if c.retried == "" {
				return
			}
			if c.reason == onboarding.ReasonWrongPIN {
				// The operator sets a new PIN through Meta, then retries.
				if st, raw := o.do(http.MethodPost, "/senders/"+b.phone+"/pin", "application/json", []byte(`{}`), nil); st != http.StatusOK {
					t.Fatalf("set PIN: %d %s", st, raw)
				}
			}
			exchanges := countPath(o.fake.Requests(), "oauth/access_token")
			st, ob = o.retry(ob.ID)
			if st != http.StatusAccepted || ob.Status != c.retried {
				t.Fatalf("retry: %d %s %q", st, ob.Status, ob.Reason)
			}
			if n := countPath(o.fake.Requests(), "oauth/access_token"); n != exchanges {
				t.Error("retry exchanged a code again instead of using the kept token")
			}
			if _, snd := o.getSender(b.phone); snd.Status != sender.StatusOnline {
				t.Errorf("sender after retry: %s", snd.Status)
			}
			if pin, _ := o.vault.PIN(ctx, b.phone); pin == "" || pin != o.fake.PIN(b.phone) {
				t.Error("kept PIN differs from Meta's after the retry")
			}
		})
	}
	t.Run("retry of a failed exchange needs the code", func(t *testing.T) {
		st, _ := o.retry(onboarding.IDFor("never-issued-code"))
		if st != http.StatusConflict {
			t.Errorf("retry: %d, want 409", st)
		}
	})
	assertNoSecrets(t, o, codes...)
}
