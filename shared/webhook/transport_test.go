package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/lambdahttp"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

func TestHandshake(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		name  string
		query url.Values
		code  int
		body  string
	}{
		{"verified", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {"1158201444"}}, 200, "1158201444"},
		{"wrong token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1"}}, 403, ""},
		{"token prefix", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken[:5]}, "hub.challenge": {"1"}}, 403, ""},
		{"no token", url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1"}}, 403, ""},
		{"wrong mode", url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {"1"}}, 403, ""},
		{"no challenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}}, 403, ""},
		{"no query", nil, 403, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := e.srv.Client().Get(e.srv.URL + "/webhook?" + c.query.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.code {
				t.Fatalf("status %d, want %d", res.StatusCode, c.code)
			}
			if c.code == 200 && (string(body) != c.body || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain")) {
				t.Fatalf("body %q type %q", body, res.Header.Get("Content-Type"))
			}
		})
	}
	if strings.Contains(e.logs.String(), verifyToken) {
		t.Fatal("verify token logged")
	}
}

func TestSignatureRejectedTouchesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := fixture(t, "messages_text")
	good := whatsapp.Sign([]byte(appSecret), body)
	tampered := bytes.Replace(body, []byte("Sundays"), []byte("Mondays"), 1)
	for _, c := range []struct {
		name string
		body []byte
		sig  string
	}{
		{"missing", body, ""},
		{"no prefix", body, strings.TrimPrefix(good, "sha256=")},
		{"sha1 prefix", body, "sha1=" + strings.TrimPrefix(good, "sha256=")},
		{"short hex", body, good[:40]},
		{"not hex", body, "sha256=" + strings.Repeat("zz", 32)},
		{"other secret", body, whatsapp.Sign([]byte("not-the-app-secret"), body)},
		{"tampered body", tampered, good},
		{"re-serialised body", reserialise(t, body), good},
	} {
		t.Run(c.name, func(t *testing.T) {
			if res := e.postSigned(c.body, c.sig); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", res.StatusCode)
			}
		})
	}
	if items := e.scan(); len(items) != 0 {
		t.Fatalf("a rejected POST wrote %d items", len(items))
	}
	if evs := e.drain(e.inURL); len(evs) != 0 {
		t.Fatalf("a rejected POST forwarded %d messages", len(evs))
	}
	if strings.Contains(e.logs.String(), "Sundays") || strings.Contains(e.logs.String(), "Mondays") {
		t.Fatalf("a rejected body was logged:\n%s", e.logs.String())
	}
	if got := e.metric("SignatureRejected"); got != 8 {
		t.Fatalf("SignatureRejected = %d, want 8", got)
	}
}

// reserialise decodes and re-encodes JSON: same document, other bytes (é escaped differently).
func reserialise(t *testing.T, body []byte) []byte {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.cfg = func(c *webhook.Config) { c.MaxBodyBytes = 2048 } })
	big := append(fixture(t, "messages_text"), bytes.Repeat([]byte(" "), 4096)...)
	if res := e.postSigned(big, whatsapp.Sign([]byte(appSecret), big)); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared length: %d, want 413", res.StatusCode)
	}
	// Without a Content-Length (chunked) the read itself stops at the limit.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhook", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(appSecret), big))
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: %d, want 413", res.StatusCode)
	}
	if len(e.scan()) != 0 {
		t.Fatal("an oversized POST wrote items")
	}
	// Under the limit is fine.
	e.seedSender()
	e.mustPost(fixture(t, "messages_text"))
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/webhook", nil)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("%d %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestEmptySecretIsAnError(t *testing.T) {
	t.Parallel()
	deps := webhook.Deps{Store: &store.Store{}, Queue: nopQueue{}}
	full := webhook.Config{AppSecret: appSecret, VerifyToken: verifyToken, InboundQueueURL: "in", OutboundQueueURL: "out"}
	for field, mutate := range map[string]func(*webhook.Config){
		"AppSecret":        func(c *webhook.Config) { c.AppSecret = "" },
		"VerifyToken":      func(c *webhook.Config) { c.VerifyToken = "" },
		"InboundQueueURL":  func(c *webhook.Config) { c.InboundQueueURL = "" },
		"OutboundQueueURL": func(c *webhook.Config) { c.OutboundQueueURL = "" },
	} {
		cfg := full
		mutate(&cfg)
		_, err := webhook.New(cfg, deps)
		var ce *webhook.ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s empty: %v", field, err)
		}
	}
	if _, err := webhook.New(full, deps); err != nil {
		t.Fatal(err)
	}
	// The composition refuses the same.
	_, err := app.Webhook(app.Deps{Store: &store.Store{}, SQS: testenv.SQS(t), Config: config.Config{InboundQueueURL: "in", OutboundQueueURL: "out"}})
	var ce *webhook.ConfigError
	if !errors.As(err, &ce) || ce.Field != "AppSecret" {
		t.Fatalf("app.Webhook with no secret: %v", err)
	}
}

