package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/adminapi"
	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/store/memory"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
)

// syncBuffer collects log lines from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testCode is the verification code the fake accepts: digits that appear in no test number.
const testCode = "864209"

// testStore is the API's store plus what the tests seed it with: the memory store, or the
// DynamoDB store for the tests that prove the wiring.
type testStore interface {
	adminapi.Store
	numberpool.Store
	GetSender(ctx context.Context, id string) (*sender.Sender, error)
	SetPortfolioTier(ctx context.Context, key, tier string, eventAt time.Time) (bool, error)
	PutAliasAt(ctx context.Context, waba string, c customer.Ref, at time.Time) error
	OpenWindow(ctx context.Context, phoneNumberID string, c customer.Ref, w customer.Window) error
	ApplyOptOut(ctx context.Context, waba string, c customer.Ref, ev webhook.OptOutEvent) error
	MarkDeliverability(ctx context.Context, waba string, c customer.Ref, m customer.Deliverability) error
	UpdateTemplate(ctx context.Context, waba, name, language string, fn persist.Update[template.Template]) (template.Template, error)
	UpdateRecord(ctx context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error)
}

var (
	_ testStore = (*store.Store)(nil)
	_ testStore = (*memory.Store)(nil)
)

// env is one API under test: real HTTP, a store, the Graph fake.
type env struct {
	t     *testing.T
	url   string
	store testStore
	// table is the DynamoDB Local table (newStackEnv only).
	table string
	fake  *graphfake.Fake
	logs  *syncBuffer
	// bodies collects every response body, to prove secrets never come back.
	mu     sync.Mutex
	bodies []string
	now    time.Time
}

type envOption func(*adminapi.Options)

// newEnv is the API on the memory store: no local stack needed.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, logs: &syncBuffer{}, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	e.store = memory.New(e.clock)
	return e.serve(opts...)
}

// newStackEnv is the API on DynamoDB Local.
func newStackEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ddb := testenv.DynamoDB(t)
	e := &env{t: t, logs: &syncBuffer{}, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	e.table = testenv.Table(t, ddb)
	e.store = store.New(ddb, e.table, e.clock)
	return e.serve(opts...)
}

func (e *env) clock() time.Time { return e.now }

func (e *env) serve(opts ...envOption) *env {
	t := e.t
	clock := e.clock
	var fakeURL string
	e.fake, fakeURL = graphfake.ServeNew(t, graphfake.Options{VerifyCode: testCode})
	g := graph.New(graph.Options{BaseURL: fakeURL, Version: "v24.0", Token: graphfake.DefaultToken})
	o := adminapi.Options{Store: e.store, Graph: g, Log: logging.New(e.logs, "DEBUG"), Now: clock, RegisterBackoff: -1}
	for _, opt := range opts {
		opt(&o)
	}
	srv := httptest.NewServer(adminapi.New(o))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r response) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r response) errMessage() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func (r response) str(k string) string {
	s, _ := r.body[k].(string)
	return s
}

func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ct = strings.NewReader(b.body), b.contentType
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.bodies = append(e.bodies, string(raw))
	e.mu.Unlock()
	out := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	if err := json.Unmarshal(raw, &out.body); err != nil {
		e.t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, raw)
	}
	return out
}

// must checks the status and returns the response.
func (e *env) must(status int, method, path string, body any) response {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != status {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.raw, status)
	}
	return r
}

// mustErr checks an error answer's status and code.
func (e *env) mustErr(status int, code, method, path string, body any) response {
	e.t.Helper()
	r := e.must(status, method, path, body)
	if r.errCode() != code || r.errMessage() == "" {
		e.t.Fatalf("%s %s: error %q (%s), want code %q with a message", method, path, r.errCode(), r.raw, code)
	}
	return r
}

func (e *env) allBodies() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.bodies, "\n")
}

func createBody(id, phone string) map[string]any {
	return map[string]any{"phoneNumber": phone, "phoneNumberId": id, "wabaId": "2001",
		"type": "external", "displayName": "Acme Shop", "assistants": []string{"asst-1"}}
}

func (e *env) create(id, phone string) response {
	e.t.Helper()
	return e.must(http.StatusCreated, http.MethodPost, "/senders", createBody(id, phone))
}

func history(r response) []map[string]any {
	var out []map[string]any
	list, _ := r.body["statusHistory"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	return out
}

// graphRequests returns the fake's recorded requests for an edge.
func (e *env) graphRequests(edge string) []graphfake.Request {
	var out []graphfake.Request
	for _, r := range e.fake.Requests() {
		if r.Edge == edge {
			out = append(out, r)
		}
	}
	return out
}

// rawBody is a body sent with its own content type.
type rawBody struct{ contentType, body string }

// scriptErr makes the fake answer the next request on path with Meta's error code.
func scriptErr(t *testing.T, e *env, path string, code int) {
	t.Helper()
	if err := e.fake.Script(graphfake.Script{Path: path, ErrorCode: code}); err != nil {
		t.Fatal(err)
	}
}
