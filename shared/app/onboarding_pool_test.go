package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestOnboardingClaimsAPoolNumber: a business picks one of our verified pool numbers in
// Embedded Signup; POST /onboardings (asking for an external sender) ends with a sender of type
// platform, online, and the pool number claimed by that business with the phone number id Meta
// gave it, all as the senders function is composed (app.Senders wires the pool into onboarding
// as its PoolClaimer). Another business onboarding its own number stays external and claims
// nothing.
func TestOnboardingClaimsAPoolNumber(t *testing.T) {
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	table := testenv.Table(t, ddb)
	cf := carrierfake.New(carrierfake.Options{AuthToken: "carrier-token-Onb-5521"})
	carrierSrv := httptest.NewServer(cf)
	t.Cleanup(carrierSrv.Close)
	fake := graphfake.New(graphfake.Options{Token: e2eAccessToken, AppID: e2eAppID, AppSecret: e2eAppSecret})
	fake.SetCodeSender(cf.SendCode)
	fakeURL := graphfake.Serve(t, fake)

	var handler http.Handler = http.NotFoundHandler()
	var hmu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		h := handler
		hmu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*5 + 1)
	}
	cfg := config.Config{
		TableName: table, GraphBaseURL: fakeURL, GraphVersion: config.DefaultGraphVersion, LogLevel: "DEBUG",
		Secrets: config.Secrets{AccessToken: e2eAccessToken, AppID: e2eAppID, AppSecret: e2eAppSecret,
			CarrierAccountSID: cf.AccountSID(), CarrierAuthToken: cf.AuthToken(),
			CredentialsLocalKey: base64.StdEncoding.EncodeToString(key)},
		Numbers: config.Numbers{Mode: config.PoolPreVerified, BusinessID: "555000111", CarrierBaseURL: carrierSrv.URL,
			WebhookBaseURL: srv.URL, Hold: config.DefaultNumberHold, CodeTimeout: config.DefaultNumberCodeTimeout},
	}
	st := store.New(ddb, table, nil)
	vault, err := app.NewVault(cfg, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	deps := app.Deps{Config: cfg, Store: st, Vault: vault, Log: logging.New(&syncBuffer{}, "DEBUG"), Now: time.Now}.WithGraph()
	if deps.Pool != nil {
		t.Fatal("the test must leave the pool to app.Senders")
	}
	admin, err := app.Senders(deps)
	if err != nil {
		t.Fatal(err)
	}
	hmu.Lock()
	handler = admin
	hmu.Unlock()

	call := func(method, path string, body any, want int, out any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = strings.NewReader(string(raw))
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, raw, want)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	type numberView struct {
		State         string `json:"state"`
		ClaimedBy     string `json:"claimedBy"`
		PhoneNumberID string `json:"phoneNumberId"`
	}

	// Our number: bought, verified hands-free through the carrier.
	const num = "+40721000004"
	call(http.MethodPost, "/numbers", map[string]string{"requestId": "buy-onb-1", "phoneNumber": num}, http.StatusCreated, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n numberView
		call(http.MethodGet, "/numbers/"+num, nil, http.StatusOK, &n)
		if n.State == "verified" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool number never verified: %+v", n)
		}
		time.Sleep(25 * time.Millisecond)
	}

	// The business finishes Embedded Signup with it: Meta gives the number an id in the
	// business's WABA, with the number as its display phone number.
	const business, waba, phoneID = "1009", "2009", "3009"
	ps := graphfake.DefaultPhoneNumber(phoneID)
	ps.DisplayPhoneNumber, ps.Status, ps.VerifiedName = "+40 721 000 004", "PENDING", "Pool Shrub"
	fake.SetPhoneNumber(phoneID, ps)
	code := fake.AddBusiness(graphfake.Business{ID: business, WABAID: waba, PhoneNumberIDs: []string{phoneID}, VerifiedName: "Pool Shrub"})
	// A second business onboards its own number.
	const otherBiz, otherWABA, otherPhone = "1010", "2010", "3010"
	otherCode := fake.AddBusiness(graphfake.Business{ID: otherBiz, WABAID: otherWABA, PhoneNumberIDs: []string{otherPhone}, VerifiedName: "Own Number"})

	for _, c := range []struct {
		code, business, waba, phone string
		wantType                    sender.Type
	}{
		{code, business, waba, phoneID, sender.TypePlatform},
		{otherCode, otherBiz, otherWABA, otherPhone, sender.TypeExternal},
	} {
		var ob onboarding.Onboarding
		call(http.MethodPost, "/onboardings", map[string]any{"code": c.code, "wabaId": c.waba, "phoneNumberId": c.phone,
			"businessId": c.business, "type": "external", "displayName": "typed by the caller", "assistants": []string{"asst-1"}},
			http.StatusAccepted, &ob)
		if ob.Status != onboarding.StatusDone {
			t.Fatalf("onboarding of %s: %+v", c.business, ob)
		}
		var snd sender.Sender
		call(http.MethodGet, "/senders/"+c.phone, nil, http.StatusOK, &snd)
		if snd.Status != sender.StatusOnline || snd.Type != c.wantType || snd.BusinessID != c.business {
			t.Fatalf("sender %s: status %s type %s business %s; want online, %s, %s", c.phone, snd.Status, snd.Type, snd.BusinessID,
				c.wantType, c.business)
		}
	}
	var n numberView
	call(http.MethodGet, "/numbers/"+num, nil, http.StatusOK, &n)
	if n.State != "claimed" || n.ClaimedBy != business || n.PhoneNumberID != phoneID {
		t.Fatalf("pool number after the onboarding: %+v; want claimed by %s as %s", n, business, phoneID)
	}
	if _, err := vault.Token(context.Background(), business); err != nil {
		t.Errorf("the business's token was not kept: %v", err)
	}
}
