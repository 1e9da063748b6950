package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// listCounter is the real store, counting the sender-list reads made through it.
type listCounter struct {
	*store.Store
	n atomic.Int64
}

func (l *listCounter) ListSendersByWABA(ctx context.Context, waba string) ([]*sender.Sender, error) {
	l.n.Add(1)
	return l.Store.ListSendersByWABA(ctx, waba)
}

func statusBody(wamid, status, requestID, to string, ts int64) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"%s","changes":[{"field":"messages","value":`+
		`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"%s"},`+
		`"statuses":[{"id":"%s","status":"%s","timestamp":"%d","recipient_id":"%s","biz_opaque_callback_data":"%s"}]}}]}]}`,
		waba, pnid, wamid, status, ts, to, requestID))
}

// TestDynamoDBCallsPerWebhook counts the DynamoDB and SQS calls of the webhook's units of
// work, on the real clients against DynamoDB Local and fauxqs, with the instance's caches warm
// (a first message fills them): an inbound text message from a returning customer and from a
// new one, a delivery status carrying biz_opaque_callback_data, and a 100-change POST (60
// messages, 30 statuses, 10 management changes). It logs each count for make bench
// (testenv.LogCallReport) and fails when a count grows past what the code did when issue 10
// was filed; the targets are BENCHMARKS.md's headline.
func TestDynamoDBCallsPerWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ddb := &testenv.Calls{Base: e.ddbN.base}
	sq := &testenv.Calls{Base: e.sqsN.base}
	e.ddbN.base, e.sqsN.base = ddb, sq
	lists := &listCounter{Store: e.st}
	h, err := webhook.New(webhook.Config{
		AppSecret: appSecret, VerifyToken: verifyToken,
		InboundQueueURL: e.inURL, OutboundQueueURL: e.outURL,
		FreeEntryWindow: 72 * time.Hour, Timeout: 20 * time.Second,
	}, webhook.Deps{Store: lists, Queue: queue.New(e.sqs), Now: e.clk.Now, Metrics: e.metrics,
		Log: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(appSecret), body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("POST answered %d; logs:\n%s", rec.Code, e.logs.String())
		}
	}
	e.seedSender()
	for j := 0; j < 10; j++ {
		e.seedRecordTo(fmt.Sprintf("req-%d", j), fmt.Sprintf("wamid.out.%d", j), fmt.Sprintf("+40720000%03d", j))
	}
	e.seedRecordTo("req-status", "wamid.out.status", "+40720000999")
	const ts = 1764000000
	post(textBody(-1, "40721234567", ts)) // warm the instance's caches
	ddb.Reset()
	sq.Reset()
	lists.n.Store(0)

	for _, tc := range []struct {
		unit  string
		body  []byte
		units int
		// maxDDB and maxSQS are the most calls per unit this design needs (issue 10's targets;
		// the new customer's two extra writes and the POST's mean have no target, so they are
		// held at what the code does today, to catch a regression).
		maxDDB, maxSQS float64
		check          func() error
	}{
		{unit: "inbound-text", body: textBody(1, "40721234567", ts+1), units: 1, maxDDB: 1, maxSQS: 1},
		{unit: "inbound-text-new-customer", body: textBody(2, "40729876543", ts+2), units: 1, maxDDB: 3, maxSQS: 1},
		{unit: "status", body: statusBody("wamid.out.status", "delivered", "req-status", "40720000999", ts+3), units: 1, maxDDB: 1, maxSQS: 0,
			check: func() error {
				if r := e.record("req-status"); r.Status != outbound.StatusDelivered {
					return fmt.Errorf("record after the status: %s, want delivered", r.Status)
				}
				return nil
			}},
		{unit: "post-100-changes", body: batchBody(1, ts+10), units: 100, maxDDB: 2.7, maxSQS: 0.1},
	} {
		post(tc.body)
		ops, cond := ddb.Take()
		r := testenv.CallReport{Unit: tc.unit, Units: tc.units, DDB: ops, SQS: sq.Reset(),
			Extra: map[string]int{"sender-list-reads": int(lists.n.Swap(0)), testenv.ExtraConditionalWrites: cond}}
		testenv.LogCallReport(t, r)
		if tc.check != nil {
			if err := tc.check(); err != nil {
				t.Errorf("%s: %v", tc.unit, err)
			}
		}
		if got := float64(testenv.Total(r.DDB)) / float64(tc.units); got > tc.maxDDB {
			t.Errorf("%s: %.2f DynamoDB calls per unit (%s), want at most %.1f", tc.unit, got, testenv.String(r.DDB), tc.maxDDB)
		}
		if got := float64(testenv.Total(r.SQS)) / float64(tc.units); got > tc.maxSQS {
			t.Errorf("%s: %.2f SQS calls per unit (%s), want at most %.1f", tc.unit, got, testenv.String(r.SQS), tc.maxSQS)
		}
		if n := r.Extra["sender-list-reads"]; n > 1 {
			t.Errorf("%s: the WABA's sender list read %d times in one POST, want at most once", tc.unit, n)
		}
	}
}
