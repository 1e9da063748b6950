package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	wh "github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// The crash-between-steps scenario (-crash-steps): one inbound text message delivered to a
// webhook process that dies after each of its DynamoDB and SQS requests in turn (and once after
// all of them, before its 200 reaches Meta), then Meta's retry, to a fresh process, within
// SQS's five-minute deduplication window and after it. "After" is a fresh FIFO queue, which
// remembers no deduplication id, and the retry's clock six minutes on: no waiting. It counts
// the forwards of the message: never zero, and two only where no design can know (the process
// died after the send and the retry came after the window).

const crashSecret = "crash-app-secret"

// crashNet is one process's network: after `after` requests it is dead, every later request
// fails without reaching anything (after < 0: never). It records each request's operation.
type crashNet struct {
	after int64
	n     atomic.Int64
	mu    sync.Mutex
	ops   []string
}

var errCrashed = errors.New("process killed")

func (c *crashNet) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.after >= 0 && c.n.Add(1) > c.after {
		return nil, errCrashed
	}
	op := r.Header.Get("X-Amz-Target")
	if _, after, ok := strings.Cut(op, "."); ok {
		op = after
	}
	c.mu.Lock()
	c.ops = append(c.ops, op)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *crashNet) steps() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ops...)
}

// crashProcess is a fresh webhook process (cold caches) on res's table, forwarding to inURL.
func crashProcess(st *localStack, net *crashNet, table, inURL, outURL string, now time.Time) (*wh.Handler, error) {
	cfg := localAWS()
	cfg.HTTPClient = &http.Client{Transport: net, Timeout: 30 * time.Second}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(st.DDBEndpoint)
		o.DisableValidateResponseChecksum = true
		o.RetryMaxAttempts = 1
	})
	sq := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(st.SQSEndpoint)
		o.RetryMaxAttempts = 1
	})
	clk := func() time.Time { return now }
	return wh.New(wh.Config{
		AppSecret: crashSecret, VerifyToken: "v", InboundQueueURL: inURL, OutboundQueueURL: outURL,
		FreeEntryWindow: 72 * time.Hour, Timeout: 20 * time.Second,
	}, wh.Deps{
		Store: store.New(ddb, table, clk), Queue: queue.New(sq), Now: clk, Metrics: io.Discard,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func crashDeliver(h http.Handler, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(crashSecret), body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

const (
	crashWABA, crashPNID = "102290129340398", "106540352242922"
	crashMsgAt           = int64(1764000060)
)

func crashBody(wamid string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + crashWABA + `","changes":[{"field":"messages","value":` +
		`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"` + crashPNID + `"},` +
		`"contacts":[{"profile":{"name":"Ana"},"wa_id":"16505551234","user_id":"US.13491208655302741918"}],` +
		`"messages":[{"from":"16505551234","from_user_id":"US.13491208655302741918","id":"` + wamid + `","timestamp":"` +
		fmt.Sprint(crashMsgAt) + `","type":"text","text":{"body":"Is my order shipped?"}}]}}]}]}`)
}

// crashCase is one fresh table and queues with the sender known.
func crashCase(ctx context.Context, st *localStack, name string) (resources, error) {
	res, err := st.freshResources(ctx, name)
	if err != nil {
		return res, err
	}
	s := sender.New(crashPNID, sender.TypeExternal, "+15550783881", crashWABA, "biz", "Shop", []string{"a1"}, sender.SourceOperator, time.Unix(crashMsgAt, 0).Add(-time.Hour))
	s.Status = sender.StatusOnline
	cfg := localAWS()
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(st.DDBEndpoint)
		o.DisableValidateResponseChecksum = true
	})
	return res, store.New(ddb, res.Table, nil).CreateSender(ctx, s)
}

// crashCount receives every message of the queues and counts those of wamid.
func crashCount(ctx context.Context, st *localStack, wamid string, urls ...string) (int, error) {
	sq := sqs.NewFromConfig(localAWS(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(st.SQSEndpoint) })
	n := 0
	for _, u := range urls {
		for empty := 0; empty < 2; {
			out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(u), MaxNumberOfMessages: 10})
			if err != nil {
				return 0, err
			}
			if len(out.Messages) == 0 {
				empty++
				continue
			}
			for _, m := range out.Messages {
				var ev wh.InboundEvent
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err == nil && ev.WAMID == wamid {
					n++
				}
				if _, err := sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: m.ReceiptHandle}); err != nil {
					return 0, err
				}
			}
		}
	}
	return n, nil
}

