package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// errKilled is what every request of a process gets once it is dead.
var errKilled = errors.New("process killed")

// processNet is the network of one webhook process (DynamoDB and SQS together). After `after`
// requests have been answered the process dies: every later request fails at once and reaches
// nothing, so the process has no further effect and its POST never gets a 200. after < 0 never
// kills. fail, when set, fails single requests without killing (another change of the POST
// failing). It records each request's operation, in order.
type processNet struct {
	base  http.RoundTripper
	after int64
	fail  func(op, body string) bool
	// lose, when set, lets the first request it matches reach the service, then drops the
	// answer: the write happened, the process only sees an error.
	lose func(op, body string) bool
	lost atomic.Bool
	n    atomic.Int64
	mu   sync.Mutex
	ops  []string
}

func (p *processNet) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.after >= 0 && p.n.Add(1) > p.after {
		return nil, errKilled
	}
	op := r.Header.Get("X-Amz-Target")
	if _, after, ok := strings.Cut(op, "."); ok {
		op = after
	}
	lose := false
	if (p.fail != nil || p.lose != nil) && r.Body != nil {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		if p.fail != nil && p.fail(op, string(raw)) {
			return nil, errors.New("injected failure")
		}
		lose = p.lose != nil && p.lose(op, string(raw)) && !p.lost.Load()
	}
	p.mu.Lock()
	p.ops = append(p.ops, op)
	p.mu.Unlock()
	resp, err := p.base.RoundTrip(r)
	if err == nil && lose && p.lost.CompareAndSwap(false, true) {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errors.New("answer lost")
	}
	return resp, err
}

func (p *processNet) steps() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ops...)
}

