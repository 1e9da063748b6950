package outbound_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// countingAPI is the real DynamoDB Local client, counting the calls made through it.
type countingAPI struct {
	store.API
	mu sync.Mutex
	n  map[string]int
	// gets counts GetItem calls per partition key.
	gets map[string]int
}

func (c *countingAPI) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
}

func (c *countingAPI) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	if pk, ok := in.Key["pk"].(*types.AttributeValueMemberS); ok {
		c.mu.Lock()
		if c.gets == nil {
			c.gets = map[string]int{}
		}
		c.gets[pk.Value]++
		c.mu.Unlock()
	}
	return c.API.GetItem(ctx, in, o...)
}

func (c *countingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.API.PutItem(ctx, in, o...)
}

func (c *countingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *countingAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.count("DeleteItem")
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.API.Query(ctx, in, o...)
}

func (c *countingAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.count("BatchGetItem")
	return c.API.BatchGetItem(ctx, in, o...)
}

func (c *countingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.count("TransactWriteItems")
	return c.API.TransactWriteItems(ctx, in, o...)
}

// TestDynamoDBCallsPerSend counts the DynamoDB calls of one outbound request on the common
// path, through the real client against DynamoDB Local, with the instance's sender and alias
// caches warm (the first request of a sender fills them): a free-form message at most 5, a
// template to a new recipient at most 6, wired as in production (orphan statuses and shared
// pacing on).
func TestDynamoDBCallsPerSend(t *testing.T) {
	t.Parallel()
	h := newStackHarness(t)
	counter := &countingAPI{API: h.ddb, n: map[string]int{}}
	cst := store.New(counter, h.table, h.clock.Now)
	opts := h.opts
	opts.Store, opts.Orphans, opts.SharedPacing = cst.Outbound(), cst, true
	c, err := outbound.NewConsumer(opts)
	if err != nil {
		t.Fatal(err)
	}
	snd := h.newSender(func(s *sender.Sender) { s.BusinessID = "biz-calls" })
	if _, err := h.st.SetPortfolioTier(h.ctx, snd.PortfolioKey(), "TIER_1K", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	run := func(req outbound.Request) map[string]int {
		t.Helper()
		counter.reset()
		d := h.delivery(req)
		if failed := c.Handle(h.ctx, []outbound.Delivery{d}); len(failed) != 0 {
			t.Fatalf("%s failed", req.ID)
		}
		if rec := h.record(req.ID); rec.Status != outbound.StatusSent {
			t.Fatalf("%s: %s/%s", req.ID, rec.Status, rec.Reason)
		}
		return counter.reset()
	}
	warm := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: warm})
	first := run(textReq("warm-up", snd, warm))

	for _, tc := range []struct {
		name, unit string
		req        func() outbound.Request
		max        int
	}{
		{"free-form", "outbound-free-form", func() outbound.Request {
			to := h.recipient()
			h.openWindow(snd, customer.Ref{Phone: to})
			return textReq("text", snd, to)
		}, 5},
		{"template to a new recipient", "outbound-template", func() outbound.Request {
			return templateReq("template", snd, h.recipient(), outbound.CategoryUtility)
		}, 6},
	} {
		calls := run(tc.req())
		testenv.LogCallReport(t, testenv.CallReport{Unit: tc.unit, Units: 1, DDB: calls}) // for make bench
		t.Logf("%s: %d calls (%s); first request of the sender: %d (%s)", tc.name, testenv.Total(calls), testenv.String(calls), testenv.Total(first), testenv.String(first))
		if testenv.Total(calls) > tc.max {
			t.Errorf("%s: %d DynamoDB calls (%s), want at most %d", tc.name, testenv.Total(calls), testenv.String(calls), tc.max)
		}
	}
}

// TestSlowPathReadsTheRecordOnce: a status that overtook the send sends the consumer down the
// slow path (apply the kept statuses, then the 131047 check); the record is read once there,
// by applying the statuses, not again for the check.
func TestSlowPathReadsTheRecordOnce(t *testing.T) {
	t.Parallel()
	h := newStackHarness(t)
	counter := &countingAPI{API: h.ddb, n: map[string]int{}}
	cst := store.New(counter, h.table, h.clock.Now)
	opts := h.opts
	opts.Store, opts.Orphans, opts.SharedPacing = cst.Outbound(), cst, true
	c, err := outbound.NewConsumer(opts)
	if err != nil {
		t.Fatal(err)
	}
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	st := whatsapp.Status{ID: "wamid.SLOW1", Status: "delivered", Timestamp: whatsapp.UnixTime(h.clock.Now().Unix())}
	if err := h.st.PutOrphanStatus(h.ctx, webhook.OrphanStatus{PhoneNumberID: snd.ID, WABAID: snd.WABAID, Status: st}); err != nil {
		t.Fatal(err)
	}
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: snd.ID,
		Body: `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.SLOW1"}]}`})
	req := textReq("slow", snd, to)
	counter.reset()
	if failed := c.Handle(h.ctx, []outbound.Delivery{h.delivery(req)}); len(failed) != 0 {
		t.Fatal("slow failed")
	}
	if rec := h.record(req.ID); rec.Status != outbound.StatusDelivered || rec.WAMID != "wamid.SLOW1" {
		t.Fatalf("record %+v", rec)
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	// Before the slow path kept the record it applied the statuses to, it read it once more.
	if n := counter.gets["MSG#"+req.ID]; n > 2 {
		t.Errorf("record read %d times, want at most 2 (calls: %s)", n, testenv.String(counter.n))
	}
}

