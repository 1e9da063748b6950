package adminapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloro/wa-senders/shared/adminapi"
	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/lambdahttp"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/webhook"
)

func TestCustomerLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")
	ctx := context.Background()
	ref := customer.Ref{UserID: "US.13491208655302741918", Phone: "+16505551234"}
	if err := e.store.PutAliasAt(ctx, "2001", ref, e.now); err != nil {
		t.Fatal(err)
	}
	inbound := e.now.Add(-2 * time.Hour)
	if err := e.store.OpenWindow(ctx, "1001", ref, customer.WindowFor(inbound, true, 72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ApplyOptOut(ctx, "2001", ref, webhook.OptOutEvent{Stop: true, Source: "user_preferences", At: inbound}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkDeliverability(ctx, "2001", ref, customer.Deliverability{
		UndeliverableUntil: e.now.Add(24 * time.Hour), Reason: "131026"}); err != nil {
		t.Fatal(err)
	}

	for _, who := range []string{"+16505551234", "16505551234", "US.13491208655302741918"} {
		t.Run(who, func(t *testing.T) {
			r := e.must(http.StatusOK, http.MethodGet, "/senders/1001/customers/"+who, nil)
			win, _ := r.body["window"].(map[string]any)
			if win["open"] != true || win["freeEntry"] != true || win["expiresAt"] != inbound.Add(72*time.Hour).Format(time.RFC3339) {
				t.Errorf("window = %v", win)
			}
			if r.body["lastInboundAt"] != inbound.Format(time.RFC3339) {
				t.Errorf("lastInboundAt = %v", r.body["lastInboundAt"])
			}
			if o, _ := r.body["optOut"].(map[string]any); o["marketing"] != true || o["keyword"] != false {
				t.Errorf("optOut = %v", o)
			}
			if u, _ := r.body["undeliverable"].(map[string]any); u["marked"] != true || u["reason"] != "131026" {
				t.Errorf("undeliverable = %v", u)
			}
			if c, _ := r.body["customer"].(map[string]any); c["userId"] != ref.UserID || c["phone"] != ref.Phone {
				t.Errorf("customer = %v", c)
			}
		})
	}

	// A customer never seen: a closed window and no marks.
	r := e.must(http.StatusOK, http.MethodGet, "/senders/1001/customers/+40744123456", nil)
	if win, _ := r.body["window"].(map[string]any); win["open"] != false || win["expiresAt"] != nil {
		t.Errorf("unknown customer window = %v", win)
	}
	if u, _ := r.body["undeliverable"].(map[string]any); u["marked"] != false {
		t.Errorf("unknown customer undeliverable = %v", u)
	}
	e.mustErr(http.StatusBadRequest, "invalid_customer", http.MethodGet, "/senders/1001/customers/0721%20234%20567", nil)
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodGet, "/senders/9999/customers/+16505551234", nil)
}

func TestTemplatesAndMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.store.UpdateTemplate(ctx, "2001", "order_update", "en-US", func(cur *template.Template) (*template.Template, error) {
		return &template.Template{Status: "APPROVED", Category: "UTILITY"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	r := e.must(http.StatusOK, http.MethodGet, "/templates?wabaId=2001", nil)
	list, _ := r.body["templates"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["status"] != "APPROVED" || list[0].(map[string]any)["language"] != "en_US" {
		t.Errorf("templates = %s", r.raw)
	}
	r = e.must(http.StatusOK, http.MethodGet, "/templates?wabaId=2002", nil)
	if list, ok := r.body["templates"].([]any); !ok || len(list) != 0 {
		t.Errorf("empty templates = %s", r.raw)
	}
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodGet, "/templates", nil)

	if _, err := e.store.UpdateRecord(ctx, "req-1", func(cur *outbound.Record) (*outbound.Record, error) {
		if cur == nil {
			cur = &outbound.Record{}
		}
		*cur = outbound.Record{SenderID: "1001", To: "+16505551234", Mode: outbound.ModeTemplate,
			Status: outbound.StatusDelivered, WAMID: "wamid.X", Attempts: 1,
			Request: &outbound.Request{ID: "req-1", Text: "private words"}}
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	r = e.must(http.StatusOK, http.MethodGet, "/messages/req-1", nil)
	want := map[string]any{"id": "req-1", "senderId": "1001", "to": "+16505551234", "mode": "template",
		"status": "delivered", "wamid": "wamid.X", "attempts": float64(1)}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.body[k], v)
		}
	}
	if _, ok := r.body["request"]; ok {
		t.Errorf("the record exposes the original request: %s", r.raw)
	}
	e.mustErr(http.StatusNotFound, "message_not_found", http.MethodGet, "/messages/req-2", nil)
	// Without an enqueuer, POST /messages says so.
	e.mustErr(http.StatusNotImplemented, "not_implemented", http.MethodPost, "/messages", map[string]any{"id": "x"})
}

// fakeEnqueuer records requests and refuses those without an id.
type fakeEnqueuer struct {
	mu   sync.Mutex
	reqs []outbound.Request
}

func (f *fakeEnqueuer) Enqueue(_ context.Context, r outbound.Request) error {
	if r.ID == "" {
		return fmt.Errorf("id is required: %w", adminapi.ErrInvalidRequest)
	}
	if r.ID == "boom" {
		return errors.New("queue unavailable")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	return nil
}

func TestPostMessage(t *testing.T) {
	t.Parallel()
	q := &fakeEnqueuer{}
	e := newEnv(t, func(o *adminapi.Options) { o.Enqueuer = q })
	r := e.must(http.StatusAccepted, http.MethodPost, "/messages", map[string]any{
		"id": "req-1", "senderId": "1001", "to": "+16505551234", "text": "hello"})
	if r.str("id") != "req-1" || r.str("status") != "queued" {
		t.Errorf("accepted = %s", r.raw)
	}
	if len(q.reqs) != 1 || q.reqs[0].Text != "hello" {
		t.Errorf("enqueued = %+v", q.reqs)
	}
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPost, "/messages", map[string]any{"text": "hello"})
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPost, "/messages", map[string]any{
		"id": "req-2", "senderId": "1001", "to": "+16505551234", "text": "hello", "colour": "red"})
	r = e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPost, "/messages", map[string]any{
		"id": "req-3", "senderId": "1001", "to": "0721 234 567", "text": "hello"})
	if !strings.HasPrefix(r.errMessage(), "to:") {
		t.Errorf("validation message does not name the field: %s", r.errMessage())
	}
	r = e.mustErr(http.StatusInternalServerError, "internal", http.MethodPost, "/messages", map[string]any{
		"id": "boom", "senderId": "1001", "to": "+16505551234", "text": "hello"})
	if r.errMessage() != "internal error" {
		t.Errorf("500 leaks the error: %s", r.errMessage())
	}
	if contains := e.logs.String(); !containsAll(contains, "queue unavailable") || containsAll(contains, "hello") {
		t.Errorf("logs: the 500's cause must be logged and the message text must not")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// TestLambdaEvents drives the handler through lambdahttp with HTTP API events: any route key,
// no authorizer block, a stage in the path.
func TestLambdaEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")
	h := lambdahttp.Handler(adminapi.New(adminapi.Options{Store: e.store, Graph: nil, Now: func() time.Time { return e.now }}))
	tests := []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
		want int
	}{
		{"no authorizer, default route", events.APIGatewayV2HTTPRequest{RouteKey: "$default", RawPath: "/senders/1001",
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/senders/1001"}}}, 200},
		{"proxy route key", events.APIGatewayV2HTTPRequest{RouteKey: "ANY /senders/{proxy+}", RawPath: "/senders/9999",
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}}, 404},
		{"route key only", events.APIGatewayV2HTTPRequest{RouteKey: "GET /senders", RawPath: "/senders", RawQueryString: "status=pending"}, 200},
		{"stage prefix", events.APIGatewayV2HTTPRequest{RouteKey: "GET /senders/{id}", RawPath: "/prod/senders/1001",
			RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "prod", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}}, 200},
		{"bad phone", events.APIGatewayV2HTTPRequest{RouteKey: "POST /senders", RawPath: "/senders",
			Headers:        map[string]string{"content-type": "application/json"},
			Body:           `{"phoneNumber":"0721 234 567","phoneNumberId":"1","wabaId":"2","type":"external","displayName":"x"}`,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := h(context.Background(), tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.want || res.IsBase64Encoded || res.Headers["Content-Type"] != "application/json" {
				t.Errorf("status %d base64 %v headers %v body %s; want %d JSON", res.StatusCode, res.IsBase64Encoded, res.Headers, res.Body, tc.want)
			}
		})
	}
}