// process is a fresh webhook process (no warm caches) on e's table, sending customer messages
// to inURL, with its clock at now.
func (e *env) process(net *processNet, inURL string, now time.Time) *webhook.Handler {
	e.t.Helper()
	net.base = http.DefaultTransport
	hc := &http.Client{Transport: net, Timeout: 30 * time.Second}
	cfg := testenv.Config()
	cfg.HTTPClient = hc
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint())
		o.DisableValidateResponseChecksum = true
		o.RetryMaxAttempts = 1
	})
	sq := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(testenv.SQSEndpoint())
		o.RetryMaxAttempts = 1
	})
	clk := func() time.Time { return now }
	h, err := webhook.New(webhook.Config{
		AppSecret: appSecret, VerifyToken: verifyToken, InboundQueueURL: inURL, OutboundQueueURL: e.outURL,
		FreeEntryWindow: 72 * time.Hour, Timeout: 20 * time.Second,
	}, webhook.Deps{
		Store: store.New(ddb, e.table, clk), Queue: queue.New(sq), Now: clk, Metrics: io.Discard,
		Log: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// deliver posts body to h as Meta does and returns the status code.
func deliver(h http.Handler, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(appSecret), body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(context.Background()))
	return rec.Code
}

// forwardedIn counts the events per wamid on the given inbound queues.
func forwardedIn(e *env, urls ...string) map[string]int {
	got := map[string]int{}
	for _, u := range urls {
		for _, b := range e.drain(u) {
			var ev webhook.InboundEvent
			if err := json.Unmarshal([]byte(b), &ev); err != nil {
				e.t.Fatalf("event %q: %v", b, err)
			}
			got[ev.WAMID]++
		}
	}
	return got
}

// dedupeWindow is SQS FIFO's deduplication interval.
const dedupeWindow = 5 * time.Minute

// freshInbound is an inbound queue that remembers no deduplication id: what the inbound queue
// is to a retry that comes after SQS's five-minute window, without waiting five minutes.
func freshInbound(t *testing.T) string {
	templateMu.Lock()
	defer templateMu.Unlock()
	_, in, _ := testenv.Queues(t, testenv.SQS(t))
	return in
}

// TestCrashBetweenSteps kills the process between every pair of steps of one inbound text
// message (the message's own DynamoDB write, the SQS send, and the rest), then replays Meta's
// retry within and after SQS's deduplication window, and counts the forwards: never zero, and
// two only where no design can know (the process died after the send and the retry came after
// the window). A message of a new customer also writes its alias, so the scenario covers the
// first message of a customer and, with the alias cached, a returning one.
func TestCrashBetweenSteps(t *testing.T) {
	t.Parallel()
	msg := fixture(t, "messages_text")
	var wamid string
	{
		var n whatsapp.Notification
		if err := json.Unmarshal(msg, &n); err != nil {
			t.Fatal(err)
		}
		v, err := n.Entry[0].Changes[0].Decode()
		if err != nil {
			t.Fatal(err)
		}
		wamid = v.(*whatsapp.MessagesValue).Messages[0].ID
	}

	// The steps of one clean delivery by a fresh process.
	probe := newEnv(t)
	probe.seedSender()
	clean := &processNet{after: -1}
	if code := deliver(probe.process(clean, probe.inURL, fixtureTime), msg); code != http.StatusOK {
		t.Fatalf("clean delivery: %d; logs:\n%s", code, probe.logs.String())
	}
	steps := clean.steps()
	send := -1
	for i, op := range steps {
		if strings.HasPrefix(op, "SendMessage") {
			send = i
		}
	}
	if send < 0 {
		t.Fatalf("clean delivery never sent: %v", steps)
	}
	writes := 0
	for _, op := range steps[:send] {
		if op == "UpdateItem" || op == "PutItem" || op == "TransactWriteItems" || op == "DeleteItem" {
			writes++
		}
	}
	t.Logf("clean delivery by a cold process: %v", steps)
	if got := forwardedIn(probe, probe.inURL); got[wamid] != 1 {
		t.Fatalf("clean delivery forwarded %v", got)
	}

	type outcome struct {
		crashAfter int
		after      bool
		forwarded  int
	}
	var seen []outcome
	// k = len(steps): every step done, the process dies before its 200 reaches Meta.
	for k := 0; k <= len(steps); k++ {
		for _, afterWindow := range []bool{false, true} {
			e := newEnv(t)
			e.seedSender()
			first := &processNet{after: int64(k)}
			if code := deliver(e.process(first, e.inURL, fixtureTime), msg); code == http.StatusOK && k < len(steps) {
				t.Fatalf("crash after %d steps: the dead process answered 200", k)
			}
			// Meta retries until it gets a 200, each time to a fresh process.
			retryURL, retryAt := e.inURL, fixtureTime.Add(time.Minute)
			if afterWindow {
				retryURL, retryAt = freshInbound(t), fixtureTime.Add(dedupeWindow+time.Minute)
			}
			ok := false
			for attempt := 0; attempt < 3 && !ok; attempt++ {
				ok = deliver(e.process(&processNet{after: -1}, retryURL, retryAt), msg) == http.StatusOK
			}
			if !ok {
				t.Fatalf("crash after %d steps: the retry never succeeded; logs:\n%s", k, e.logs.String())
			}
			urls := []string{e.inURL}
			if retryURL != e.inURL {
				urls = append(urls, retryURL)
			}
			n := forwardedIn(e, urls...)[wamid]
			seen = append(seen, outcome{k, afterWindow, n})
			sent := k > send // the crash came after the SQS send was answered
			switch {
			case n == 0:
				t.Errorf("crash after %d steps (%v), retry after the window %v: message lost", k, steps[:k], afterWindow)
			case n > 1 && !(sent && afterWindow):
				t.Errorf("crash after %d steps (%v), retry after the window %v: forwarded %d times", k, steps[:k], afterWindow, n)
			case n > 2:
				t.Errorf("crash after %d steps: forwarded %d times", k, n)
			}
			if w, _, _, found := e.window("uid:" + custUID); !found || w == 0 {
				t.Errorf("crash after %d steps: window not open after the retry", k)
			}
		}
	}
	dups := 0
	for _, o := range seen {
		if o.forwarded > 1 {
			dups++
		}
	}
	t.Logf("%d crash points × 2 replays: %d duplicate (crash after the send, retry after the window); %d writes before the send", len(steps)+1, dups, writes)
	if dups != 1 {
		t.Errorf("duplicates at %d crash points, want exactly the one after the send with a retry after the window", dups)
	}
}

// TestFailedPOSTMarksForwarded: a POST whose message was forwarded but whose status failed
// answers 500; Meta's retry, even after SQS's deduplication window, forwards the message no
// second time (the forward mark), and still applies the status.
func TestFailedPOSTMarksForwarded(t *testing.T) {
	t.Parallel()
	var us []unit
	for _, name := range []string{"messages_text", "statuses_read"} {
		us = append(us, splitFixture(t, name)...)
	}
	b := body(t, us)
	e := newEnv(t)
	seedScenario(e)
	failing := &processNet{after: -1, fail: func(_ string, body string) bool {
		return strings.Contains(body, `"MSG#`) || strings.Contains(body, `"WAMID#`)
	}}
	if code := deliver(e.process(failing, e.inURL, fixtureTime), b); code != http.StatusInternalServerError {
		t.Fatalf("status failing: %d, want 500", code)
	}
	retryURL := freshInbound(t)
	if code := deliver(e.process(&processNet{after: -1}, retryURL, fixtureTime.Add(dedupeWindow+time.Minute)), b); code != http.StatusOK {
		t.Fatalf("retry: %d; logs:\n%s", code, e.logs.String())
	}
	got := forwardedIn(e, e.inURL, retryURL)
	if len(got) != 1 {
		t.Fatalf("forwarded %v, want one message", got)
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("%s forwarded %d times, want once", id, n)
		}
	}
	if rec := e.record("req_01JD2K7Q9X3V8M4N5P6R7S8T9U"); rec == nil || rec.Status != "read" {
		t.Fatalf("status not applied by the retry: %+v", rec)
	}
}

