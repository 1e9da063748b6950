package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

// outboundDeps wires the outbound function on a fresh (empty) table, fresh queues and the Graph
// API fake, as CI's sample-event run does.
func outboundDeps(t *testing.T) (app.Deps, string) {
	t.Helper()
	ddb, sq := testenv.DynamoDB(t), testenv.SQS(t)
	outboundURL, _, _ := testenv.Queues(t, sq)
	srv := httptest.NewServer(graphfake.New(graphfake.Options{}))
	t.Cleanup(srv.Close)
	cfg := config.Config{OutboundQueueURL: outboundURL, ThroughputPerSecond: config.DefaultThroughput}
	return app.Deps{
		Config: cfg, Store: store.New(ddb, testenv.Table(t, ddb), nil), SQS: sq, Now: time.Now,
		Graph: graph.New(graph.Options{BaseURL: srv.URL, Version: "v26.0", Token: graphfake.DefaultToken}),
		Log:   slog.New(slog.DiscardHandler),
	}, outboundURL
}

// TestOutboundSampleEvents runs every sample event of events/outbound on an empty table and
// checks the result events/outbound/expect.json promises, and that each request got a record.
func TestOutboundSampleEvents(t *testing.T) {
	testenv.Integration(t)
	deps, _ := outboundDeps(t)
	handle, err := app.Outbound(deps)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testenv.RepoRoot(t), "events", "outbound")
	raw, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expect map[string]struct {
		BatchItemFailures int `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(raw, &expect); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != len(expect)+1 {
		t.Errorf("%d event files, expect.json lists %d", len(files)-1, len(expect))
	}
	for name, want := range expect {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatal(err)
			}
			for range 2 { // CI may invoke twice on the same table
				res, err := handle(context.Background(), ev)
				if err != nil || len(res.BatchItemFailures) != want.BatchItemFailures {
					t.Fatalf("result %+v %v, want %d batch item failures", res, err, want.BatchItemFailures)
				}
			}
			for _, r := range ev.Records {
				id := "sqs-" + r.MessageId
				var req struct{ ID string }
				if json.Unmarshal([]byte(r.Body), &req) == nil && req.ID != "" {
					id = req.ID
				}
				rec, err := deps.Store.GetRecord(context.Background(), id)
				if err != nil || rec.Status != outbound.StatusRejected {
					t.Errorf("record %s: %+v %v", id, rec, err)
				}
			}
		})
	}
}

func TestOutboundNeedsItsQueue(t *testing.T) {
	_, err := app.Outbound(app.Deps{})
	var missing *config.MissingError
	if !errors.As(err, &missing) || missing.Name != config.EnvOutboundQueueURL {
		t.Fatalf("err = %v, want a MissingError naming %s", err, config.EnvOutboundQueueURL)
	}
}

// TestSQSVisibility checks the adapter on fauxqs: a message put back with no delay is received
// again at once, one with a delay is not.
func TestSQSVisibility(t *testing.T) {
	testenv.Integration(t)
	deps, url := outboundDeps(t)
	ctx := context.Background()
	sq := deps.SQS
	for _, g := range []string{"a", "b"} {
		if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(g),
			MessageGroupId: aws.String(g), MessageDeduplicationId: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
	}
	receive := func() map[string]string {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)] = aws.ToString(m.ReceiptHandle)
		}
		return got
	}
	first := receive()
	if len(first) != 2 {
		t.Fatalf("received %v", first)
	}
	err := app.SQSVisibility{API: sq}.ChangeVisibility(ctx, url, []outbound.VisibilityChange{
		{ReceiptHandle: first["a"], Delay: 0}, {ReceiptHandle: first["b"], Delay: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	again := receive()
	if _, ok := again["a"]; !ok || len(again) != 1 {
		t.Fatalf("after the change received %v, want a only", again)
	}
}

// TestRequeue runs the reconciler's requeue step on an empty table.
func TestRequeue(t *testing.T) {
	testenv.Integration(t)
	deps, _ := outboundDeps(t)
	run, err := app.ReconcilerRequeue(deps)
	if err != nil || run == nil {
		t.Fatalf("requeue %v, %v", run != nil, err)
	}
	if _, err := run(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
}
