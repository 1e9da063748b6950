package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestPostMessageEnqueues sends POST /messages through the composed handler to a real FIFO
// queue (fauxqs) and reads the request back.
func TestPostMessageEnqueues(t *testing.T) {
	t.Parallel()
	ddb, sq := testenv.DynamoDB(t), testenv.SQS(t)
	outURL, _, _ := testenv.Queues(t, sq)
	h, err := app.Senders(app.Deps{
		Config: config.Config{OutboundQueueURL: outURL},
		Store:  store.New(ddb, testenv.Table(t, ddb), nil),
		SQS:    sq,
		Graph:  graph.New(graph.Options{BaseURL: "http://127.0.0.1:1", Version: "v24.0", Token: "x"}),
		Now:    time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	post := func(body string) (int, map[string]any) {
		res, err := http.Post(srv.URL+"/messages", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return res.StatusCode, m
	}
	status, body := post(`{"id":"req-q1","senderId":"1001","to":"+16505551234","text":"hello"}`)
	if status != http.StatusAccepted || body["id"] != "req-q1" || body["status"] != "queued" {
		t.Fatalf("POST /messages = %d %v", status, body)
	}
	status, body = post(`{"id":"req-q2","senderId":"1001","to":"0721 234 567","text":"hello"}`)
	if status != http.StatusBadRequest {
		t.Fatalf("invalid request = %d %v", status, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(outURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("queue holds %d messages, want 1", len(out.Messages))
	}
	var got outbound.Request
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "req-q1" || got.Text != "hello" || got.To != "+16505551234" {
		t.Errorf("queued request = %+v", got)
	}
}
