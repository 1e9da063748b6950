package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// The local secrets (not real secrets; see the README).
const (
	appSecret   = "local-app-secret"
	verifyToken = "local-verify-token"
	accessToken = "local-access-token"
)

// Identities used by the fixtures in shared/whatsapp/testdata/payloads.
const (
	waba       = "102290129340398"
	pnid       = "106540352242922"
	senderE164 = "+15550783881"
	business   = "2329417887457253"
	custPhone  = "+16505551234"
	custUID    = "US.13491208655302741918"
	newUID     = "US.99887766554433221100"
	newPhone   = "+16505559876"
)

// fixtureTime is after every fixture's timestamp (the newest is 1764009200), within a day of
// them, so windows opened by the fixtures are open at the fake clock.
var fixtureTime = time.Unix(1764010000, 0).UTC()

var templateMu sync.Mutex

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// syncBuffer collects log or metric lines from concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// countingTransport counts the requests an AWS client makes and can send them to a closed
// port instead (a real "connection refused"), from the start or after some requests.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
	// down sends every request to a closed port.
	down atomic.Bool
	// failAfter, when > 0, sends requests after the first failAfter (counted from arming) to a
	// closed port: a store that dies in the middle of a POST.
	failAfter atomic.Int64
	armedAt   atomic.Int64
}

func (c *countingTransport) arm(after int64) {
	c.armedAt.Store(c.n.Load())
	c.failAfter.Store(after)
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.n.Add(1)
	if c.down.Load() || c.failAfter.Load() > 0 && n-c.armedAt.Load() > c.failAfter.Load() {
		r = r.Clone(r.Context())
		r.URL.Host = closedAddr
		r.Host = closedAddr
	}
	return c.base.RoundTrip(r)
}

// closedAddr is a local port nothing listens on.
const closedAddr = "127.0.0.1:1"

// env is one isolated stack for a test: a fresh table (template.yaml's schema), fresh queues,
// the store and the real handler served over HTTP.
type env struct {
	t       testing.TB
	ctx     context.Context
	ddb     *dynamodb.Client
	table   string
	st      *store.Store
	sqs     *sqs.Client
	inURL   string
	outURL  string
	clk     *clock
	h       *webhook.Handler
	srv     *httptest.Server
	logs    *syncBuffer
	metrics *syncBuffer
	ddbN    *countingTransport
	sqsN    *countingTransport
}

type envOptions struct {
	cfg func(*webhook.Config)
	// noRetry turns the SDK's own retries off (failure tests: each failure is final at once).
	noRetry bool
	// storeClock, when set, is the store's clock (claim leases, bookkeeping TTLs) instead of the
	// handler's: a test can let leases run out without changing the effects' timestamps.
	storeClock *clock
}

func newEnv(t testing.TB, opts ...func(*envOptions)) *env {
	t.Helper()
	testenv.Integration(t)
	var o envOptions
	for _, f := range opts {
		f(&o)
	}
	o2 := o
	e := &env{t: t, ctx: context.Background(), clk: &clock{t: fixtureTime}, logs: &syncBuffer{}, metrics: &syncBuffer{}}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	e.ddbN = &countingTransport{base: base}
	e.sqsN = &countingTransport{base: base}
	admin := testenv.DynamoDB(t)

	// The schema of template.yaml without TTL: the fixtures date from November 2025 and
	// DynamoDB Local's sweeper deletes by the wall clock, which would race the assertions. The
	// TTL attribute is still written and asserted.
	// goformation's template parsing is not safe for concurrent use: parallel tests take turns.
	templateMu.Lock()
	tmpl := testenv.Template(t)
	e.outURL, e.inURL, _ = testenv.Queues(t, testenv.SQS(t))
	templateMu.Unlock()
	tmpl.Tables[0].TTLAttribute = ""
	e.table = testenv.TableFor(t, admin, tmpl, tmpl.Tables[0].LogicalID)

	cfg := testenv.Config()
	cfg.HTTPClient = &http.Client{Transport: e.ddbN, Timeout: 30 * time.Second}
	e.ddb = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint())
		o.DisableValidateResponseChecksum = true
		if o2.noRetry {
			o.RetryMaxAttempts = 1
		}
	})
	scfg := testenv.Config()
	scfg.HTTPClient = &http.Client{Transport: e.sqsN, Timeout: 30 * time.Second}
	e.sqs = sqs.NewFromConfig(scfg, func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(testenv.SQSEndpoint())
		if o2.noRetry {
			o.RetryMaxAttempts = 1
		}
	})
	storeNow := e.clk.Now
	if o.storeClock != nil {
		storeNow = o.storeClock.Now
	}
	e.st = store.New(e.ddb, e.table, storeNow)

	wc := webhook.Config{
		AppSecret: appSecret, VerifyToken: verifyToken,
		InboundQueueURL: e.inURL, OutboundQueueURL: e.outURL,
		FreeEntryWindow: 72 * time.Hour, Timeout: 20 * time.Second,
	}
	if o.cfg != nil {
		o.cfg(&wc)
	}
	h, err := webhook.New(wc, webhook.Deps{
		Store: e.st, Queue: queue.New(e.sqs), Now: e.clk.Now, Metrics: e.metrics,
		Log: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// fixture returns a payload fixture compacted as Meta sends it (and as cmd/genevents signs it).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "shared/whatsapp/testdata/payloads", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fixtureNames lists every payload fixture.
func fixtureNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "shared/whatsapp/testdata/payloads", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".json"))
	}
	sort.Strings(names)
	return names
}

