package enqueue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/enqueue"
)

// sent records what the enqueuer hands to its queue port.
type sent struct {
	url, group, dedupe, body string
	n                        int
}

func (s *sent) Send(_ context.Context, url, group, dedupe, body string) error {
	s.url, s.group, s.dedupe, s.body = url, group, dedupe, body
	s.n++
	return nil
}

func TestEnqueue(t *testing.T) {
	q := &sent{}
	e := enqueue.New(q, "https://sqs/outbound.fifo")
	req := outbound.Request{ID: "order-42", From: "+40721234567", To: "447911123456", Text: "shipped"}
	if err := e.Enqueue(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if q.url != "https://sqs/outbound.fifo" || q.group != "+40721234567|+447911123456" || q.dedupe != "order-42" {
		t.Errorf("sent to %q group %q dedupe %q", q.url, q.group, q.dedupe)
	}
	// What is enqueued is what the consumer accepts.
	back, err := outbound.Decode([]byte(q.body))
	if err != nil || back.ID != req.ID || back.To != req.To || back.Text != req.Text {
		t.Errorf("body %s decodes to %+v, %v", q.body, back, err)
	}
}

func TestEnqueueRefusesInvalid(t *testing.T) {
	q := &sent{}
	e := enqueue.New(q, "u")
	err := e.Enqueue(context.Background(), outbound.Request{ID: "r", From: "+40721234567", To: "0721 234 567", Text: "x"})
	var ve *outbound.ValidationError
	if !enqueue.IsInvalid(err) || !errors.As(err, &ve) || ve.Field != "to" || ve.Hint == "" {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.EnqueueJSON(context.Background(), []byte(`{"id":"r","senderId":"1","to":"+40721234567","text":"x","extra":1}`)); !enqueue.IsInvalid(err) {
		t.Fatalf("unknown field accepted: %v", err)
	}
	if q.n != 0 {
		t.Fatalf("%d invalid requests reached the queue", q.n)
	}
}
