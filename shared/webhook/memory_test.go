package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store/memory"
	"github.com/aloro/wa-senders/shared/webhook"
)

// The webhook's logic on the memory store (proven equal to the DynamoDB store by the contract
// suite in shared/store/storetest) and a queue that keeps what it is sent: no local stack, so
// these run in any `go test`. The tests on the real stack (env_test.go) cover the adapters and
// the faults.

// memQueue is SQS FIFO as the webhook sees it: a send with a deduplication id already taken on
// that queue is accepted and dropped. down fails every send.
type memQueue struct {
	mu    sync.Mutex
	sent  map[string][]string
	dedup map[string]bool
	down  bool
}

func newMemQueue() *memQueue { return &memQueue{sent: map[string][]string{}, dedup: map[string]bool{}} }

func (q *memQueue) Send(_ context.Context, url, _, dedupID, body string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down {
		return errors.New("queue down")
	}
	if !q.dedup[url+"|"+dedupID] {
		q.dedup[url+"|"+dedupID] = true
		q.sent[url] = append(q.sent[url], body)
	}
	return nil
}

func (q *memQueue) SendBatch(ctx context.Context, url string, bodies []string, fifo func(i int) (string, string)) error {
	for i, b := range bodies {
		g, d := fifo(i)
		if err := q.Send(ctx, url, g, d, b); err != nil {
			return err
		}
	}
	return nil
}