// post sends a body signed with the app secret and returns the status code.
func (e *env) post(body []byte) int {
	e.t.Helper()
	return e.postSigned(body, whatsapp.Sign([]byte(appSecret), body)).StatusCode
}

func (e *env) postSigned(body []byte, sig string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/webhook", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(whatsapp.SignatureHeader, sig)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// mustPost posts and fails the test unless the answer is 200.
func (e *env) mustPost(body []byte) {
	e.t.Helper()
	if code := e.post(body); code != http.StatusOK {
		e.t.Fatalf("POST answered %d; logs:\n%s", code, e.logs.String())
	}
}

// item returns the raw item at (pk, sk), nil when absent.
func (e *env) item(pk, sk string) map[string]types.AttributeValue {
	e.t.Helper()
	out, err := e.ddb.GetItem(e.ctx, &dynamodb.GetItemInput{
		TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Item
}

// scan returns every item of the table.
func (e *env) scan() []map[string]types.AttributeValue {
	e.t.Helper()
	var items []map[string]types.AttributeValue
	var start map[string]types.AttributeValue
	for {
		out, err := e.ddb.Scan(e.ctx, &dynamodb.ScanInput{TableName: aws.String(e.table), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			e.t.Fatal(err)
		}
		items = append(items, out.Items...)
		if out.LastEvaluatedKey == nil {
			return items
		}
		start = out.LastEvaluatedKey
	}
}

// drain receives and deletes every message of a queue.
func (e *env) drain(url string) []string {
	e.t.Helper()
	var bodies []string
	for empty := 0; empty < 2; {
		out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	return bodies
}

// inbound drains the inbound queue into events.
func (e *env) inbound() []webhook.InboundEvent {
	e.t.Helper()
	var evs []webhook.InboundEvent
	for _, b := range e.drain(e.inURL) {
		validateEvent(e.t, b)
		var ev webhook.InboundEvent
		if err := json.Unmarshal([]byte(b), &ev); err != nil {
			e.t.Fatalf("inbound event %q: %v", b, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// outbound drains the outbound FIFO queue into requests.
func (e *env) outbound() []outbound.Request {
	e.t.Helper()
	var reqs []outbound.Request
	for _, b := range e.drain(e.outURL) {
		var r outbound.Request
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			e.t.Fatalf("outbound request %q: %v", b, err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// seedSender stores the fixtures' sender, online.
func (e *env) seedSender() *sender.Sender {
	e.t.Helper()
	s := sender.New(pnid, sender.TypeExternal, senderE164, waba, business, "Aloro", []string{"a1"}, sender.SourceOperator, fixtureTime.Add(-48*time.Hour))
	s.Status = sender.StatusOnline
	if err := e.st.CreateSender(e.ctx, s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// seedRecord stores an outbound record as the outbound side leaves it after a free-form send.
func (e *env) seedRecord(id, wamid string, withTemplate bool) {
	e.t.Helper()
	req := &outbound.Request{ID: id, SenderID: pnid, To: custPhone, Text: "Your order shipped"}
	if withTemplate {
		req.Template = &outbound.Template{Name: "order_update", Language: "en_US", Category: "utility"}
	}
	_, err := e.st.UpdateRecord(e.ctx, id, func(r *outbound.Record) (*outbound.Record, error) {
		if r == nil {
			r = &outbound.Record{}
		}
		*r = outbound.Record{ID: id, SenderID: pnid, To: custPhone, Mode: outbound.ModeFreeform,
			Status: outbound.StatusSent, WAMID: wamid, Attempts: 1, Request: req,
			CreatedAt: fixtureTime.Add(-2 * time.Hour), UpdatedAt: fixtureTime.Add(-2 * time.Hour)}
		return r, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.PutWAMID(e.ctx, wamid, id); err != nil {
		e.t.Fatal(err)
	}
}

// seedRecordTo stores a sent record for recipient to (benchmarks).
func (e *env) seedRecordTo(id, wamid, to string) {
	e.t.Helper()
	_, err := e.st.UpdateRecord(e.ctx, id, func(r *outbound.Record) (*outbound.Record, error) {
		if r == nil {
			r = &outbound.Record{}
		}
		*r = outbound.Record{ID: id, SenderID: pnid, To: to, Mode: outbound.ModeFreeform, Status: outbound.StatusSent,
			WAMID: wamid, Request: &outbound.Request{ID: id, SenderID: pnid, To: to, Text: "hello"}}
		return r, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) record(id string) *outbound.Record {
	e.t.Helper()
	r, err := e.st.GetRecord(e.ctx, id)
	if err != nil {
		e.t.Fatalf("record %s: %v", id, err)
	}
	return r
}

func (e *env) sender() *sender.Sender {
	e.t.Helper()
	s, err := e.st.GetSender(e.ctx, pnid)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) account() *webhook.Account {
	e.t.Helper()
	a, err := e.st.GetAccount(e.ctx, waba)
	if err != nil {
		e.t.Fatalf("account: %v", err)
	}
	return a
}

// optOutDoc reads the opt-out document stored under one key.
func (e *env) optOut(ck string) map[string]any {
	e.t.Helper()
	it := e.item("OPTOUT#"+waba+"#"+ck, "#OPTOUT")
	if it == nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(it["doc"].(*types.AttributeValueMemberS).Value), &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) window(ck string) (expiresMs int64, ttl int64, free bool, ok bool) {
	e.t.Helper()
	it := e.item("WINDOW#"+pnid+"#"+ck, "#WINDOW")
	if it == nil {
		return 0, 0, false, false
	}
	return n(it, "expiresAtMs"), n(it, "expiresAt"), it["freeEntry"] != nil && it["freeEntry"].(*types.AttributeValueMemberBOOL).Value, true
}

func n(item map[string]types.AttributeValue, name string) int64 {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	var x int64
	_ = json.Unmarshal([]byte(v.Value), &x)
	return x
}

func s(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// metric sums a counter over every EMF line written so far.
func (e *env) metric(name string) int64 {
	var total int64
	for _, line := range strings.Split(e.metrics.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("EMF line %q: %v", line, err)
		}
		if v, ok := m[name].(float64); ok {
			total += int64(v)
		}
	}
	return total
}

var _ = customer.Ref{}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// validateEvent checks a forwarded event against schema/inbound.schema.json (as embedded).
func validateEvent(t testing.TB, body string) {
	t.Helper()
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.Draft = jsonschema.Draft2020
		c.AssertFormat = true
		const url = "https://github.com/aloro/wa-senders/shared/webhook/schema/inbound.schema.json"
		if schemaErr = c.AddResource(url, bytes.NewReader(webhook.InboundSchema)); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile(url)
	})
	if schemaErr != nil {
		t.Fatalf("compile schema: %v", schemaErr)
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(v); err != nil {
		t.Fatalf("event does not match the schema: %v\n%s", err, body)
	}
}
