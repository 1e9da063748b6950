package outbound_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/outboundtest"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/store/memory"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
)

// harness is the consumer on a store (the memory store, or DynamoDB Local for the tests that
// prove the wiring) and the Graph API fake (httptest), with a fake clock shared by the
// consumer and the store.
type harness struct {
	t     *testing.T
	ctx   context.Context
	clock *outboundtest.Clock
	st    testStore
	// ddb is the DynamoDB Local client and table the test's table (newStackHarness only).
	ddb   store.API
	table string
	fake  *graphfake.Fake
	vis   *visibility
	c     *outbound.Consumer
	opts  outbound.Options
	seq   atomic.Int64
}

// visibility records the retry delays the consumer asks for (the consumer's port; the SQS
// adapter itself is exercised through fauxqs in the queue tests).
type visibility struct {
	mu      sync.Mutex
	changes []outbound.VisibilityChange
}

func (v *visibility) ChangeVisibility(_ context.Context, _ string, c []outbound.VisibilityChange) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.changes = append(v.changes, c...)
	return nil
}

func (v *visibility) delayOf(receipt string) (time.Duration, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := len(v.changes) - 1; i >= 0; i-- {
		if v.changes[i].ReceiptHandle == receipt {
			return v.changes[i].Delay, true
		}
	}
	return 0, false
}