func (q *memQueue) events(t *testing.T) []webhook.InboundEvent {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var evs []webhook.InboundEvent
	for _, b := range q.sent["in"] {
		var ev webhook.InboundEvent
		if err := json.Unmarshal([]byte(b), &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

type memEnv struct {
	st   *memory.Store
	q    *memQueue
	h    *webhook.Handler
	logs *syncBuffer
}

func newMemEnv(t *testing.T) *memEnv {
	t.Helper()
	clk := func() time.Time { return fixtureTime }
	e := &memEnv{st: memory.New(clk), q: newMemQueue(), logs: &syncBuffer{}}
	h, err := webhook.New(webhook.Config{
		AppSecret: appSecret, VerifyToken: verifyToken, InboundQueueURL: "in", OutboundQueueURL: "out",
		FreeEntryWindow: 72 * time.Hour,
	}, webhook.Deps{Store: e.st, Queue: e.q, Now: clk, Metrics: io.Discard,
		Log: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	s := sender.New(pnid, sender.TypeExternal, senderE164, waba, business, "Aloro", []string{"a1"}, sender.SourceOperator, fixtureTime.Add(-48*time.Hour))
	s.Status = sender.StatusOnline
	if err := e.st.CreateSender(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *memEnv) post(t *testing.T, body []byte) {
	t.Helper()
	if code := deliver(e.h, body); code != http.StatusOK {
		t.Fatalf("POST answered %d; logs:\n%s", code, e.logs.String())
	}
}

func (e *memEnv) seedRecord(t *testing.T, id, wamid string, withTemplate bool) {
	t.Helper()
	req := &outbound.Request{ID: id, SenderID: pnid, To: custPhone, Text: "Your order shipped"}
	if withTemplate {
		req.Template = &outbound.Template{Name: "order_update", Language: "en_US", Category: "utility"}
	}
	if err := e.st.PutRecord(context.Background(), outbound.Record{ID: id, SenderID: pnid, To: custPhone,
		Mode: outbound.ModeFreeform, Status: outbound.StatusSent, WAMID: wamid, Attempts: 1, Request: req,
		CreatedAt: fixtureTime.Add(-2 * time.Hour), UpdatedAt: fixtureTime.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// TestLogicOnMemory applies fixtures through the real handler on the memory store and checks
// each one's outcome.
func TestLogicOnMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cust := customer.Ref{Phone: custPhone}
	for _, c := range []struct {
		name  string
		seed  func(t *testing.T, e *memEnv)
		posts []string
		check func(t *testing.T, e *memEnv)
	}{
		{name: "a text message opens 24 h and is forwarded once", posts: []string{"messages_text", "messages_text"},
			check: func(t *testing.T, e *memEnv) {
				evs := e.q.events(t)
				if len(evs) != 1 || evs[0].Content.Text != "Hi! Do you deliver to Cluj on Sundays?" || evs[0].Window == nil {
					t.Fatalf("events: %+v", evs)
				}
				w, err := e.st.GetWindow(ctx, pnid, waba, cust) // by phone, through the alias
				if err != nil || !w.ExpiresAt.Equal(unix(1764000060).Add(24*time.Hour)) || w.FreeEntry {
					t.Fatalf("window: %+v %v", w, err)
				}
			}},
		{name: "a referral opens 72 h", posts: []string{"messages_text_referral"},
			check: func(t *testing.T, e *memEnv) {
				w, err := e.st.GetWindow(ctx, pnid, waba, cust)
				if err != nil || !w.ExpiresAt.Equal(unix(1764000360).Add(72*time.Hour)) || !w.FreeEntry {
					t.Fatalf("window: %+v %v", w, err)
				}
			}},
		{name: "STOP opts out, keyword included", posts: []string{"messages_text_stop"},
			check: func(t *testing.T, e *memEnv) {
				o, _ := e.st.GetOptOut(ctx, waba, cust)
				if !o.Marketing || !o.Keyword {
					t.Fatalf("opt-out: %+v", o)
				}
				if evs := e.q.events(t); len(evs) != 1 || !evs[0].StopKeyword {
					t.Fatalf("events: %+v", evs)
				}
			}},
		{name: "a group message opens no window", posts: []string{"messages_text_group"},
			check: func(t *testing.T, e *memEnv) {
				if _, err := e.st.GetWindow(ctx, pnid, waba, customer.Ref{UserID: custUID}); err == nil {
					t.Fatal("a group message opened a 1:1 window")
				}
				if evs := e.q.events(t); len(evs) != 1 || evs[0].GroupID == "" {
					t.Fatalf("events: %+v", evs)
				}
			}},
		{name: "sent, delivered, read in any order end read",
			seed: func(t *testing.T, e *memEnv) {
				e.seedRecord(t, "req_01JD2K7Q9X3V8M4N5P6R7S8T9U", trackedWAMIDMem, false)
			},
			posts: []string{"statuses_read", "statuses_sent", "statuses_delivered"},
			check: func(t *testing.T, e *memEnv) {
				if r, _ := e.st.GetRecord(ctx, "req_01JD2K7Q9X3V8M4N5P6R7S8T9U"); r.Status != outbound.StatusRead {
					t.Fatalf("record: %+v", r)
				}
			}},
		{name: "131047 closes the window and re-sends as the template once",
			seed: func(t *testing.T, e *memEnv) {
				e.seedRecord(t, "req_reengage", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIMDIyMTIxMDEwNEQzRjJFNzJFQkQAA==", true)
			},
			posts: []string{"messages_text", "statuses_failed_131047", "statuses_failed_131047"},
			check: func(t *testing.T, e *memEnv) {
				w, _ := e.st.GetWindow(ctx, pnid, waba, cust)
				if !w.ExpiresAt.Equal(unix(1764003400)) {
					t.Fatalf("window after 131047: %+v", w)
				}
				if n := len(e.q.sent["out"]); n != 1 {
					t.Fatalf("template re-sends: %d, want 1", n)
				}
			}},
		{name: "131026 marks the customer for 72 h",
			seed: func(t *testing.T, e *memEnv) {
				e.seedRecord(t, "req_undeliverable", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIOUM3RUQyODc3NzFBMUU2NjU3NzQAA==", false)
			},
			posts: []string{"statuses_failed_131026"},
			check: func(t *testing.T, e *memEnv) {
				d, _ := e.st.GetDeliverability(ctx, waba, cust)
				if !d.UndeliverableUntil.Equal(unix(1764003400).Add(customer.UndeliverableFor)) {
					t.Fatalf("deliverability: %+v", d)
				}
			}},
		{name: "131050 opts out of marketing only",
			seed: func(t *testing.T, e *memEnv) {
				e.seedRecord(t, "req_optout", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIMERDRkU3Qjg0MkI4RDg0OEQ5RjQAA==", false)
			},
			posts: []string{"statuses_failed_131050"},
			check: func(t *testing.T, e *memEnv) {
				if o, _ := e.st.GetOptOut(ctx, waba, cust); !o.Marketing || o.Keyword || o.Source != "error_131050" {
					t.Fatalf("opt-out: %+v", o)
				}
			}},
		{name: "account disabled suspends the senders", posts: []string{"account_update_disable"},
			check: func(t *testing.T, e *memEnv) {
				if s, _ := e.st.GetSender(ctx, pnid); s.Status != sender.StatusSuspended {
					t.Fatalf("sender: %s", s.Status)
				}
			}},
		{name: "template status is kept", posts: []string{"message_template_status_update_paused"},
			check: func(t *testing.T, e *memEnv) {
				tp, err := e.st.GetTemplate(ctx, waba, "order_update", "en_US")
				if err != nil || tp.Status != "PAUSED" || tp.Reason != "FIRST_PAUSE" {
					t.Fatalf("template: %+v %v", tp, err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newMemEnv(t)
			if c.seed != nil {
				c.seed(t, e)
			}
			for _, p := range c.posts {
				e.post(t, fixture(t, p))
			}
			c.check(t, e)
		})
	}
}

const trackedWAMIDMem = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBINTcxRDNEMTA2QjU0MENGQzBGNEYAA=="

// TestQueueDownOnMemory: with the queue down the POST answers 500 having forwarded nothing and
// left no mark; the retry forwards the message once.
func TestQueueDownOnMemory(t *testing.T) {
	t.Parallel()
	e := newMemEnv(t)
	e.q.down = true
	if code := deliver(e.h, fixture(t, "messages_text")); code != http.StatusInternalServerError {
		t.Fatalf("queue down: %d", code)
	}
	e.q.down = false
	e.post(t, fixture(t, "messages_text"))
	if evs := e.q.events(t); len(evs) != 1 {
		t.Fatalf("forwarded %d, want 1", len(evs))
	}
}

// countingMarks is the memory store counting its deliverability writes.
type countingMarks struct {
	*memory.Store
	mu    sync.Mutex
	marks []customer.Deliverability
}

func (c *countingMarks) MarkDeliverability(ctx context.Context, waba string, ref customer.Ref, d customer.Deliverability) error {
	c.mu.Lock()
	c.marks = append(c.marks, d)
	c.mu.Unlock()
	return c.Store.MarkDeliverability(ctx, waba, ref, d)
}

// TestDeliveryOver131026WrittenOnce: a customer marked by a 131026, then a post carrying the
// same message's 131026 and its delivery: the delivery is recorded on the customer once.
func TestDeliveryOver131026WrittenOnce(t *testing.T) {
	t.Parallel()
	e := newMemEnv(t)
	st := &countingMarks{Store: e.st}
	clk := func() time.Time { return fixtureTime }
	h, err := webhook.New(webhook.Config{
		AppSecret: appSecret, VerifyToken: verifyToken, InboundQueueURL: "in", OutboundQueueURL: "out",
		FreeEntryWindow: 72 * time.Hour,
	}, webhook.Deps{Store: st, Queue: e.q, Now: clk, Metrics: io.Discard,
		Log: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.seedRecord(t, "req_undeliverable", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIOUM3RUQyODc3NzFBMUU2NjU3NzQAA==", false)
	e.post(t, fixture(t, "statuses_failed_131026"))
	st.mu.Lock()
	st.marks = nil
	st.mu.Unlock()
	e.post(t, fixture(t, "statuses_failed_131026_then_delivered"))
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.marks) != 1 || st.marks[0].DeliveredWAMID == "" {
		t.Fatalf("deliverability writes %+v, want one delivery", st.marks)
	}
	d, err := e.st.GetDeliverability(context.Background(), waba, customer.Ref{Phone: custPhone})
	if err != nil || !d.UndeliverableUntil.IsZero() {
		t.Fatalf("customer %+v %v, want reachable", d, err)
	}
}