type nopQueue struct{}

func (nopQueue) SendBatch(context.Context, string, []string, func(int) (string, string)) error {
	return nil
}
func (nopQueue) Send(context.Context, string, string, string, string) error { return nil }

func TestUnusablePayloadsAreParked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		name, body, reason string
	}{
		{"not json", `{"object":"whatsapp_business_account","entry":[`, "parse_malformed"},
		{"empty", `   `, "parse_empty"},
		{"wrong object", `{"object":"page","entry":[]}`, "parse_wrong_object"},
		{"bad change", `{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `","time":1764005000,"changes":[` +
			`{"field":"business_capability_update","value":{"max_daily_conversations_per_business":{"oops":1}}},` +
			`{"field":"account_review_update","value":{"decision":"APPROVED"}}]}]}`, "decode_error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.mustPost([]byte(c.body))
			parked, err := e.st.ParkedOn(e.ctx, fixtureTime)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range parked {
				if p.Reason == c.reason && string(p.Body) == c.body {
					found = true
				}
			}
			if !found {
				t.Fatalf("not parked with %s: %+v", c.reason, parked)
			}
		})
	}
	// The good change next to the bad one was applied.
	if a := e.account(); a.Review == nil || a.Review.Decision != "APPROVED" {
		t.Fatalf("good change lost: %+v", a.Review)
	}
	if got := e.metric("ParkedPayloads"); got != 4 {
		t.Fatalf("ParkedPayloads = %d, want 4", got)
	}
	// Parking is idempotent: the same payload again is one parked item.
	e.mustPost([]byte(`{"object":"page","entry":[]}`))
	parked, _ := e.st.ParkedOn(e.ctx, fixtureTime)
	if len(parked) != 4 {
		t.Fatalf("%d parked payloads, want 4", len(parked))
	}
}

func TestLargePayloadIsParkedWhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// An unknown field carrying 2 MB of data: parked in several parts, read back whole.
	blob := strings.Repeat("abcdefghij0123456789", 100000)
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `","changes":[{"field":"future_thing","value":{"data":"` + blob + `"}}]}]}`)
	e.mustPost(body)
	parked, err := e.st.ParkedOn(e.ctx, fixtureTime)
	if err != nil || len(parked) != 1 || !bytes.Equal(parked[0].Body, body) {
		t.Fatalf("parked: %d %v", len(parked), err)
	}
}

// TestLambdaEvents runs every sample event through the Lambda adapter against an empty table
// and checks events/webhook/expect.json, which CI checks under the emulator.
func TestLambdaEvents(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(testenv.RepoRoot(t), "events", "webhook")
	raw, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expect map[string]struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal(raw, &expect); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		name := filepath.Base(f)
		if name == "expect.json" {
			continue
		}
		want, ok := expect[name]
		if !ok {
			t.Errorf("%s has no entry in expect.json", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatal(err)
			}
			res, err := lambdahttp.Handler(e.h)(context.Background(), ev)
			if err != nil || res.StatusCode != want.StatusCode {
				t.Fatalf("status %d (%v), want %d; logs:\n%s", res.StatusCode, err, want.StatusCode, e.logs.String())
			}
		})
	}
	for name := range expect {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("expect.json names %s, which does not exist", name)
		}
	}
}

// TestNoSecretsOrBodiesInLogs runs every fixture (and rejected requests) at debug level and
// checks that no log or metric line carries the app secret, the tokens or any message text.
func TestNoSecretsOrBodiesInLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seedSender()
	e.seedRecord("req_reengage", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIMDIyMTIxMDEwNEQzRjJFNzJFQkQAA==", true)
	var secrets []string
	for _, name := range fixtureNames(t) {
		body := fixture(t, name)
		secrets = append(secrets, texts(t, body)...)
		e.mustPost(body)
		e.postSigned(body, whatsapp.Sign([]byte("wrong"), body))
		e.postSigned(body, "")
	}
	e.srv.Client().Get(e.srv.URL + "/webhook?hub.mode=subscribe&hub.challenge=1&hub.verify_token=" + verifyToken)
	e.srv.Client().Get(e.srv.URL + "/webhook?hub.mode=subscribe&hub.challenge=1&hub.verify_token=" + accessToken)
	out := e.logs.String() + e.metrics.String()
	if !strings.Contains(out, "webhook signature rejected") {
		t.Fatal("expected log lines were not captured")
	}
	for _, s := range append(secrets, appSecret, verifyToken, accessToken) {
		if strings.Contains(out, s) {
			t.Errorf("logs contain %q", s)
		}
	}
}

// texts collects the message texts (body, caption, text values) of a payload.
func texts(t *testing.T, body []byte) []string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && (k == "body" || k == "caption" || k == "text") && len(s) >= 4 {
					out = append(out, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

var _ = slog.LevelDebug
