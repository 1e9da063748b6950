package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/testenv"
)

// dyingStore loses the process at the n-th save: the step before it happened at Meta and in
// the vault, but its record never reached the table.
type dyingStore struct {
	onboarding.Store
	dieAt, saves int
}

var errDied = errors.New("the process died")

func (d *dyingStore) SaveOnboarding(ctx context.Context, o *onboarding.Onboarding) error {
	d.saves++
	if d.saves == d.dieAt {
		return errDied
	}
	return d.Store.SaveOnboarding(ctx, o)
}

// TestOnboardingSurvivesDeathBetweenSteps: whichever step's record is lost, posting the same
// code again (before the exchange was recorded) or retrying (after) completes the onboarding
// with the one token exchanged, the same PIN and one sender.
func TestOnboardingSurvivesDeathBetweenSteps(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	ctx := context.Background()
	g := graph.New(graph.Options{BaseURL: o.fakeURL, Version: config.DefaultGraphVersion, Token: e2eAccessToken, TokenFor: o.vault.TokenFor})
	var codes []string
	for dieAt := 1; dieAt <= len(onboarding.Steps); dieAt++ {
		t.Run(fmt.Sprintf("dies after %s", onboarding.Steps[dieAt-1]), func(t *testing.T) {
			b := biz{fmt.Sprint(1400 + dieAt), fmt.Sprint(2400 + dieAt), fmt.Sprint(3400 + dieAt)}
			code := o.fake.AddBusiness(b.business("Crash " + b.id))
			codes = append(codes, code)
			svc, err := onboarding.New(onboarding.Options{Store: &dyingStore{Store: o.st, dieAt: dieAt}, Senders: app.OnboardingSenders{Store: o.st},
				Secrets: o.vault, Graph: g, AppID: e2eAppID, AppSecret: e2eAppSecret})
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.Start(ctx, onboarding.Request{Code: code, WABAID: b.waba, PhoneNumberID: b.phone, BusinessID: b.id,
				Type: sender.TypeExternal, Assistants: []string{"asst-1"}})
			if !errors.Is(err, errDied) {
				t.Fatalf("Start: %v, want the death", err)
			}
			exchanges := countPath(o.fake.Requests(), "oauth/access_token")
			// A new instance: the page posts again (its request timed out), then an operator retries.
			st, ob := o.onboard(b, code)
			if st != http.StatusAccepted {
				t.Fatalf("POST again: %d", st)
			}
			if ob.Status != onboarding.StatusDone {
				st, ob = o.retry(ob.ID)
				if st != http.StatusAccepted || ob.Status != onboarding.StatusDone {
					t.Fatalf("retry: %d %s %q at %+v", st, ob.Status, ob.Reason, failedStep(ob))
				}
			}
			if n := countPath(o.fake.Requests(), "oauth/access_token"); n != exchanges {
				t.Errorf("the code was exchanged again (%d → %d)", exchanges, n)
			}
			if _, snd := o.getSender(b.phone); snd.Status != sender.StatusOnline {
				t.Errorf("sender %s", snd.Status)
			}
			if pin, _ := o.vault.PIN(ctx, b.phone); pin == "" || pin != o.fake.PIN(b.phone) {
				t.Error("the kept PIN is not Meta's")
			}
		})
	}
	assertNoSecrets(t, o, codes...)
}

// TestScheduleResumesRetryingOnboardings: an onboarding left retrying by a transient failure is
// resumed by the reconciler's schedule once its next attempt is due, not before.
func TestScheduleResumesRetryingOnboardings(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	ctx := context.Background()
	b := biz{"1501", "2501", "3501"}
	code := o.fake.AddBusiness(b.business("Later"))
	if err := o.fake.Script(graphfakeRegisterFailure(b.phone, 131000, 3)); err != nil {
		t.Fatal(err)
	}
	if st, ob := o.onboard(b, code); st != http.StatusAccepted || ob.Status != onboarding.StatusRetrying {
		t.Fatalf("onboarding: %d %s", st, ob.Status)
	}
	g := graph.New(graph.Options{BaseURL: o.fakeURL, Version: config.DefaultGraphVersion, Token: e2eAccessToken, TokenFor: o.vault.TokenFor})
	at := func(offset time.Duration) *onboarding.Service {
		svc, err := onboarding.New(onboarding.Options{Store: o.st, Senders: app.OnboardingSenders{Store: o.st}, Secrets: o.vault, Graph: g,
			AppID: e2eAppID, AppSecret: e2eAppSecret, Now: func() time.Time { return time.Now().Add(offset) }})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	if n, err := at(0).ResumeDue(ctx, 10); err != nil || n != 0 {
		t.Fatalf("resumed before it was due: %d %v", n, err)
	}
	if n, err := at(3*time.Minute).ResumeDue(ctx, 10); err != nil || n != 1 {
		t.Fatalf("ResumeDue = %d, %v; want 1", n, err)
	}
	if _, snd := o.getSender(b.phone); snd.Status != sender.StatusOnline {
		t.Errorf("sender after the scheduled resume: %s", snd.Status)
	}
	if n, _ := at(10*time.Minute).ResumeDue(ctx, 10); n != 0 {
		t.Errorf("a done onboarding is still listed as due (%d)", n)
	}
	assertNoSecrets(t, o, code)
}

func graphfakeRegisterFailure(phone string, code, times int) graphfake.Script {
	return graphfake.Script{Path: graphfake.PathRegister, PhoneNumberID: phone, ErrorCode: code, Times: times}
}
