package outbound_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/enqueue"
	"github.com/aloro/wa-senders/shared/outbound/outboundtest"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/store/memory"
	"github.com/aloro/wa-senders/shared/testenv"
)

// BenchmarkConsumerInProcess measures the consumer's own cost per request (decode, decide,
// pace, build the send, write the record) on an in-memory store and a Graph client that answers
// at once: ns and allocations per request. Batches of 10 requests to distinct recipients, half
// free-form in an open window, half templates outside it (budget claims).
func BenchmarkConsumerInProcess(b *testing.B) {
	clk := outboundtest.NewClock(time.Now())
	ms := memory.New(clk.Now)
	ctx := context.Background()
	snd := sender.Sender{ID: "106540352242922", PhoneNumber: "+40721000001", WABAID: "w", Status: sender.StatusOnline}
	if err := ms.CreateSender(ctx, &snd); err != nil {
		b.Fatal(err)
	}
	if _, err := ms.SetPortfolioTier(ctx, snd.PortfolioKey(), "TIER_100K", clk.Now()); err != nil {
		b.Fatal(err)
	}
	const recipients = 10000
	bodies := make([]string, recipients)
	groups := make([]string, recipients)
	for i := range recipients {
		to := fmt.Sprintf("+447911%06d", i)
		req := outbound.Request{SenderID: snd.ID, To: to, Text: "Your order shipped"}
		if i%2 == 1 {
			req.Text = ""
			req.Template = &outbound.Template{Name: "order_update", Language: "en_US", Category: "utility"}
		} else {
			w := customer.WindowFor(clk.Now(), false, 1000*time.Hour)
			if err := ms.OpenWindow(ctx, snd.ID, customer.Ref{Phone: to}, w); err != nil {
				b.Fatal(err)
			}
		}
		req.ID = "{ID}"
		raw, _ := json.Marshal(req)
		bodies[i] = string(raw)
		groups[i] = outbound.GroupID(req)
	}
	c, err := outbound.NewConsumer(outbound.Options{Store: ms.Outbound(), Graph: &instantGraph{}, QueueURL: "q", Clock: clk,
		Pacer: outbound.NewPacer(), ThroughputPerSecond: 1000})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]outbound.Delivery, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		k := 0
		for ; k < len(batch) && n < b.N; k, n = k+1, n+1 {
			i := n % recipients
			id := fmt.Sprintf("bench-%d", n)
			batch[k] = outbound.Delivery{MessageID: id, Body: replaceID(bodies[i], id), GroupID: groups[i], ReceiveCount: 1}
		}
		if failed := c.Handle(context.Background(), batch[:k]); len(failed) != 0 {
			b.Fatalf("failed %v", failed)
		}
	}
}

// instantGraph accepts every send at once.
type instantGraph struct{}

func (g *instantGraph) SendMessage(context.Context, string, graph.Message) (graph.SendResult, error) {
	return graph.SendResult{WAMID: "wamid.BENCH", MessageStatus: "accepted"}, nil
}

func replaceID(body, id string) string {
	const ph = `"{ID}"`
	for i := 0; i+len(ph) <= len(body); i++ {
		if body[i:i+len(ph)] == ph {
			return body[:i] + `"` + id + `"` + body[i+len(ph):]
		}
	}
	return body
}

// BenchmarkDecide is the decision alone.
func BenchmarkDecide(b *testing.B) {
	now := time.Now()
	f := outbound.Facts{Now: now, Sender: &sender.Sender{ID: "1", Status: sender.StatusOnline},
		Request: outbound.Request{ID: "r", SenderID: "1", To: "+40721234567", Text: "hi", Template: &outbound.Template{Name: "t", Language: "en"}},
		Window:  customer.Window{ExpiresAt: now.Add(-time.Hour)}}
	b.ReportAllocs()
	for b.Loop() {
		_ = outbound.Decide(f)
	}
}

