package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/testenv"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestReplacedTokenAndDisconnection: a 190 pauses only its business's senders and records
// token_invalid; a token replaced through PUT /businesses/{id}/token is in use by another warm
// instance once its cache expires (and not before); PARTNER_REMOVED takes the business's senders
// offline (reason "disconnected") and forgets its token, and the other business is untouched.
func TestReplacedTokenAndDisconnection(t *testing.T) {
	testenv.Integration(t)
	const ttl = time.Minute
	clock := &fakeClock{t: time.Now()}
	o := newOnboardingE2E(t, ttl, clock.Now)
	ctx := context.Background()
	a := biz{"1201", "2201", "3201"}
	b := biz{"1202", "2202", "3202"}
	for _, x := range []biz{a, b} {
		if st, ob := o.onboard(x, o.fake.AddBusiness(x.business("Shop "+x.id))); st != http.StatusAccepted || ob.Status != onboarding.StatusDone {
			t.Fatalf("onboarding %s: %d %s %s", x.id, st, ob.Status, ob.Reason)
		}
	}
	first := o.replyThrough(ctx, a, "wamid.tok-a-1", "tok-a-1")

	// A second warm instance (another Lambda) reads the token through its own cache.
	other, err := app.NewVault(config.Config{Secrets: config.Secrets{CredentialsLocalKey: localKeyOf(t, o)}, CredentialsCacheTTL: ttl}, o.st, nil, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	otherGraph := graph.New(graph.Options{BaseURL: o.fakeURL, Version: config.DefaultGraphVersion, Token: e2eAccessToken, TokenFor: other.TokenFor})
	sendFromOther := func(id string) graphfake.Send {
		t.Helper()
		n := len(o.fake.Sends())
		if _, err := otherGraph.SendMessage(ctx, a.phone, graph.Message{To: "+16505551234", Text: &graph.Text{Body: "hello"}}); err != nil {
			t.Fatalf("send from the other instance (%s): %v", id, err)
		}
		s := o.fake.Sends()
		if len(s) != n+1 {
			t.Fatal("no send recorded")
		}
		return s[len(s)-1]
	}
	if s := sendFromOther("warm"); s.TokenFingerprint != first.TokenFingerprint {
		t.Fatal("the other instance does not use the business's token")
	}

	// Meta stops accepting the token: the reply is deferred token_invalid, and only this
	// business's sends are paused.
	o.fake.RevokeBusinessTokens(a.id)
	st, _ := o.postSigned(textMessage(a.waba, a.phone, mustDisplay(o, a.phone), "16505551234", "", "wamid.tok-a-2", "hi", time.Now()), "application/json")
	if st != http.StatusOK {
		t.Fatalf("inbound: %d", st)
	}
	req, _ := json.Marshal(map[string]any{"id": "tok-a-2", "senderId": a.phone, "to": "+16505551234", "assistantId": "asst-1", "text": "Yes."})
	o.do(http.MethodPost, "/messages", "application/json", req, nil)
	o.drainOutbound(ctx)
	_, raw := o.do(http.MethodGet, "/messages/tok-a-2", "", nil, nil)
	var rec outbound.Record
	_ = json.Unmarshal(raw, &rec)
	if rec.Status != outbound.StatusDeferred || rec.Reason != outbound.ReasonTokenInvalid {
		t.Errorf("reply with a refused token: %s %s", rec.Status, rec.Reason)
	}
	if s := o.replyThrough(ctx, b, "wamid.tok-b-1", "tok-b-1"); s.TokenOwner != b.id {
		t.Errorf("the other business's reply used the token of %q", s.TokenOwner)
	}

	// The operator puts the business's new token.
	code := o.fake.AddBusiness(a.business("Shop " + a.id))
	newTok, err := o.platformGraph().ExchangeCode(ctx, e2eAppID, e2eAppSecret, code)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"token": newTok})
	if st, raw := o.do(http.MethodPut, "/businesses/"+a.id+"/token", "application/json", body, nil); st != http.StatusNoContent {
		t.Fatalf("PUT token: %d %s", st, raw)
	}
	bad, _ := json.Marshal(map[string]string{"token": "not-a-token-Zx9"})
	if st, _ := o.do(http.MethodPut, "/businesses/"+a.id+"/token", "application/json", bad, nil); st != http.StatusBadRequest {
		t.Errorf("PUT of a token Meta refuses: %d, want 400", st)
	}
	// Within the expiry the other instance still holds the old one …
	clock.Add(ttl / 2)
	if tok, _ := other.TokenFor(ctx, a.phone); tok == newTok {
		t.Error("the other instance's cache expired early")
	}
	// … and once it expires it uses the new one, without a restart.
	clock.Add(ttl/2 + time.Second)
	if s := sendFromOther("replaced"); s.TokenFingerprint != graphfake.TokenFingerprint(newTok) || s.TokenOwner != a.id {
		t.Errorf("after the cache expiry the other instance sends with %s of %q", s.TokenFingerprint, s.TokenOwner)
	}

	// The business removes us as its partner.
	removed := `{"object":"whatsapp_business_account","entry":[{"id":"` + a.waba + `","time":` + strconvI(time.Now().Unix()) + `,"changes":[{"field":"account_update","value":{"event":"PARTNER_REMOVED","disconnection_info":{"reason":"removed by business","initiated_by":"BUSINESS"}}}]}]}`
	if st, raw := o.postSigned([]byte(removed), "application/json"); st != http.StatusOK {
		t.Fatalf("PARTNER_REMOVED: %d %s", st, raw)
	}
	if _, snd := o.getSender(a.phone); snd.Status != sender.StatusOffline || snd.StatusHistory[len(snd.StatusHistory)-1].Reason != onboarding.ReasonDisconnected {
		t.Errorf("sender after PARTNER_REMOVED: %s %+v", snd.Status, snd.StatusHistory[len(snd.StatusHistory)-1])
	}
	if _, err := o.vault.Token(ctx, a.id); !errors.Is(err, persist.ErrNotFound) {
		t.Errorf("token kept after PARTNER_REMOVED: %v", err)
	}
	clock.Add(ttl + time.Second)
	if _, err := other.TokenFor(ctx, a.phone); !errors.Is(err, credentials.ErrTokenForgotten) {
		t.Errorf("a disconnected business's number resolves to %v, want ErrTokenForgotten (never the platform token)", err)
	}
	// The functions' wiring reads it as a refused token (the business's sends pause), not as a
	// failure of unknown kind, and nothing reaches Meta.
	n := len(o.fake.Sends())
	wired := app.NewGraphFor(config.Config{GraphBaseURL: o.fakeURL, GraphVersion: config.DefaultGraphVersion,
		Secrets: config.Secrets{AccessToken: e2eAccessToken}}, other)
	if _, err := wired.SendMessage(ctx, a.phone, graph.Message{To: "+16505551234", Text: &graph.Text{Body: "hello"}}); graph.Classify(err) != graph.ClassTokenInvalid {
		t.Errorf("send for a disconnected business: %v classified %s, want %s", err, graph.Classify(err), graph.ClassTokenInvalid)
	}
	if len(o.fake.Sends()) != n {
		t.Error("a send for a disconnected business reached Meta")
	}
	if _, snd := o.getSender(b.phone); snd.Status != sender.StatusOnline {
		t.Errorf("the other business's sender: %s", snd.Status)
	}
	assertNoSecrets(t, o, code, newTok)
}

func mustDisplay(o *onb, id string) string {
	ps, _ := o.fake.PhoneNumber(id)
	return ps.DisplayPhoneNumber
}

// localKeyOf is the local key the harness configured (same bytes as newOnboardingE2E).
func localKeyOf(t *testing.T, _ *onb) string {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	return base64Std(key)
}

// scanTable returns every item of the test table, as text.
func scanTable(t *testing.T, o *onb) string {
	t.Helper()
	out, err := testenv.DynamoDB(t).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(o.st.Table())})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, item := range out.Items {
		fmt.Fprintf(&b, "%v\n", item)
		for _, v := range item {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				b.WriteString(s.Value + "\n")
			}
		}
	}
	return b.String()
}
