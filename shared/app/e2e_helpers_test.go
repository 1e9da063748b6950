package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Secrets of the end-to-end tests: distinctive, so that finding one in a log is unambiguous.
const (
	e2eAppSecret   = "e2e-app-secret-Zq81xw"
	e2eVerifyToken = "e2e-verify-token-Kd22vb"
	e2eAccessToken = "e2e-access-token-Pm93rt"
	e2eVerifyCode  = "918273"
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

// stdoutMu serialises the moments the tests point os.Stdout elsewhere.
var stdoutMu sync.Mutex

// e2e is the four functions composed by the app constructors, as the Lambda mains and
// `make run` compose them, served over real HTTP against DynamoDB Local, fauxqs and the Graph
// API fake, with every log line and metric line captured.
type e2e struct {
	t         *testing.T
	srv       *httptest.Server
	fake      *graphfake.Fake
	logs      *syncBuffer
	stdout    *os.File // what the functions wrote to stdout (EMF metrics)
	st        *store.Store
	sq        *sqs.Client
	outbound  string
	inbound   string
	consume   func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	reconcile func(context.Context) error
	// responses keeps every answer body the tests read.
	responses syncBuffer
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	ddb := testenv.DynamoDB(t)
	sq := testenv.SQS(t)
	table := testenv.Table(t, ddb)
	out, in, _ := testenv.Queues(t, sq)
	fake := graphfake.New(graphfake.Options{Token: e2eAccessToken, VerifyCode: e2eVerifyCode})
	fakeURL := graphfake.Serve(t, fake)
	cfg := config.Config{
		TableName: table, OutboundQueueURL: out, InboundQueueURL: in,
		GraphBaseURL: fakeURL, GraphVersion: config.DefaultGraphVersion,
		FreeEntryWindow: config.DefaultFreeEntryWindow, ThroughputPerSecond: config.DefaultThroughput,
		LogLevel: "DEBUG",
		Secrets:  config.Secrets{AppSecret: e2eAppSecret, VerifyToken: e2eVerifyToken, AccessToken: e2eAccessToken},
	}
	e := &e2e{t: t, fake: fake, logs: &syncBuffer{}, st: store.New(ddb, table, nil), sq: sq, outbound: out, inbound: in}
	deps := app.Deps{Config: cfg, Store: e.st, SQS: sq, Graph: app.NewGraphFor(cfg, nil),
		Log: logging.New(e.logs, "DEBUG"), Now: time.Now}

	f, err := os.CreateTemp(t.TempDir(), "stdout-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	e.stdout = f
	// The constructors write metrics to the process's stdout (the Lambda log stream); capture
	// what they bound it to.
	stdoutMu.Lock()
	saved := os.Stdout
	os.Stdout = f
	webhook, werr := app.Webhook(deps)
	admin, aerr := app.Senders(deps)
	consume, cerr := app.Outbound(deps)
	reconcile, rerr := app.Reconciler(deps)
	os.Stdout = saved
	stdoutMu.Unlock()
	for _, err := range []error{werr, aerr, cerr, rerr} {
		if err != nil {
			t.Fatalf("compose: %v", err)
		}
	}
	e.consume, e.reconcile = consume, reconcile
	mux := http.NewServeMux()
	mux.Handle("/webhook", webhook)
	for _, p := range []string{"/senders", "/senders/", "/messages", "/messages/", "/templates"} {
		mux.Handle(p, admin)
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// output is everything the functions wrote: logs and stdout.
func (e *e2e) output() string {
	b, err := os.ReadFile(e.stdout.Name())
	if err != nil {
		e.t.Fatal(err)
	}
	return e.logs.String() + string(b)
}

// do sends a request and returns the status and body (no redirects, bounded read).
func (e *e2e) do(method, path, contentType string, body []byte, header map[string]string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		// A handler panic makes net/http drop the connection: that is a crash.
		e.t.Fatalf("%s %s: no answer (crash?): %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e.responses.Write(b)
	return resp.StatusCode, b
}

// postSigned posts a webhook body signed with the app secret.
func (e *e2e) postSigned(body []byte, contentType string) (int, []byte) {
	e.t.Helper()
	return e.do(http.MethodPost, "/webhook", contentType, body,
		map[string]string{whatsapp.SignatureHeader: whatsapp.Sign([]byte(e2eAppSecret), body)})
}

// alive checks that the server still answers (the handshake).
func (e *e2e) alive() {
	e.t.Helper()
	st, _ := e.do(http.MethodGet, "/webhook?hub.mode=subscribe&hub.challenge=42&hub.verify_token="+e2eVerifyToken, "", nil, nil)
	if st != http.StatusOK {
		e.t.Fatalf("handshake after bad input: %d", st)
	}
}

// drainOutbound feeds the outbound queue to the consumer, as the event source does, until it
// stays empty for a second.
func (e *e2e) drainOutbound(ctx context.Context) {
	e.t.Helper()
	quietSince := time.Now()
	for time.Since(quietSince) < time.Second {
		out, err := e.sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.outbound), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			e.t.Fatalf("receive outbound: %v", err)
		}
		if len(out.Messages) == 0 {
			continue
		}
		quietSince = time.Now()
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId),
				ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), Attributes: m.Attributes})
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := e.consume(cctx, ev)
		cancel()
		if err != nil {
			e.t.Fatalf("consume: %v", err)
		}
		failed := map[string]bool{}
		for _, f := range res.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for i, m := range out.Messages {
			if failed[aws.ToString(m.MessageId)] {
				continue
			}
			_, _ = e.sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.outbound), ReceiptHandle: m.ReceiptHandle})
			_ = i
		}
	}
}

// inboundBodies reads the inbound queue until it stays empty for a second.
func (e *e2e) inboundBodies(ctx context.Context) []string {
	e.t.Helper()
	var bodies []string
	quietSince := time.Now()
	for time.Since(quietSince) < time.Second {
		out, err := e.sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.inbound), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			e.t.Fatalf("receive inbound: %v", err)
		}
		for _, m := range out.Messages {
			quietSince = time.Now()
			bodies = append(bodies, aws.ToString(m.Body))
			_, _ = e.sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.inbound), ReceiptHandle: m.ReceiptHandle})
		}
	}
	return bodies
}

// parked reports whether body was kept in a parking record today.
func (e *e2e) parked(ctx context.Context, body []byte) bool {
	e.t.Helper()
	list, err := e.st.ParkedOn(ctx, time.Now())
	if err != nil {
		e.t.Fatalf("parked: %v", err)
	}
	for _, p := range list {
		if bytes.Equal(p.Body, body) {
			return true
		}
	}
	return false
}

// textMessage is a signed-able notification with one text message from a customer.
func textMessage(waba, pnid, display, waID, userID, wamid, text string, ts time.Time) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"` + display + `","phone_number_id":"` + pnid + `"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"` + waID + `","user_id":"` + userID + `"}],"messages":[{"from":"` + waID + `","from_user_id":"` + userID + `","id":"` + wamid + `","timestamp":"` + strconv.FormatInt(ts.Unix(), 10) + `","type":"text","text":{"body":` + jsonString(text) + `}}]}}]}]}`)
}

func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
