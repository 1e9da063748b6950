package adminapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloro/wa-senders/shared/adminapi"
	"github.com/aloro/wa-senders/shared/lambdahttp"
	"github.com/aloro/wa-senders/shared/sender"
)

// send makes a request with headers and returns status, headers and body.
func (e *env) send(method, path, body string, hdr map[string]string) (int, http.Header, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(raw)
}

func TestInvalidCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 3 {
		e.create(fmt.Sprintf("100%d", i), fmt.Sprintf("+4072123450%d", i))
	}
	r := e.must(http.StatusOK, http.MethodGet, "/senders?status=pending&limit=1", nil)
	cur := r.str("nextCursor")
	if cur == "" {
		t.Fatalf("no cursor: %s", r.raw)
	}
	e.must(http.StatusOK, http.MethodGet, "/senders?status=pending&limit=1&cursor="+cur, nil)
	crafted := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, q := range map[string]string{
		"another status":     "status=online&cursor=" + cur,
		"another filter":     "status=pending&assistant=asst-1&cursor=" + cur,
		"no filter":          "cursor=" + cur,
		"old key form":       "cursor=" + crafted(`{"pk":"SENDER#1000","gsi2pk":"SENDERS","gsi2sk":"pending#1000"}`),
		"unknown status":     "cursor=" + crafted(`{"id":"1000","st":"archived","f":"|"}`),
		"not base64":         "cursor=%25%25",
		"huge":               "cursor=" + strings.Repeat("A", 4096),
		"status outside its": "status=online&cursor=" + crafted(`{"id":"1000","st":"pending","f":"online|"}`),
	} {
		t.Run(name, func(t *testing.T) {
			e.mustErr(http.StatusBadRequest, "invalid_cursor", http.MethodGet, "/senders?"+q, nil)
		})
	}
	// A cursor of the right shape names a place in the list: answered, not a 500.
	e.must(http.StatusOK, http.MethodGet, "/senders?cursor="+crafted(`{"id":"zzz","st":"pending","f":"|"}`), nil)
}

