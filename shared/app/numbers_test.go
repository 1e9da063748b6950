package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestPlatformNumbersComposed runs platform numbers as the senders and reconciler functions are
// composed for Lambda and `make run` (configuration, the Twilio client, the carrier webhook next
// to the admin API): bought, verified by the code Meta "sends" through the carrier, claimed,
// online, deleted and returned. No log line or answer carries a code, the carrier's auth token,
// the SMS text, the PIN or the phone number.
func TestPlatformNumbersComposed(t *testing.T) {
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	table := testenv.Table(t, ddb)
	cf := carrierfake.New(carrierfake.Options{AuthToken: "carrier-token-Secret-8812"})
	carrierSrv := httptest.NewServer(cf)
	t.Cleanup(carrierSrv.Close)
	fake := graphfake.New(graphfake.Options{Token: e2eAccessToken})
	var mu sync.Mutex
	var codes []string
	fake.SetCodeSender(func(ctx context.Context, e164, method, code string) error {
		mu.Lock()
		codes = append(codes, code)
		mu.Unlock()
		return cf.SendCode(ctx, e164, method, code)
	})
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

	cfg := config.Config{
		TableName: table, GraphBaseURL: fakeURL, GraphVersion: config.DefaultGraphVersion, LogLevel: "DEBUG",
		Secrets: config.Secrets{AccessToken: e2eAccessToken, CarrierAccountSID: cf.AccountSID(), CarrierAuthToken: cf.AuthToken()},
		Numbers: config.Numbers{Mode: config.PoolPreVerified, BusinessID: "555000111", CarrierBaseURL: carrierSrv.URL,
			WebhookBaseURL: srv.URL, Hold: config.DefaultNumberHold, CodeTimeout: config.DefaultNumberCodeTimeout},
	}
	logs := &syncBuffer{}
	deps := app.Deps{Config: cfg, Store: store.New(ddb, table, nil), Graph: app.NewGraphFor(cfg, nil), Log: logging.New(logs, "DEBUG"), Now: time.Now}
	admin, err := app.Senders(deps)
	if err != nil {
		t.Fatal(err)
	}
	reconcile, err := app.Reconciler(deps)
	if err != nil {
		t.Fatal(err)
	}
	hmu.Lock()
	handler = admin
	hmu.Unlock()

	var answers strings.Builder
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		answers.Write(raw)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, raw, want)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m
	}
	const num, pin = "+40721000003", "564120"
	call(http.MethodPost, "/numbers", `{"requestId":"buy-app-1","phoneNumber":"`+num+`"}`, http.StatusCreated)
	deadline := time.Now().Add(10 * time.Second)
	for call(http.MethodGet, "/numbers/"+num, "", http.StatusOK)["state"] != "verified" {
		if time.Now().After(deadline) {
			t.Fatal("never verified")
		}
		time.Sleep(25 * time.Millisecond)
	}
	snd := call(http.MethodPost, "/numbers/"+num+"/claim", `{"businessId":"777000111","wabaId":"102290129340398",
		"phoneNumberId":"106540352299003","displayName":"Composed","assistants":["asst-1"],"pin":"`+pin+`"}`, http.StatusOK)
	if snd["status"] != "online" || snd["type"] != "platform" {
		t.Fatalf("sender: %v", snd)
	}
	// A forged SMS is refused before anything is read.
	form := url.Values{"MessageSid": {"SMforged"}, "To": {num}, "Body": {"code 000-000"}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/carrier/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(carrier.SignatureHeader, carrier.Sign("wrong", srv.URL+"/carrier/sms", form))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("forged sms: %v %v", res, err)
	}
	call(http.MethodDelete, "/senders/106540352299003", "", http.StatusOK)
	if n := call(http.MethodGet, "/numbers/"+num, "", http.StatusOK); n["state"] != "unverified" || n["returnedAt"] == nil {
		t.Fatalf("returned: %v", n)
	}
	if err := reconcile(context.Background()); err != nil {
		t.Fatalf("reconcile: %v", err)
	}

	mu.Lock()
	secrets := append([]string{cf.AuthToken(), pin, "Your WhatsApp", "000-000"}, codes...)
	mu.Unlock()
	if len(secrets) < 5 {
		t.Fatal("no code was sent")
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) || strings.Contains(answers.String(), s) {
			t.Errorf("%q appears in a log line or an answer", s)
		}
	}
	// The admin API names the number it was asked about; the logs never do.
	if strings.Contains(logs.String(), strings.TrimPrefix(num, "+")) {
		t.Error("the phone number was logged")
	}
}