// BenchmarkDecode is the strict decoding and validation of one request.
func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"id":"order-42:shipped","from":"+40721234567","to":"+447911123456","text":"Your order shipped","template":{"name":"order_update","language":"en_US","category":"utility","components":[{"type":"body","parameters":[{"type":"text","text":"Jessica"}]}]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := outbound.Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsumerLocalStack measures requests per second through the whole consumer on the
// local stack: requests enqueued on a fauxqs FIFO queue, 10 pollers (the event source's maximum
// concurrency) receiving batches of 10, DynamoDB Local, and the Graph API fake answering every
// send in 50 ms. 20 senders, each in its own portfolio; half free-form in an open window, half
// templates outside it. Run with -benchtime=Nx (N requests).
func BenchmarkConsumerLocalStack(b *testing.B) {
	testenv.Integration(b)
	ctx := context.Background()
	ddb, sq := testenv.DynamoDB(b), testenv.SQS(b)
	outboundURL, _, _ := testenv.Queues(b, sq)
	table := testenv.Table(b, ddb)
	// testenv's clients use net/http's default of 2 idle connections per host; 100 requests in
	// flight need a pool, as the SDK's own default transport has in production.
	pooled := testenv.Config()
	pooled.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}}
	ddb = dynamodb.NewFromConfig(pooled, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint())
		o.DisableValidateResponseChecksum = true
	})
	sq = sqs.NewFromConfig(pooled, func(o *sqs.Options) { o.BaseEndpoint = aws.String(testenv.SQSEndpoint()) })
	st := store.New(ddb, table, nil)
	fake := graphfake.New(graphfake.Options{SendLatency: 50 * time.Millisecond, MaxRecords: 1000})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	deps := app.Deps{
		Config: config.Config{OutboundQueueURL: outboundURL, ThroughputPerSecond: config.DefaultThroughput},
		Store:  st, SQS: sq, Now: time.Now, Log: testLog(nil),
		Graph: graph.New(graph.Options{BaseURL: srv.URL, Version: "v26.0", Token: graphfake.DefaultToken}),
	}
	// Wired as in production: pacing is shared through the table.
	c, err := app.OutboundConsumer(deps, nil)
	if err != nil {
		b.Fatal(err)
	}

	const senders = 20
	var snds []*sender.Sender
	for i := range senders {
		s := &sender.Sender{ID: fmt.Sprintf("2065%06d", i), PhoneNumber: fmt.Sprintf("+40722%06d", i), WABAID: fmt.Sprintf("wb-%d", i),
			Status: sender.StatusOnline, Assistants: []string{}}
		if err := st.CreateSender(ctx, s); err != nil {
			b.Fatal(err)
		}
		if _, err := st.SetPortfolioTier(ctx, s.PortfolioKey(), "TIER_100K", time.Now()); err != nil {
			b.Fatal(err)
		}
		snds = append(snds, s)
	}
	enq := enqueue.New(queue.New(sq), outboundURL)
	for n := range b.N {
		snd := snds[n%senders]
		to := fmt.Sprintf("+447911%06d", n)
		req := outbound.Request{ID: fmt.Sprintf("lb-%d", n), SenderID: snd.ID, To: to, Text: "Your order shipped"}
		if n%2 == 0 {
			if err := st.OpenWindow(ctx, snd.ID, customer.Ref{Phone: to}, customer.WindowFor(time.Now(), false, 0)); err != nil {
				b.Fatal(err)
			}
		} else {
			req.Text, req.Template = "", &outbound.Template{Name: "order_update", Language: "en_US", Category: "utility"}
		}
		if err := enq.Enqueue(ctx, req); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	start := time.Now()
	var done atomic.Int64
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idle := 0
			for done.Load() < int64(b.N) && idle < 50 {
				n, failed, err := outboundtest.PollOnce(ctx, sq, outboundURL, c.HandleEvent)
				if err != nil {
					b.Error(err)
					return
				}
				if n == 0 {
					idle++
					time.Sleep(20 * time.Millisecond)
					continue
				}
				idle = 0
				done.Add(int64(n - failed))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if got := done.Load(); got != int64(b.N) {
		b.Fatalf("processed %d of %d", got, b.N)
	}
	if sends := fake.Stats().Sends; sends != int64(b.N) {
		b.Fatalf("Meta accepted %d sends of %d", sends, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
