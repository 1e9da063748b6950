package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

const e2eAppID = "e2e-app-id-771"

// onb is the e2e harness with the credentials vault wired as in production (the local key in
// place of KMS) and the fake's Embedded Signup.
type onb struct {
	*e2e
	vault   *credentials.Vault
	now     func() time.Time
	fakeURL string
}

// newOnboardingE2E composes every function as the mains do, with a vault whose cache expires
// after cacheTTL and a clock tests can move (clock nil: time.Now).
func newOnboardingE2E(t *testing.T, cacheTTL time.Duration, clock func() time.Time) *onb {
	t.Helper()
	ddb := testenv.DynamoDB(t)
	sq := testenv.SQS(t)
	table := testenv.Table(t, ddb)
	out, in, _ := testenv.Queues(t, sq)
	fake := graphfake.New(graphfake.Options{Token: e2eAccessToken, VerifyCode: e2eVerifyCode, AppID: e2eAppID, AppSecret: e2eAppSecret})
	fakeURL := graphfake.Serve(t, fake)
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	cfg := config.Config{
		TableName: table, OutboundQueueURL: out, InboundQueueURL: in,
		GraphBaseURL: fakeURL, GraphVersion: config.DefaultGraphVersion,
		FreeEntryWindow: config.DefaultFreeEntryWindow, ThroughputPerSecond: config.DefaultThroughput,
		LogLevel: "DEBUG",
		Secrets: config.Secrets{AppSecret: e2eAppSecret, VerifyToken: e2eVerifyToken, AccessToken: e2eAccessToken,
			AppID: e2eAppID, CredentialsLocalKey: base64.StdEncoding.EncodeToString(key)},
		CredentialsCacheTTL: cacheTTL,
	}
	if clock == nil {
		clock = time.Now
	}
	st := store.New(ddb, table, nil)
	vault, err := app.NewVault(cfg, st, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, fake: fake, logs: &syncBuffer{}, st: st, sq: sq, outbound: out, inbound: in}
	deps := app.Deps{Config: cfg, Store: st, SQS: sq, Graph: app.NewGraphFor(cfg, vault), Vault: vault,
		Log: logging.New(e.logs, "DEBUG"), Now: time.Now}
	f, err := os.CreateTemp(t.TempDir(), "stdout-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	e.stdout = f
	stdoutMu.Lock()
	saved := os.Stdout
	os.Stdout = f
	webhook, werr := app.Webhook(deps)
	admin, aerr := app.Senders(deps)
	consume, cerr := app.Outbound(deps)
	reconcile, rerr := app.Reconciler(deps)
	os.Stdout = saved
	stdoutMu.Unlock()
	for _, err := range []error{werr, aerr, cerr, rerr} {
		if err != nil {
			t.Fatalf("compose: %v", err)
		}
	}
	e.consume, e.reconcile = consume, reconcile
	mux := http.NewServeMux()
	mux.Handle("/webhook", webhook)
	for _, p := range []string{"/senders", "/senders/", "/messages", "/messages/", "/templates", "/onboardings", "/onboardings/", "/businesses/"} {
		mux.Handle(p, admin)
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return &onb{e2e: e, vault: vault, now: clock, fakeURL: fakeURL}
}

// biz is one business of the tests.
type biz struct{ id, waba, phone string }

func (b biz) business(name string) graphfake.Business {
	return graphfake.Business{ID: b.id, WABAID: b.waba, PhoneNumberIDs: []string{b.phone}, VerifiedName: name}
}

// onboard posts the onboarding of b with code and decodes the answer.
func (o *onb) onboard(b biz, code string) (int, onboarding.Onboarding) {
	o.t.Helper()
	body, _ := json.Marshal(map[string]any{"code": code, "wabaId": b.waba, "phoneNumberId": b.phone,
		"businessId": b.id, "type": "external", "displayName": "typed by the caller", "assistants": []string{"asst-1"}})
	st, raw := o.do(http.MethodPost, "/onboardings", "application/json", body, nil)
	var ob onboarding.Onboarding
	_ = json.Unmarshal(raw, &ob)
	return st, ob
}

func (o *onb) getSender(id string) (int, sender.Sender) {
	o.t.Helper()
	st, raw := o.do(http.MethodGet, "/senders/"+id, "", nil, nil)
	var s sender.Sender
	_ = json.Unmarshal(raw, &s)
	return st, s
}

// replyThrough has a customer write to the sender and the assistant reply; it returns the
// fake's record of the reply's send.
func (o *onb) replyThrough(ctx context.Context, b biz, wamid, reqID string) graphfake.Send {
	o.t.Helper()
	ps, _ := o.fake.PhoneNumber(b.phone)
	st, _ := o.postSigned(textMessage(b.waba, b.phone, ps.DisplayPhoneNumber, "16505551234", "", wamid, "Is my order shipped?", time.Now()), "application/json")
	if st != http.StatusOK {
		o.t.Fatalf("inbound webhook: %d", st)
	}
	req, _ := json.Marshal(map[string]any{"id": reqID, "senderId": b.phone, "to": "+16505551234", "assistantId": "asst-1", "text": "Yes, it left this morning."})
	if st, raw := o.do(http.MethodPost, "/messages", "application/json", req, nil); st != http.StatusAccepted && st != http.StatusOK {
		o.t.Fatalf("POST /messages: %d %s", st, raw)
	}
	before := len(o.fake.Sends())
	o.drainOutbound(ctx)
	sends := o.fake.Sends()
	if len(sends) != before+1 {
		_, rec := o.do(http.MethodGet, "/messages/"+reqID, "", nil, nil)
		o.t.Fatalf("sends after the reply: %d, want %d; record %s", len(sends), before+1, rec)
	}
	return sends[len(sends)-1]
}

// TestOnboardingEndToEnd drives Embedded Signup through the admin API and the webhook for two
// businesses side by side: each onboarding ends online, and each reply is sent with its own
// business's token, never the other's nor the platform's.
func TestOnboardingEndToEnd(t *testing.T) {
	testenv.Integration(t)
	o := newOnboardingE2E(t, 0, nil)
	ctx := context.Background()
	a := biz{"1001", "2001", "3001"}
	b := biz{"1002", "2002", "3002"}
	codeA := o.fake.AddBusiness(a.business("Lucky Shrub"))
	codeB := o.fake.AddBusiness(b.business("Green Leaf"))

	// Meta's PARTNER_ADDED usually arrives before the page posts the onboarding.
	partnerAdded := `{"object":"whatsapp_business_account","entry":[{"id":"` + a.waba + `","time":` + strconvI(time.Now().Unix()) + `,"changes":[{"field":"account_update","value":{"event":"PARTNER_ADDED","waba_info":{"waba_id":"` + a.waba + `","owner_business_id":"` + a.id + `"}}}]}]}`
	if st, raw := o.postSigned([]byte(partnerAdded), "application/json"); st != http.StatusOK {
		t.Fatalf("PARTNER_ADDED: %d %s", st, raw)
	}

	for _, c := range []struct {
		b    biz
		code string
		name string
	}{{a, codeA, "Lucky Shrub"}, {b, codeB, "Green Leaf"}} {
		st, ob := o.onboard(c.b, c.code)
		if st != http.StatusAccepted || ob.Status != onboarding.StatusDone {
			t.Fatalf("onboarding %s: %d %+v", c.b.id, st, ob)
		}
		for _, s := range ob.Steps {
			if s.State != onboarding.StepDone {
				t.Errorf("onboarding %s: step %s is %s (%s)", c.b.id, s.Name, s.State, s.Reason)
			}
		}
		st, snd := o.getSender(c.b.phone)
		if st != http.StatusOK || snd.Status != sender.StatusOnline || snd.DisplayName != c.name || snd.BusinessID != c.b.id || snd.WABAID != c.b.waba {
			t.Fatalf("sender %s after onboarding: %d %+v", c.b.phone, st, snd)
		}
		for _, h := range snd.StatusHistory {
			if h.Source == sender.SourceOperator && h.Actor == "" {
				t.Errorf("sender %s: history entry %q names no actor", c.b.phone, h.Reason)
			}
		}
		if !o.fake.Subscribed(c.b.waba) {
			t.Errorf("app not subscribed to %s", c.b.waba)
		}
		pin, err := o.vault.PIN(ctx, c.b.phone)
		if err != nil || pin == "" || pin != o.fake.PIN(c.b.phone) {
			t.Errorf("kept PIN of %s does not match Meta's (err %v)", c.b.phone, err)
		}
	}
	// The partner event is matched to the onboarding that followed it.
	_, raw := o.do(http.MethodGet, "/onboardings/"+onboarding.IDFor(codeA), "", nil, nil)
	var obA onboarding.Onboarding
	_ = json.Unmarshal(raw, &obA)
	if len(obA.PartnerEvents) != 1 || obA.PartnerEvents[0].Event != "PARTNER_ADDED" || obA.PartnerEvents[0].OwnerBusinessID != a.id {
		t.Errorf("PARTNER_ADDED not matched to the onboarding: %+v", obA.PartnerEvents)
	}

	sa := o.replyThrough(ctx, a, "wamid.onb-a-1", "onb-reply-a")
	sb := o.replyThrough(ctx, b, "wamid.onb-b-1", "onb-reply-b")
	if sa.PhoneNumberID != a.phone || sa.TokenOwner != a.id {
		t.Errorf("reply of %s sent from %s with the token of %q", a.id, sa.PhoneNumberID, sa.TokenOwner)
	}
	if sb.PhoneNumberID != b.phone || sb.TokenOwner != b.id {
		t.Errorf("reply of %s sent from %s with the token of %q", b.id, sb.PhoneNumberID, sb.TokenOwner)
	}
	if sa.TokenFingerprint == sb.TokenFingerprint {
		t.Error("both businesses' replies used the same token")
	}
	// The reconciler reads each number with its business's token too.
	reads := countPath(o.fake.Requests(), "/"+a.phone)
	if err := o.reconcile(ctx); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if n := countPath(o.fake.Requests(), "/"+a.phone); n == reads {
		t.Error("the reconciler did not read the business's number")
	}
	// Every Graph call on a business's asset used that business's token.
	for _, r := range o.fake.Requests() {
		switch r.PhoneNumberID {
		case a.phone, a.waba:
			if r.TokenOwner != a.id {
				t.Errorf("%s %s used the token of %q", r.Method, r.Path, r.TokenOwner)
			}
		case b.phone, b.waba:
			if r.TokenOwner != b.id {
				t.Errorf("%s %s used the token of %q", r.Method, r.Path, r.TokenOwner)
			}
		}
	}

	// The same code posted again is the same onboarding: no second exchange, no second token.
	exchanges := countPath(o.fake.Requests(), "oauth/access_token")
	st, again := o.onboard(a, codeA)
	if st != http.StatusAccepted || again.ID != obA.ID || again.Status != onboarding.StatusDone {
		t.Errorf("same code again: %d %+v", st, again)
	}
	if n := countPath(o.fake.Requests(), "oauth/access_token"); n != exchanges {
		t.Errorf("same code again exchanged it again (%d → %d)", exchanges, n)
	}
	assertNoSecrets(t, o, codeA, codeB)
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func strconvI(n int64) string { b, _ := json.Marshal(n); return string(b) }

func countPath(reqs []graphfake.Request, suffix string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// assertNoSecrets fails when a code, a token or a PIN of the run appears in a log line or an
// answer.
func assertNoSecrets(t *testing.T, o *onb, codes ...string) {
	t.Helper()
	secrets := append([]string{e2eAccessToken, e2eAppSecret}, codes...)
	for _, id := range []string{"3001", "3002", "3003", "3004", "3005"} {
		if p := o.fake.PIN(id); p != "" {
			secrets = append(secrets, p)
		}
	}
	secrets = append(secrets, o.fakeTokens()...)
	out := o.output() + o.responses.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("a secret (%d chars) appears in the logs or answers", len(s))
		}
	}
}

// fakeTokens returns the business tokens the fake issued (exchanged through the fake's own
// records: the tests read them from the vault).
func (o *onb) fakeTokens() []string {
	var out []string
	for _, b := range []string{"1001", "1002", "1003", "1004"} {
		if t, err := o.vault.Token(context.Background(), b); err == nil {
			out = append(out, t)
		}
	}
	return out
}