// testLog writes the consumer's log lines to stderr with -v and OUTBOUND_TEST_LOG set.
func testLog(testing.TB) *slog.Logger {
	if !testing.Verbose() || os.Getenv("OUTBOUND_TEST_LOG") == "" {
		return slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testStore is what the tests seed and read back through, beside the consumer's port: both
// the memory store and the DynamoDB store provide it.
type testStore interface {
	CreateSender(ctx context.Context, snd *sender.Sender) error
	GetSender(ctx context.Context, id string) (*sender.Sender, error)
	UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error)
	SetPortfolioTier(ctx context.Context, key, tier string, eventAt time.Time) (bool, error)
	OpenWindow(ctx context.Context, phoneNumberID string, c customer.Ref, w customer.Window) error
	GetWindow(ctx context.Context, phoneNumberID, waba string, c customer.Ref) (customer.Window, error)
	PutAliasAt(ctx context.Context, waba string, c customer.Ref, at time.Time) error
	ApplyOptOut(ctx context.Context, waba string, c customer.Ref, ev webhook.OptOutEvent) error
	GetOptOut(ctx context.Context, waba string, c customer.Ref) (customer.OptOut, error)
	MarkDeliverability(ctx context.Context, waba string, c customer.Ref, m customer.Deliverability) error
	GetDeliverability(ctx context.Context, waba string, c customer.Ref) (customer.Deliverability, error)
	GetTemplate(ctx context.Context, waba, name, language string) (template.Template, error)
	UpdateTemplate(ctx context.Context, waba, name, language string, fn persist.Update[template.Template]) (template.Template, error)
	GetRecord(ctx context.Context, id string) (*outbound.Record, error)
	UpdateRecord(ctx context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error)
	UpdateKnownRecord(ctx context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error)
	RequestIDForWAMID(ctx context.Context, wamid string) (string, error)
	PutOrphanStatus(ctx context.Context, o webhook.OrphanStatus) error
	ApplyOrphans(ctx context.Context, wamid, requestID string) (*outbound.Record, error)
	ApplyDeliveryStatus(ctx context.Context, id string, d webhook.DeliveryStatus) (webhook.StatusWrite, error)
	GetHold(ctx context.Context, conv string) (outbound.Hold, error)
	SetPause(ctx context.Context, p outbound.Pause) error
	ClaimBudget(ctx context.Context, portfolio, customerKey string, limit int) (outbound.BudgetClaim, error)
	BudgetUsed(ctx context.Context, portfolio string) (int, error)
}

var (
	_ testStore = (*store.Store)(nil)
	_ testStore = (*memory.Store)(nil)
)

// newHarness is the consumer on the memory store: no DynamoDB (the tests of SQS round trips
// add fauxqs).
func newHarness(t *testing.T, tune ...func(*outbound.Options)) *harness {
	t.Helper()
	clk := outboundtest.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	st := memory.New(clk.Now)
	return newHarnessOn(t, clk, st, st.Outbound(), tune...)
}

// newStackHarness is the consumer on DynamoDB Local, for the tests that prove the wiring: call
// counts on the real client, the crash window, nothing lost end to end.
func newStackHarness(t *testing.T, tune ...func(*outbound.Options)) *harness {
	t.Helper()
	ddb := testenv.DynamoDB(t)
	table := testenv.Table(t, ddb)
	clk := outboundtest.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	st := store.New(ddb, table, clk.Now)
	h := newHarnessOn(t, clk, st, st.Outbound(), tune...)
	h.ddb, h.table = ddb, table
	return h
}

func newHarnessOn(t *testing.T, clk *outboundtest.Clock, st testStore, port outbound.Store, tune ...func(*outbound.Options)) *harness {
	t.Helper()
	fake := graphfake.New(graphfake.Options{Now: clk.Now})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	gc := graph.New(graph.Options{BaseURL: srv.URL, Version: "v26.0", Token: graphfake.DefaultToken, Timeout: 5 * time.Second})
	h := &harness{t: t, ctx: context.Background(), clock: clk, st: st, fake: fake, vis: &visibility{}}
	h.opts = outbound.Options{
		Store: port, Graph: gc, Visibility: h.vis, QueueURL: "http://sqs.local/outbound.fifo",
		Clock: clk, Log: testLog(t),
		// Deterministic backoff (DefaultBackoff without jitter is checked in its own test).
		Backoff: func(c graph.Class, n int) time.Duration {
			if c == graph.ClassPairRate {
				return graph.PairRateBackoff(n - 1)
			}
			if c == graph.ClassMaintenance {
				return time.Minute
			}
			return time.Second << min(n-1, 8)
		},
	}
	for _, f := range tune {
		f(&h.opts)
	}
	c, err := outbound.NewConsumer(h.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	return h
}

// newSender stores an online sender with assistant "a1" (mut may change it first).
func (h *harness) newSender(mut func(*sender.Sender)) *sender.Sender {
	h.t.Helper()
	n := h.seq.Add(1)
	s := &sender.Sender{
		ID: fmt.Sprintf("10654%06d", n), Type: sender.TypeExternal, PhoneNumber: fmt.Sprintf("+40721%06d", n),
		WABAID: fmt.Sprintf("waba-%d", n), DisplayName: "Shop", Status: sender.StatusOnline,
		QualityRating: sender.QualityHigh, Assistants: []string{"a1"}, CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now(),
	}
	if mut != nil {
		mut(s)
	}
	if err := h.st.CreateSender(h.ctx, s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// recipient returns a fresh valid recipient number.
func (h *harness) recipient() string { return fmt.Sprintf("+447911%06d", h.seq.Add(1)) }

// openWindow opens the customer service window: the customer wrote an hour ago.
func (h *harness) openWindow(snd *sender.Sender, ref customer.Ref) {
	h.t.Helper()
	w := customer.WindowFor(h.clock.Now().Add(-time.Hour), false, 72*time.Hour)
	if err := h.st.OpenWindow(h.ctx, snd.ID, ref, w); err != nil {
		h.t.Fatal(err)
	}
}

// delivery wraps a request as a queue message (receive count 1).
func (h *harness) delivery(req outbound.Request) outbound.Delivery {
	body, err := json.Marshal(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.raw(string(body), outbound.GroupID(req))
}

// raw wraps any body as a queue message.
func (h *harness) raw(body, group string) outbound.Delivery {
	n := h.seq.Add(1)
	return outbound.Delivery{MessageID: fmt.Sprintf("msg-%d", n), ReceiptHandle: fmt.Sprintf("rh-%d", n),
		Body: body, GroupID: group, ReceiveCount: 1}
}

// handle runs one batch and returns the failed MessageIds as a set.
func (h *harness) handle(ds ...outbound.Delivery) map[string]bool {
	h.t.Helper()
	failed := map[string]bool{}
	for _, id := range h.c.Handle(h.ctx, ds) {
		failed[id] = true
	}
	return failed
}

// send handles one request alone and reports whether it was a batch item failure.
func (h *harness) send(req outbound.Request) (outbound.Delivery, bool) {
	d := h.delivery(req)
	return d, h.handle(d)[d.MessageID]
}

func (h *harness) record(id string) outbound.Record {
	h.t.Helper()
	r, err := h.st.GetRecord(h.ctx, id)
	if err != nil {
		h.t.Fatalf("record %s: %v", id, err)
	}
	return *r
}

func (h *harness) sender(id string) *sender.Sender {
	h.t.Helper()
	s, err := h.st.GetSender(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// sendsTo returns the fake's accepted sends from a sender.
func (h *harness) sendsFrom(senderID string) []graphfake.Send {
	var out []graphfake.Send
	for _, s := range h.fake.Sends() {
		if s.PhoneNumberID == senderID {
			out = append(out, s)
		}
	}
	return out
}

// callsFrom counts every messages call (accepted or not) from a sender.
func (h *harness) callsFrom(senderID string) int {
	n := 0
	for _, r := range h.fake.Requests() {
		if r.PhoneNumberID == senderID && r.Edge == "messages" {
			n++
		}
	}
	return n
}

func (h *harness) script(s graphfake.Script) {
	h.t.Helper()
	if err := h.fake.Script(s); err != nil {
		h.t.Fatal(err)
	}
}

func textReq(id string, snd *sender.Sender, to string) outbound.Request {
	return outbound.Request{ID: id, SenderID: snd.ID, To: to, Text: "Your order shipped"}
}

func templateReq(id string, snd *sender.Sender, to, category string) outbound.Request {
	return outbound.Request{ID: id, SenderID: snd.ID, To: to,
		Template: &outbound.Template{Name: "order_update", Language: "en_US", Category: category,
			Components: json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"Jessica"}]}]`)}}
}