// TestAliasLearnedLaterIsSeen: a recipient first messaged by phone before any alias existed;
// the customer then writes, the webhook learns its BSUID and keys the window by it. The next
// request by phone, moments later on the same instance, finds that window (a missing alias
// is not cached).
func TestAliasLearnedLaterIsSeen(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	snd := h.newSender(nil)
	to := h.recipient()
	h.send(templateReq("first", snd, to, outbound.CategoryUtility))
	if rec := h.record("first"); rec.Status != outbound.StatusSent {
		t.Fatalf("first: %s/%s", rec.Status, rec.Reason)
	}
	full := customer.Ref{Phone: to, UserID: "GB.1234567890" + to[len(to)-4:]}
	if err := h.st.PutAliasAt(h.ctx, snd.WABAID, full, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.openWindow(snd, customer.Ref{UserID: full.UserID})
	h.clock.Advance(time.Second)
	h.send(textReq("reply", snd, to))
	if rec := h.record("reply"); rec.Status != outbound.StatusSent {
		t.Errorf("reply by phone after the BSUID's window opened: %s/%s (%s)", rec.Status, rec.Reason, rec.Detail)
	}
}

// refusedQueue is a webhook queue that must not be used: a status POST sends nothing.
type refusedQueue struct{}

func (refusedQueue) SendBatch(context.Context, string, []string, func(int) (string, string)) error {
	return errors.New("a status POST sent to a queue")
}

func (refusedQueue) Send(context.Context, string, string, string, string) error {
	return errors.New("a status POST sent to a queue")
}

// TestDynamoDBCallsPerStatus: a status webhook for a message this consumer sent (it carries
// biz_opaque_callback_data, the request id, which every send sets) costs one DynamoDB call, a
// conditional UpdateItem, and no read; so do sent, delivered and read of one message in one POST.
func TestDynamoDBCallsPerStatus(t *testing.T) {
	t.Parallel()
	h := newStackHarness(t)
	counter := &countingAPI{API: h.ddb, n: map[string]int{}}
	const secret = "calls-secret"
	wh, err := webhook.New(webhook.Config{AppSecret: secret, VerifyToken: "v", InboundQueueURL: "in", OutboundQueueURL: "out"},
		webhook.Deps{Store: store.New(counter, h.table, h.clock.Now), Queue: refusedQueue{}, Now: h.clock.Now, Metrics: io.Discard,
			Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	snd := h.newSender(nil)
	for _, tc := range []struct {
		name     string
		statuses []string
		want     outbound.Status
	}{
		{"delivered", []string{"delivered"}, outbound.StatusDelivered},
		{"sent, delivered and read in one POST", []string{"sent", "delivered", "read"}, outbound.StatusRead},
	} {
		to := h.recipient()
		h.openWindow(snd, customer.Ref{Phone: to})
		req := textReq("status-calls-"+tc.statuses[0]+fmt.Sprint(len(tc.statuses)), snd, to)
		if failed := h.c.Handle(h.ctx, []outbound.Delivery{h.delivery(req)}); len(failed) != 0 {
			t.Fatalf("%s: send failed", tc.name)
		}
		rec := h.record(req.ID)
		if rec.Status != outbound.StatusSent || rec.WAMID == "" {
			t.Fatalf("%s: record after the send: %+v", tc.name, rec)
		}
		var sts []string
		for i, s := range tc.statuses {
			sts = append(sts, fmt.Sprintf(`{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q,"biz_opaque_callback_data":%q}`,
				rec.WAMID, s, h.clock.Now().Unix()+int64(i), strings.TrimPrefix(to, "+"), req.ID))
		}
		body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":`+
			`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":%q},"statuses":[%s]}}]}]}`,
			snd.WABAID, snd.ID, strings.Join(sts, ",")))
		post := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		post.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(secret), body))
		counter.reset()
		w := httptest.NewRecorder()
		wh.ServeHTTP(w, post)
		calls := counter.reset()
		if w.Code != http.StatusOK {
			t.Fatalf("%s: webhook answered %d", tc.name, w.Code)
		}
		t.Logf("%s: %d calls (%s)", tc.name, testenv.Total(calls), testenv.String(calls))
		if testenv.Total(calls) != 1 || calls["UpdateItem"] != 1 {
			t.Errorf("%s: %d DynamoDB calls (%s), want 1 UpdateItem", tc.name, testenv.Total(calls), testenv.String(calls))
		}
		if got := h.record(req.ID); got.Status != tc.want || got.WAMID != rec.WAMID {
			t.Errorf("%s: record %s/%s, want %s", tc.name, got.Status, got.WAMID, tc.want)
		}
	}
}
