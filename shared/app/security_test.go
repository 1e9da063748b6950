package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// TestNoSecretsInAnyOutput pins SECURITY.md's logging promise across all four functions as
// they are composed for Lambda and `make run`: a whole flow (sender created and verified with a
// code and a PIN, signed and unsigned webhooks with message texts, free-form and template sends,
// a send refused for an expired token, a reconciler run) at DEBUG level, and no log or metric
// line, and no API answer, carries the app secret, the verify token, the access token, a
// verification code, a PIN, or any message text.
func TestNoSecretsInAnyOutput(t *testing.T) {
	e := newE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const (
		pnid, waba, display = "106540352242922", "102290129340398", "40721234567"
		waID, userID        = "447400123456", "GB.13491208655302741918"
		pin, wrongCode      = "564738", "271828"
	)
	texts := []string{"Body-Secret-7781 hello", "Caption-Secret-5512", "Unsigned-Secret-4410",
		"Outbound-Secret-9921", "Template-Param-Secret-6620", "Outbound-Secret-TokenFail-3310"}

	// Admin API: a sender, verified with a wrong code, then the right one and a PIN.
	e.fake.SetPhoneNumber(pnid, graphfake.PhoneNumberState{DisplayPhoneNumber: display, Status: "PENDING", CodeVerificationStatus: "NOT_VERIFIED"})
	mustStatus(t, e, http.StatusCreated, http.MethodPost, "/senders", `{"phoneNumber":"+`+display+`","phoneNumberId":"`+pnid+`","wabaId":"`+waba+`","type":"external","displayName":"Security Test"}`)
	mustStatus(t, e, http.StatusOK, http.MethodPost, "/senders/"+pnid+"/verification", `{"method":"sms","language":"en"}`)
	if st, _ := e.do(http.MethodPost, "/senders/"+pnid+"/verification/confirm", "application/json", []byte(`{"code":"`+wrongCode+`"}`), nil); st < 400 || st >= 500 {
		t.Fatalf("wrong code answered %d, want 4xx", st)
	}
	mustStatus(t, e, http.StatusOK, http.MethodPost, "/senders/"+pnid+"/verification/confirm", `{"code":"`+e2eVerifyCode+`","pin":"`+pin+`"}`)
	mustStatus(t, e, http.StatusOK, http.MethodGet, "/senders/"+pnid, "")

	// Webhooks: a text and a captioned image (signed), the same texts unsigned and badly signed.
	now := time.Now()
	text := textMessage(waba, pnid, display, waID, userID, "wamid.SEC1", texts[0], now.Add(-time.Minute))
	image := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"` + display + `","phone_number_id":"` + pnid + `"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"` + waID + `","user_id":"` + userID + `"}],"messages":[{"from":"` + waID + `","id":"wamid.SEC2","timestamp":"` + jsonTS(now) + `","type":"image","image":{"id":"1234","mime_type":"image/jpeg","sha256":"x","caption":"` + texts[1] + `"}}]}}]}]}`)
	for _, body := range [][]byte{text, image} {
		if st, _ := e.postSigned(body, "application/json"); st != http.StatusOK {
			t.Fatalf("signed webhook: %d", st)
		}
	}
	unsigned := textMessage(waba, pnid, display, waID, userID, "wamid.SEC3", texts[2], now)
	if st, _ := e.do(http.MethodPost, "/webhook", "application/json", unsigned, nil); st != http.StatusUnauthorized {
		t.Fatalf("unsigned webhook: %d, want 401", st)
	}
	if st, _ := e.do(http.MethodPost, "/webhook", "application/json", unsigned,
		map[string]string{whatsapp.SignatureHeader: whatsapp.Sign([]byte("not-the-secret"), unsigned)}); st != http.StatusUnauthorized {
		t.Fatalf("badly signed webhook: %d, want 401", st)
	}
	e.alive()

	// Outbound: free-form and template sends, then one refused for an expired token (190).
	mustStatus(t, e, http.StatusAccepted, http.MethodPost, "/messages", `{"id":"sec-out-1","senderId":"`+pnid+`","to":"+`+waID+`","text":"`+texts[3]+`"}`)
	mustStatus(t, e, http.StatusAccepted, http.MethodPost, "/messages", `{"id":"sec-out-2","senderId":"`+pnid+`","to":"+`+waID+`","template":{"name":"order_update","language":"en_US","category":"utility","components":[{"type":"body","parameters":[{"type":"text","text":"`+texts[4]+`"}]}]}}`)
	e.drainOutbound(ctx)
	if err := e.fake.Script(graphfake.Script{Path: graphfake.PathMessages, ErrorCode: 190}); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, e, http.StatusAccepted, http.MethodPost, "/messages", `{"id":"sec-out-3","senderId":"`+pnid+`","to":"+`+waID+`","text":"`+texts[5]+`"}`)
	e.drainOutbound(ctx)
	if len(e.fake.Sends()) < 2 {
		t.Fatalf("the fake received %d sends, want 2", len(e.fake.Sends()))
	}
	if err := e.reconcile(ctx); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	_ = e.inboundBodies(ctx) // the forwarded events carry texts by design: they are not logs

	out := scrubTimes(e.output())
	for _, marker := range []string{"webhook signature rejected", "outbound: sent"} {
		if !strings.Contains(out, marker) {
			t.Fatalf("log line %q not captured: the test would prove nothing\n%s", marker, out)
		}
	}
	forbidden := map[string]string{
		"app secret": e2eAppSecret, "verify token": e2eVerifyToken, "access token": e2eAccessToken,
		"bearer header": "Bearer ", "verification code": e2eVerifyCode, "wrong code": wrongCode, "PIN": pin,
	}
	for _, s := range texts {
		forbidden["message text "+s] = s
	}
	for what, s := range forbidden {
		if strings.Contains(out, s) {
			t.Errorf("the functions' output contains the %s %q", what, s)
		}
	}
	answers := e.responses.String()
	for what, s := range map[string]string{"verification code": e2eVerifyCode, "PIN": pin, "access token": e2eAccessToken} {
		if strings.Contains(answers, s) {
			t.Errorf("an API answer contains the %s", what)
		}
	}
}

// TestEmptyAppSecretStopsTheColdStart: an empty app secret is a start-up error, never "skip
// the signature check".
func TestEmptyAppSecretStopsTheColdStart(t *testing.T) {
	e := newE2E(t) // for a store and queues
	_ = e
	deps := app.Deps{Config: config.Config{OutboundQueueURL: "q", InboundQueueURL: "q",
		Secrets: config.Secrets{VerifyToken: "v"}}, Store: e.st, SQS: e.sq, Log: logging.New(nil, "ERROR"), Now: time.Now}
	if _, err := app.Webhook(deps); err == nil {
		t.Fatal("app.Webhook accepted an empty app secret")
	}
}

func mustStatus(t *testing.T, e *e2e, want int, method, path, body string) []byte {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	st, got := e.do(method, path, ct, b, nil)
	if st != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, st, got, want)
	}
	return got
}

func jsonTS(t time.Time) string { return strings.TrimSpace(string(mustJSON(t.Unix()))) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// scrubTimes drops the time fields of JSON lines (log "time", EMF "_aws" timestamps): digits
// there could match a six-digit code by chance.
func scrubTimes(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			delete(m, "time")
			delete(m, "_aws")
			line = string(mustJSON(m))
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestNoSecretsInOnboardingOutput extends the promise to Embedded Signup: onboardings that
// succeed and fail, a PIN set by an operator, a replaced token and a partner removal, at DEBUG
// level, and no log line and no API answer carries an exchangeable code, a business token or a
// two-step PIN (the fake issues them with distinctive prefixes, so a leak of any is caught).
func TestNoSecretsInOnboardingOutput(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	ctx := context.Background()
	a := biz{"1301", "2301", "3301"}
	code := o.fake.AddBusiness(a.business("Secret Shop"))
	if st, ob := o.onboard(a, code); st != http.StatusAccepted || ob.Status != "done" {
		t.Fatalf("onboarding: %d %s", st, ob.Status)
	}
	o.onboard(a, code) // the same code again
	reused := o.fake.AddBusiness(biz{"1302", "2302", "3302"}.business("x"))
	if _, err := o.platformGraph().ExchangeCode(ctx, e2eAppID, e2eAppSecret, reused); err != nil {
		t.Fatal(err)
	}
	o.onboard(biz{"1302", "2302", "3302"}, reused) // fails: code_invalid
	const operatorPIN = "771903"
	mustStatus(t, o.e2e, http.StatusOK, http.MethodPost, "/senders/"+a.phone+"/pin", `{"pin":"`+operatorPIN+`"}`)
	mustStatus(t, o.e2e, http.StatusOK, http.MethodPost, "/senders/"+a.phone+"/pin", `{}`)
	generatedPIN := o.fake.PIN(a.phone)
	newTok, err := o.platformGraph().ExchangeCode(ctx, e2eAppID, e2eAppSecret, o.fake.AddBusiness(a.business("Secret Shop")))
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, o.e2e, http.StatusNoContent, http.MethodPut, "/businesses/"+a.id+"/token", `{"token":"`+newTok+`"}`)
	o.replyThrough(ctx, a, "wamid.sec-onb-1", "sec-onb-1")

	out := o.output()
	if !strings.Contains(out, "onboarding done") {
		t.Fatalf("onboarding log lines not captured: the test would prove nothing\n%s", out)
	}
	answers := o.responses.String()
	for what, s := range map[string]string{"code": code, "reused code": reused, "operator PIN": operatorPIN,
		"generated PIN": generatedPIN, "replacement token": newTok, "code prefix": "fake-code-",
		"token prefix": "fake-biz-token-", "bearer header": "Bearer ", "app secret": e2eAppSecret} {
		if s == "" {
			t.Fatalf("%s is empty: the test would prove nothing", what)
		}
		if strings.Contains(out, s) {
			t.Errorf("the functions' output contains the %s", what)
		}
		if strings.Contains(answers, s) {
			t.Errorf("an API answer contains the %s", what)
		}
	}
	// Stored sealed: no item of the table holds a token or PIN in plaintext.
	dump := scanTable(t, o)
	for what, s := range map[string]string{"token": newTok, "PIN": generatedPIN} {
		if strings.Contains(dump, s) {
			t.Errorf("the table holds the %s in plaintext", what)
		}
	}
}
