package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Benchmarks (go test -bench . ./shared/webhook/ with the local stack): CPU and allocations
// per POST through the real handler, in-process, with the store on DynamoDB Local and the queue
// on fauxqs, next to the floor measured in the same run (HMAC of the body + encoding/json into
// map[string]any). Reported per op: wall time (ns/op, includes the local services' latency),
// the process's CPU time (cpu-µs/op: handler plus SDK clients, not the services), allocations,
// and DynamoDB and SQS requests.

func textMessage(id int, customer string, ts int64) string {
	return fmt.Sprintf(`{"from":"%s","from_user_id":"US.%s","id":"wamid.bench.%d","timestamp":"%d","type":"text","text":{"body":"Hi! Do you deliver to Cluj on Sundays?"}}`,
		customer, customer, id, ts)
}

func textBody(i int, customer string, ts int64) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"%s","changes":[{"field":"messages","value":`+
		`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"%s"},`+
		`"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"%s","user_id":"US.%s"}],"messages":[%s]}}]}]}`,
		waba, pnid, customer, customer, textMessage(i, customer, ts)))
}

// batchBody is one POST of 100 changes: 60 customer messages (from 60 customers), 30 statuses
// of known outbound messages, and 10 management changes (template status and quality, limits).
func batchBody(i int, ts int64) []byte {
	var changes []string
	for j := 0; j < 60; j++ {
		cust := fmt.Sprintf("4072%07d", j)
		changes = append(changes, fmt.Sprintf(`{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"%s"},`+
			`"contacts":[{"profile":{"name":"C"},"wa_id":"%s","user_id":"US.%s"}],"messages":[%s]}}`,
			pnid, cust, cust, textMessage(i*1000+j, cust, ts)))
	}
	for j := 0; j < 30; j++ {
		st := []string{"sent", "delivered", "read"}[j%3]
		changes = append(changes, fmt.Sprintf(`{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"%s"},`+
			`"statuses":[{"id":"wamid.out.%d","status":"%s","timestamp":"%d","recipient_id":"40720000%03d","biz_opaque_callback_data":"req-%d"}]}}`,
			pnid, j/3, st, ts+int64(j%3), j/3, j/3))
	}
	for j := 0; j < 10; j++ {
		if j%2 == 0 {
			changes = append(changes, fmt.Sprintf(`{"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":%d,"message_template_name":"t%d","message_template_language":"en_US","reason":"NONE"}}`, j, j))
		} else {
			changes = append(changes, `{"field":"business_capability_update","value":{"max_daily_conversations_per_business":"TIER_10K"}}`)
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"object":"whatsapp_business_account","entry":[{"id":"%s","time":%d,"changes":[`, waba, ts)
	for j, c := range changes {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// floor is the least any webhook must do with a body: check its HMAC and decode its JSON.
func floor(b *testing.B, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	cpu0 := cpuTime()
	for b.Loop() {
		m := hmac.New(sha256.New, []byte(appSecret))
		m.Write(body)
		_ = m.Sum(nil)
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

// reportCPU reports the process's CPU time per op since cpu0 (garbage collection included), a
// steadier figure than ns/op on a shared machine, where waiting for a core counts as time.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func BenchmarkFloorText(b *testing.B)     { floor(b, textBody(1, "40721234567", 1764000000)) }
func BenchmarkFloorBatch100(b *testing.B) { floor(b, batchBody(1, 1764000000)) }

// benchPOST posts pre-built bodies through the handler and reports CPU and request counts.
func benchPOST(b *testing.B, e *env, bodies func(i int) []byte, messagesPerPost int) {
	b.Helper()
	// Build and sign every body first: Meta does that work, not the handler.
	n := b.N
	reqs := make([][]byte, n)
	sigs := make([]string, n)
	for i := range n {
		reqs[i] = bodies(i)
		sigs[i] = whatsapp.Sign([]byte(appSecret), reqs[i])
	}
	ddb0, sqs0, cpu0 := e.ddbN.n.Load(), e.sqsN.n.Load(), cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range n {
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(reqs[i]))
		req.Header.Set(whatsapp.SignatureHeader, sigs[i])
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("POST %d answered %d: %s", i, rec.Code, e.logs.String())
		}
	}
	b.StopTimer()
	ddb, sq, cpu := float64(e.ddbN.n.Load()-ddb0), float64(e.sqsN.n.Load()-sqs0), cpuTime()-cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/op")
	b.ReportMetric(ddb/float64(n), "ddb-req/op")
	b.ReportMetric(sq/float64(n), "sqs-req/op")
	b.ReportMetric(ddb/float64(n*messagesPerPost), "ddb-req/msg")
}

// BenchmarkPOSTText is one customer text message per POST, the common case: a known sender and
// a returning customer (sender and alias cached by the instance, as in a warm Lambda).
func BenchmarkPOSTText(b *testing.B) {
	e := newEnv(b)
	e.seedSender()
	e.mustPost(textBody(-1, "40721234567", 1764000000)) // warm the instance's caches
	benchPOST(b, e, func(i int) []byte { return textBody(i, "40721234567", 1764000001+int64(i)) }, 1)
}

// BenchmarkPOSTTextNewCustomer is the same with a new customer every time (alias written).
func BenchmarkPOSTTextNewCustomer(b *testing.B) {
	e := newEnv(b)
	e.seedSender()
	benchPOST(b, e, func(i int) []byte { return textBody(i, fmt.Sprintf("4072%07d", i), 1764000001) }, 1)
}

// BenchmarkPOSTStatus is one delivered status per POST for a message the outbound consumer sent
// (it carries biz_opaque_callback_data, the request id): one conditional write, no read.
func BenchmarkPOSTStatus(b *testing.B) {
	e := newEnv(b)
	e.seedSender()
	benchPOST(b, e, func(i int) []byte {
		id, wamid := fmt.Sprintf("req-st-%d", i), fmt.Sprintf("wamid.st.%d", i)
		e.seedRecord(id, wamid, false)
		return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"%s","changes":[{"field":"messages","value":`+
			`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"%s"},`+
			`"statuses":[{"id":"%s","status":"delivered","timestamp":"1764000100","recipient_id":"%s","biz_opaque_callback_data":"%s"}]}}]}]}`,
			waba, pnid, wamid, strings.TrimPrefix(custPhone, "+"), id))
	}, 1)
}

// BenchmarkPOSTBatch100 is one POST of 100 changes (60 messages, 30 statuses, 10 management).
func BenchmarkPOSTBatch100(b *testing.B) {
	e := newEnv(b)
	e.seedSender()
	for j := 0; j < 10; j++ {
		e.seedRecordTo(fmt.Sprintf("req-%d", j), fmt.Sprintf("wamid.out.%d", j), fmt.Sprintf("+40720000%03d", j))
	}
	benchPOST(b, e, func(i int) []byte { return batchBody(i, 1764000000+int64(i)*10) }, 60)
}

// BenchmarkFloorSDKRequest is one DynamoDB GetItem through the SDK against DynamoDB Local: the
// client-side CPU every storage request costs, whatever the handler does.
func BenchmarkFloorSDKRequest(b *testing.B) {
	e := newEnv(b)
	e.seedSender()
	cpu0 := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.st.GetSender(e.ctx, pnid); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkHandlerOnly runs the same POSTs with storage and queue ports that do nothing: the
// handler's own CPU and allocations (signature, parsing, effects logic, event encoding, its log
// and metrics lines as production writes them), to set against the floor. The request and the
// response writer are the cheapest that carry what the handler reads, so that the figure is the
// handler's and not the test server's.
func BenchmarkHandlerOnly(b *testing.B) {
	for _, c := range []struct {
		name string
		body func(i int) []byte
	}{
		{"text", func(i int) []byte { return textBody(i, "40721234567", 1764000001+int64(i)) }},
		{"batch100", func(i int) []byte { return batchBody(i, 1764000000+int64(i)*10) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			h, err := webhook.New(webhook.Config{AppSecret: appSecret, VerifyToken: verifyToken, InboundQueueURL: "in", OutboundQueueURL: "out"},
				webhook.Deps{Store: nopStore{}, Queue: nopQueue{}, Now: func() time.Time { return fixtureTime },
					Log: logging.New(io.Discard, "INFO"), Metrics: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			body := c.body(1)
			header := http.Header{whatsapp.SignatureHeader: {whatsapp.Sign([]byte(appSecret), body)}}
			target := &url.URL{Path: "/webhook"}
			w := &codeWriter{header: http.Header{}}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			cpu0 := cpuTime()
			for b.Loop() {
				req := &http.Request{Method: http.MethodPost, URL: target, Header: header, ContentLength: int64(len(body)),
					Body: io.NopCloser(bytes.NewReader(body))}
				clear(w.header)
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("%d", w.code)
				}
			}
			reportCPU(b, cpu0)
		})
	}
}

// codeWriter is a ResponseWriter that keeps the status code only.
type codeWriter struct {
	header http.Header
	code   int
}

func (w *codeWriter) Header() http.Header         { return w.header }
func (w *codeWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteString makes codeWriter an io.StringWriter, as the Lambda adapter's recorder is.
func (w *codeWriter) WriteString(s string) (int, error) { return len(s), nil }
func (w *codeWriter) WriteHeader(code int)              { w.code = code }

// nopStore satisfies every storage port and stores nothing (benchmarks of the handler alone).
type nopStore struct{}

var errNope = fmt.Errorf("nop store: %w", persist.ErrNotFound)

func (nopStore) Claim(context.Context, string, string, time.Duration) (webhook.ClaimState, error) {
	return webhook.Claimed, nil
}
func (nopStore) RecordInbound(context.Context, webhook.InboundMessage) (bool, error) {
	return false, nil
}
func (nopStore) MarkForwarded(context.Context, []webhook.InboundMessage) error { return nil }
func (nopStore) MarkDone(context.Context, []string) error                      { return nil }
func (nopStore) Release(context.Context, string, string) error                 { return nil }
func (nopStore) Park(context.Context, webhook.Parked) error                    { return nil }
func (nopStore) GetSender(context.Context, string) (*sender.Sender, error) {
	return &sender.Sender{ID: pnid, PhoneNumber: senderE164, WABAID: waba}, nil
}
func (nopStore) GetSenderByPhone(context.Context, string) (*sender.Sender, error) {
	return &sender.Sender{ID: pnid, PhoneNumber: senderE164, WABAID: waba}, nil
}
func (nopStore) ListSendersByWABA(context.Context, string) ([]*sender.Sender, error) {
	return []*sender.Sender{{ID: pnid, PhoneNumber: senderE164, WABAID: waba}}, nil
}
func (nopStore) UpdateSender(_ context.Context, _ string, fn persist.Update[sender.Sender]) (*sender.Sender, error) {
	return nopApply(&sender.Sender{ID: pnid, Status: sender.StatusOnline}, fn)
}
func (nopStore) SetPortfolioTier(context.Context, string, string, time.Time) (bool, error) {
	return true, nil
}
func (nopStore) OpenWindow(context.Context, string, customer.Ref, customer.Window) error { return nil }
func (nopStore) CloseWindowAt(context.Context, string, customer.Ref, time.Time) error    { return nil }
func (nopStore) PutAliasAt(context.Context, string, customer.Ref, time.Time) error       { return nil }
func (nopStore) ResolveCustomer(_ context.Context, _ string, c customer.Ref) (customer.Ref, error) {
	return c, nil
}
func (nopStore) ApplyOptOut(context.Context, string, customer.Ref, webhook.OptOutEvent) error {
	return nil
}
func (nopStore) CopyOptOut(context.Context, string, customer.Ref, customer.Ref) error { return nil }
func (nopStore) MarkDeliverability(context.Context, string, customer.Ref, customer.Deliverability) error {
	return nil
}
func (nopStore) RequestIDForWAMID(context.Context, string) (string, error) { return "", errNope }
func (nopStore) UpdateKnownRecord(_ context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	return nopApply(&outbound.Record{ID: id, Status: outbound.StatusSent}, fn)
}
func (nopStore) ApplyDeliveryStatus(_ context.Context, id string, _ webhook.DeliveryStatus) (webhook.StatusWrite, error) {
	return webhook.StatusWrite{Prev: &outbound.Record{ID: id, Status: outbound.StatusSent}, Applied: true}, nil
}
func (nopStore) PutOrphanStatus(context.Context, webhook.OrphanStatus) error { return nil }
func (nopStore) ApplyOrphans(context.Context, string, string) (*outbound.Record, error) {
	return nil, nil
}
func (nopStore) UpdateTemplateState(_ context.Context, _, _, _ string, fn persist.Update[webhook.TemplateState]) (webhook.TemplateState, error) {
	t, err := nopApply(nil, fn)
	if t == nil {
		return webhook.TemplateState{}, err
	}
	return *t, err
}
func (nopStore) GetAccount(context.Context, string) (*webhook.Account, error) {
	return &webhook.Account{}, nil
}
func (nopStore) UpdateAccount(_ context.Context, _ string, fn persist.Update[webhook.Account]) (*webhook.Account, error) {
	a, err := nopApply(nil, fn)
	if a == nil {
		a = &webhook.Account{}
	}
	return a, err
}

// nopApply runs an update closure on cur and keeps nothing.
func nopApply[T any](cur *T, fn persist.Update[T]) (*T, error) {
	next, err := fn(cur)
	if errors.Is(err, persist.ErrNoChange) {
		return cur, nil
	}
	return next, err
}

// BenchmarkFloorConditionalWrite is one conditional UpdateItem through the SDK against DynamoDB
// Local, one at a time like BenchmarkPOSTText's POSTs: the least an inbound message can cost
// the store. BenchmarkPOSTText's rate over this one's is the webhook's throughput as a share of
// raw conditional writes.
func BenchmarkFloorConditionalWrite(b *testing.B) {
	e := newEnv(b)
	i := 0
	cpu0 := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		i++
		_, err := e.ddb.UpdateItem(e.ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(e.table),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "FLOOR#1"}, "sk": &types.AttributeValueMemberS{Value: "#FLOOR"},
			},
			UpdateExpression:          aws.String("SET n = :n"),
			ConditionExpression:       aws.String("attribute_not_exists(n) OR n < :n"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: fmt.Sprint(i)}},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
