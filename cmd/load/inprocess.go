package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/stack"
	"github.com/aloro/wa-senders/shared/store"
)

// lambdaTimeout is OutboundFunction's Timeout in template.yaml: the deadline of a batch.
const lambdaTimeout = 30 * time.Second

// inprocBackend runs the functions in this process from the same app constructors the Lambda
// mains and cmd/localrun use, with an outbound poller that behaves like Lambda's SQS event
// source including its deadline: a batch that outlives it counts as a timed-out invocation
// (nothing deleted, the batch redelivered), which cmd/localrun's poller does not model.
type inprocBackend struct {
	servers  []*http.Server
	cancel   context.CancelFunc
	pollDone chan struct{}
	deadline atomic.Int64 // nanoseconds
	hits     atomic.Int64
	cut      atomic.Int64
	logFile  *os.File
}

func (b *inprocBackend) pid() int { return 0 }

func (b *inprocBackend) stop(out io.Writer) error {
	b.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range b.servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	<-b.pollDone
	if b.logFile != nil {
		b.logFile.Close()
	}
	return errors.Join(errs...)
}

// localAWS is an SDK configuration for the harness stack with the SDK's default HTTP client
// (no overall timeout), as the functions have in AWS: a stopped emulator makes calls hang
// until the caller's deadline, not fail fast.
func localAWS() aws.Config {
	return aws.Config{
		Region:      stack.LocalRegion,
		Credentials: credentials.NewStaticCredentialsProvider(stack.LocalAccessKeyID, stack.LocalSecretAccessKey, ""),
	}
}

// startInprocess serves the webhook and admin API on addr and the Graph API fake on fakeAddr,
// and polls the outbound queue, all against the harness stack st.
func startInprocess(ctx context.Context, st *localStack, env map[string]string, t *target, addr, fakeAddr string, graphTimeout, answerWait time.Duration, logLevel, dir string) (*inprocBackend, error) {
	cfg, err := config.Load(ctx, func(k string) string { return env[k] }, nil, config.Need{
		OutboundQueue: true, InboundQueue: true, AppSecret: true, VerifyToken: true, AccessToken: true,
	})
	if err != nil {
		return nil, err
	}
	cfg.GraphBaseURL = "http://" + fakeAddr

	logFile, err := os.Create(filepath.Join(dir, "inprocess-"+strings.ReplaceAll(addr, ":", "-")+".log"))
	if err != nil {
		return nil, err
	}
	log := logging.New(logFile, logLevel)
	awsCfg := localAWS()
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(st.DDBEndpoint)
		o.DisableValidateResponseChecksum = true
	})
	sq := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(st.SQSEndpoint) })
	deps := app.Deps{
		Config: cfg,
		Store:  store.New(ddb, cfg.TableName, nil),
		SQS:    sq,
		Graph: graph.New(graph.Options{BaseURL: cfg.GraphBaseURL, Version: cfg.GraphVersion,
			Token: cfg.Secrets.AccessToken, Timeout: graphTimeout}),
		Log: log,
		Now: time.Now,
	}
	b := &inprocBackend{pollDone: make(chan struct{}), logFile: logFile}
	b.deadline.Store(int64(lambdaTimeout))
	fail := func(err error) (*inprocBackend, error) {
		for _, s := range b.servers {
			s.Close()
		}
		logFile.Close()
		return nil, err
	}

	fake := graphfake.New(graphfake.Options{Token: cfg.Secrets.AccessToken})
	srv, err := serveOn(fakeAddr, fake)
	if err != nil {
		return fail(fmt.Errorf("graph fake: %w", err))
	}
	b.servers = append(b.servers, srv)

	// app.Webhook and app.Outbound write their EMF metric lines to the process's stdout (in
	// Lambda, the log stream); here they go to the backend's log file instead of the report.
	stdout := os.Stdout
	os.Stdout = logFile
	webhook, err := app.Webhook(deps)
	// A shorter wait for the status of a send whose answer was lost keeps test runs short.
	consumer, cerr := app.OutboundConsumer(deps, func(o *outbound.Options) {
		if answerWait > 0 {
			o.AnswerWait = answerWait
		}
	})
	os.Stdout = stdout
	if err != nil {
		return fail(fmt.Errorf("webhook: %w", err))
	}
	if cerr != nil {
		return fail(fmt.Errorf("outbound: %w", cerr))
	}
	admin, err := app.Senders(deps)
	if err != nil {
		return fail(fmt.Errorf("senders: %w", err))
	}
	consume := consumer.HandleEvent
	mux := http.NewServeMux()
	mux.Handle("/webhook", webhook)
	for _, p := range []string{"/senders", "/senders/", "/messages", "/messages/", "/templates"} {
		mux.Handle(p, admin)
	}
	if srv, err = serveOn(addr, mux); err != nil {
		return fail(err)
	}
	b.servers = append(b.servers, srv)

	pctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	p := &lambdaPoller{sqs: sq, queueURL: cfg.OutboundQueueURL, handle: consume, log: log, b: b}
	go func() {
		defer close(b.pollDone)
		p.run(pctx)
	}()
	t.batchDeadline = func(d time.Duration) {
		if d <= 0 {
			d = lambdaTimeout
		}
		b.deadline.Store(int64(d))
	}
	t.deadlineHits = b.hits.Load
	t.cutBatches = b.cut.Load
	return b, nil
}