func TestJSONBodiesStrict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")
	jsonCT := map[string]string{"Content-Type": "application/json"}
	for name, body := range map[string]string{
		"duplicate key":         `{"displayName":"A","displayName":"B"}`,
		"case-duplicate key":    `{"displayName":"A","DisplayName":"B"}`,
		"nested duplicate":      `{"assistants":["a"],"x":{"k":1,"K":2}}`,
		"bidi override in name": `{"displayName":"Shop \u202egnp.exe"}`,
		"isolate in name":       `{"displayName":"Shop \u2066x\u2069"}`,
		"control char in name":  `{"displayName":"Shop\u0007"}`,
		"bidi in assistant id":  `{"assistants":["asst\u202e1"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			status, _, raw := e.send(http.MethodPatch, "/senders/1001", body, jsonCT)
			if status != http.StatusBadRequest || !strings.Contains(raw, "invalid_request") {
				t.Fatalf("PATCH %s = %d %s, want 400", body, status, raw)
			}
		})
	}
	// Keys differ from one object to another: fine.
	if status, _, raw := e.send(http.MethodPatch, "/senders/1001", `{"displayName":"Shop","assistants":["a"]}`, jsonCT); status != http.StatusOK {
		t.Fatalf("valid PATCH = %d %s", status, raw)
	}
	// Ids in the path.
	if status, _, raw := e.send(http.MethodGet, "/senders/1001%E2%80%AE", "", nil); status != http.StatusBadRequest {
		t.Fatalf("bidi in a path id = %d %s", status, raw)
	}
	// Only application/json bodies: no simple cross-site POST.
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"} {
		hdr := map[string]string{}
		if ct != "" {
			hdr["Content-Type"] = ct
		}
		status, _, raw := e.send(http.MethodPost, "/senders/1001/verification", `{"method":"sms"}`, hdr)
		if status != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q = %d %s, want 415", ct, status, raw)
		}
	}
	if status, _, raw := e.send(http.MethodPost, "/senders/1001/verification", `{"method":"sms"}`,
		map[string]string{"Content-Type": "application/json; charset=utf-8"}); status != http.StatusOK {
		t.Fatalf("JSON with charset = %d %s", status, raw)
	}
}

func TestETagIfMatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	created := e.create("1001", "+40721234567")
	tag := created.header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag on create")
	}
	got := e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil)
	if got.header.Get("ETag") != tag {
		t.Fatalf("GET ETag %q, create %q", got.header.Get("ETag"), tag)
	}
	hdr := map[string]string{"Content-Type": "application/json", "If-Match": tag}
	status, h, raw := e.send(http.MethodPatch, "/senders/1001", `{"displayName":"Shop Two"}`, hdr)
	if status != http.StatusOK || h.Get("ETag") == "" || h.Get("ETag") == tag {
		t.Fatalf("PATCH with a current If-Match = %d %s (ETag %q)", status, raw, h.Get("ETag"))
	}
	// The old tag is stale now: a lost update is refused.
	status, _, raw = e.send(http.MethodPatch, "/senders/1001", `{"displayName":"Shop Three"}`, hdr)
	if status != http.StatusPreconditionFailed || !strings.Contains(raw, "precondition_failed") {
		t.Fatalf("PATCH with a stale If-Match = %d %s", status, raw)
	}
	if status, _, raw = e.send(http.MethodDelete, "/senders/1001", "", map[string]string{"If-Match": tag}); status != http.StatusPreconditionFailed {
		t.Fatalf("DELETE with a stale If-Match = %d %s", status, raw)
	}
	if r := e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil); r.str("displayName") != "Shop Two" {
		t.Fatalf("stale PATCH applied: %s", r.raw)
	}
}

// TestActorInHistory: each operator history entry names who acted: the IAM principal from the
// authorizer context under Lambda, "local" when served directly (make run).
func TestActorInHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")
	r := e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	for _, h := range history(r) {
		if h["actor"] != adminapi.LocalPrincipal {
			t.Fatalf("history entry %v: actor, want local", h)
		}
	}

	// Through the Lambda adapter with an IAM authorizer block.
	h := adminapi.New(adminapi.Options{Store: e.store, Graph: nil, Now: func() time.Time { return e.now }})
	const arn = "arn:aws:iam::123456789012:user/ops-ana"
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/senders", Body: string(mustJSON(t, createBody("1002", "+40721234568"))),
		Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: arn}}}}
	req, err := lambdahttp.Request(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create through the adapter = %d %s", rec.Code, rec.Body)
	}
	s, err := e.store.GetSender(context.Background(), "1002")
	if err != nil {
		t.Fatal(err)
	}
	if s.StatusHistory[0].Actor != arn {
		t.Fatalf("actor %q, want the caller's ARN", s.StatusHistory[0].Actor)
	}
}

// TestListPageUnderLambdaLimit: a full page of senders with the longest history stays far under
// Lambda's 6 MB answer; the sender's own GET has the whole history.
func TestListPageUnderLambdaLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	reason := strings.Repeat("r", 300)
	for i := range 100 {
		s := sender.New(fmt.Sprintf("2%03d", i), sender.TypeExternal, fmt.Sprintf("+40721%06d", i), "2001", "", "Shop", nil, sender.SourceOperator, e.now)
		for j := range sender.MaxHistory - 1 {
			s.StatusHistory = append(s.StatusHistory, sender.StatusChange{From: s.Status, To: s.Status, At: e.now.Add(time.Duration(j) * time.Second), Reason: reason, Source: sender.SourceWebhook})
		}
		if err := e.store.CreateSender(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	status, _, raw := e.send(http.MethodGet, "/senders?limit=100", "", nil)
	if status != http.StatusOK {
		t.Fatalf("list = %d", status)
	}
	if len(raw) > 6<<20/4 {
		t.Fatalf("a page of 100 senders is %d bytes", len(raw))
	}
	if strings.Count(raw, reason) > 100*adminapi.ListHistory || !strings.Contains(raw, `"historyTruncated":true`) {
		t.Fatalf("history not capped in the list")
	}
	if r := e.must(http.StatusOK, http.MethodGet, "/senders/2000", nil); len(history(r)) != sender.MaxHistory {
		t.Fatalf("GET has %d history entries, want all %d", len(history(r)), sender.MaxHistory)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