// crashSteps runs the scenario on st and reports what it saw: Lost counts crash points whose
// message was never forwarded, Duplicated those forwarded twice where a design could know.
func crashSteps(ctx context.Context, st *localStack, out io.Writer) (*report, error) {
	rep := &report{}
	t0 := time.Unix(crashMsgAt, 0).Add(10 * time.Minute)
	stamp := time.Now().UnixNano()

	probe, err := crashCase(ctx, st, fmt.Sprintf("wa-crash-%d-probe", stamp))
	if err != nil {
		return nil, err
	}
	clean := &crashNet{after: -1}
	h, err := crashProcess(st, clean, probe.Table, probe.InboundQueue, probe.OutboundQueue, t0)
	if err != nil {
		return nil, err
	}
	if code := crashDeliver(h, crashBody("wamid.crash.probe")); code != http.StatusOK {
		return nil, fmt.Errorf("crash-steps: a clean delivery answered %d", code)
	}
	steps := clean.steps()
	send := -1
	for i, op := range steps {
		if strings.HasPrefix(op, "SendMessage") {
			send = i
		}
	}
	if send < 0 {
		return nil, fmt.Errorf("crash-steps: the clean delivery never sent: %v", steps)
	}
	fmt.Fprintf(out, "crash-steps: a cold process handles one text message in %d requests: %s\n", len(steps), strings.Join(steps, " → "))
	fmt.Fprintln(out, "crash-steps: | process killed after | retry | forwarded |")
	dups := 0
	for k := 0; k <= len(steps); k++ {
		for _, late := range []bool{false, true} {
			wamid := fmt.Sprintf("wamid.crash.%d.%v", k, late)
			res, err := crashCase(ctx, st, fmt.Sprintf("wa-crash-%d-%d-%v", stamp, k, late))
			if err != nil {
				return nil, err
			}
			body := crashBody(wamid)
			h, err := crashProcess(st, &crashNet{after: int64(k)}, res.Table, res.InboundQueue, res.OutboundQueue, t0)
			if err != nil {
				return nil, err
			}
			if code := crashDeliver(h, body); code == http.StatusOK && k < len(steps) {
				rep.problem("crash-steps: a process killed after %d requests answered 200", k)
			}
			retryURL, retryAt, label := res.InboundQueue, t0.Add(time.Minute), "within 5 min"
			if late {
				fresh, err := st.freshResources(ctx, fmt.Sprintf("wa-crash-%d-%d-q", stamp, k))
				if err != nil {
					return nil, err
				}
				retryURL, retryAt, label = fresh.InboundQueue, t0.Add(6*time.Minute), "after 5 min"
			}
			ok := false
			for attempt := 0; attempt < 3 && !ok; attempt++ {
				h, err := crashProcess(st, &crashNet{after: -1}, res.Table, retryURL, res.OutboundQueue, retryAt)
				if err != nil {
					return nil, err
				}
				ok = crashDeliver(h, body) == http.StatusOK
			}
			if !ok {
				rep.problem("crash-steps: after a kill at %d, Meta's retry never got a 200", k)
			}
			urls := []string{res.InboundQueue}
			if retryURL != res.InboundQueue {
				urls = append(urls, retryURL)
			}
			n, err := crashCount(ctx, st, wamid, urls...)
			if err != nil {
				return nil, err
			}
			where := "nothing (before any request)"
			if k > 0 {
				where = fmt.Sprintf("%d: %s", k, steps[k-1])
			}
			if k == len(steps) {
				where += " (the 200 lost)"
			}
			fmt.Fprintf(out, "crash-steps: | %s | %s | %d |\n", where, label, n)
			switch {
			case n == 0:
				rep.Lost++
				rep.problem("crash-steps: killed after %s, retry %s: the message was lost", where, label)
			case n > 1 && (k <= send || !late):
				rep.Duplicated++
				rep.problem("crash-steps: killed after %s, retry %s: forwarded %d times", where, label, n)
			case n > 1:
				dups++
			}
		}
	}
	fmt.Fprintf(out, "crash-steps: %d crash points × 2 retries: lost %d, forwarded twice %d (all after the send with a retry after the window: the event carries the same wamid), unexpected duplicates %d\n",
		len(steps)+1, rep.Lost, dups, rep.Duplicated)
	return rep, nil
}