func serveOn(addr string, h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// lambdaPoller feeds the consumer like Lambda's event source mapping: batches of up to ten,
// each invocation with a deadline; the handler's batch item failures stay on the queue, the
// rest is deleted; an invocation that outlives its deadline is a failed invocation (nothing
// deleted). Lambda would redeliver that batch when the visibility timeout (180 s) ends; the
// poller compresses that wait to one second so that tests finish.
type lambdaPoller struct {
	sqs      *sqs.Client
	queueURL string
	handle   func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	log      *slog.Logger
	b        *inprocBackend
}

type handled struct {
	res events.SQSEventResponse
	err error
}

func (p *lambdaPoller) run(ctx context.Context) {
	for ctx.Err() == nil {
		out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(p.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if ctx.Err() == nil {
				sleepCtx(ctx, 200*time.Millisecond)
			}
			continue
		}
		if len(out.Messages) == 0 {
			continue
		}
		ev := sqsEvent(p.queueURL, out.Messages)
		bctx, cancel := context.WithTimeout(ctx, time.Duration(p.b.deadline.Load()))
		done := make(chan handled, 1)
		go func() {
			res, err := p.handle(bctx, ev)
			done <- handled{res, err}
		}()
		var h handled
		timedOut := false
		select {
		case h = <-done:
		case <-bctx.Done():
			// Lambda ends the invocation at its deadline whatever the handler does.
			timedOut = ctx.Err() == nil
		}
		cancel()
		if timedOut {
			p.b.hits.Add(1)
			p.redeliverSoon(ctx, out.Messages)
			continue
		}
		if h.err != nil {
			p.redeliverSoon(ctx, out.Messages)
			continue
		}
		failed := map[string]bool{}
		for _, f := range h.res.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		if len(failed) > 0 && time.Duration(p.b.deadline.Load()) < lambdaTimeout {
			p.b.cut.Add(1)
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			if !failed[aws.ToString(m.MessageId)] {
				del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
			}
		}
		if len(del) > 0 {
			if _, err := p.sqs.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: del}); err != nil {
				p.log.Warn("delete outbound", "error", err.Error())
			}
		}
	}
}

// redeliverSoon makes a failed invocation's messages visible again in a second (Lambda: when
// the visibility timeout ends).
func (p *lambdaPoller) redeliverSoon(ctx context.Context, msgs []types.Message) {
	var entries []types.ChangeMessageVisibilityBatchRequestEntry
	for i, m := range msgs {
		entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 1,
		})
	}
	_, _ = p.sqs.ChangeMessageVisibilityBatch(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(p.queueURL), Entries: entries,
	})
}

func sqsEvent(queueURL string, msgs []types.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	name := queueURL[lastSlash(queueURL)+1:]
	for _, m := range msgs {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: attrs,
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:" + name,
			AWSRegion: stack.LocalRegion,
		})
	}
	return ev
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