// TestInboundCommonPathCalls: a returning customer's text message, on a warm process, costs one
// DynamoDB call (the window's conditional write, which also reads the forward mark) and the SQS
// send; a message at a new second of the same customer likewise.
func TestInboundCommonPathCalls(t *testing.T) {
	t.Parallel()
	msg := fixture(t, "messages_text")
	e := newEnv(t)
	e.seedSender()
	net := &processNet{after: -1}
	h := e.process(net, e.inURL, fixtureTime)
	if code := deliver(h, msg); code != http.StatusOK {
		t.Fatalf("first message: %d", code)
	}
	for i, next := range [][]byte{
		bytes.ReplaceAll(msg, []byte(`"wamid.`), []byte(`"wamid.second`)),
		bytes.ReplaceAll(bytes.ReplaceAll(msg, []byte(`"wamid.`), []byte(`"wamid.third`)), []byte(`"timestamp":"1764000060"`), []byte(`"timestamp":"1764000061"`)),
	} {
		before := len(net.steps())
		if code := deliver(h, next); code != http.StatusOK {
			t.Fatalf("message %d: %d", i+2, code)
		}
		got := net.steps()[before:]
		if strings.Join(got, " ") != "UpdateItem SendMessageBatch" {
			t.Errorf("message %d of a returning customer: calls %v, want [UpdateItem SendMessageBatch]", i+2, got)
		}
	}
	if got := forwardedIn(e, e.inURL); len(got) != 3 {
		t.Fatalf("forwarded %v, want 3 messages", got)
	}
}

// TestStatusesOfOneRecordOneWrite: sent, delivered and read of one message in one POST (three
// changes) are applied to its record together: one conditional write and no read, and the
// record ends read.
func TestStatusesOfOneRecordOneWrite(t *testing.T) {
	t.Parallel()
	var us []unit
	for _, name := range []string{"statuses_read", "statuses_sent", "statuses_delivered"} {
		us = append(us, splitFixture(t, name)...)
	}
	b := body(t, us)
	e := newEnv(t)
	seedScenario(e)
	net := &processNet{after: -1}
	if code := deliver(e.process(net, e.inURL, fixtureTime), b); code != http.StatusOK {
		t.Fatalf("POST: %d; logs:\n%s", code, e.logs.String())
	}
	if got := strings.Join(net.steps(), " "); got != "UpdateItem" {
		t.Errorf("calls for three statuses of one record: %s, want UpdateItem", got)
	}
	rec := e.record("req_01JD2K7Q9X3V8M4N5P6R7S8T9U")
	if rec == nil || rec.Status != "read" || rec.StatusAt.IsZero() {
		t.Fatalf("record after sent, delivered, read: %+v", rec)
	}
}

// TestStatusAnswerLost: a status's one write reaches the table but its answer is lost, so the
// POST answers 500; Meta's retry writes the same status again, which is no change, and every
// effect of the status (the 131026 mark and its lift by a later delivery, the 131047 window
// close and template re-send) ends as when the answer came back: the same table, one re-send.
func TestStatusAnswerLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		before []string // fixtures posted first, whole
		split  string   // the fixture whose changes are then posted one by one, the last one's answer lost
	}{
		{"read", nil, "statuses_read"},
		{"131026", nil, "statuses_failed_131026"},
		{"delivered after a 131026", nil, "statuses_failed_131026_then_delivered"},
		{"131047", nil, "statuses_failed_131047"},
		{"read after sent and delivered", []string{"statuses_sent", "statuses_delivered"}, "statuses_read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			us := splitFixture(t, tc.split)
			var posts [][]byte
			for _, name := range tc.before {
				posts = append(posts, fixture(t, name))
			}
			for _, u := range us {
				posts = append(posts, body(t, []unit{u}))
			}
			last := len(posts) - 1
			run := func(lossy bool) *env {
				e := newEnv(t)
				seedScenario(e)
				for i, b := range posts {
					net := &processNet{after: -1}
					if lossy && i == last {
						net.lose = func(op, body string) bool { return op == "UpdateItem" && strings.Contains(body, `"MSG#`) }
						if code := deliver(e.process(net, e.inURL, fixtureTime), b); code != http.StatusInternalServerError {
							t.Fatalf("answer lost: %d, want 500", code)
						}
						if !net.lost.Load() {
							t.Fatal("no status write to lose")
						}
						net = &processNet{after: -1}
					}
					if code := deliver(e.process(net, e.inURL, fixtureTime), b); code != http.StatusOK {
						t.Fatalf("POST %d: %d; logs:\n%s", i, code, e.logs.String())
					}
				}
				return e
			}
			base, lossy := run(false), run(true)
			if want, got := state(t, base), state(t, lossy); !reflect.DeepEqual(want, got) {
				for k := range want {
					if !reflect.DeepEqual(want[k], got[k]) {
						t.Errorf("%s:\n want %v\n got  %v", k, want[k], got[k])
					}
				}
				for k := range got {
					if _, ok := want[k]; !ok {
						t.Errorf("%s: only after the lost answer: %v", k, got[k])
					}
				}
				t.Fatalf("table after a lost answer and Meta's retry differs")
			}
			if a, b := len(base.outbound()), len(lossy.outbound()); a != b {
				t.Fatalf("template re-sends: %d after a lost answer, %d without", b, a)
			}
		})
	}
}
