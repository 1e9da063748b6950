package outbound_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
)

// withTokenFor rebuilds h's consumer on a Graph client (on h's fake) whose business-token lookup
// is lookup.
func (h *harness) withTokenFor(lookup func(ctx context.Context, nodeID string) (string, error)) {
	h.t.Helper()
	srv := httptest.NewServer(h.fake)
	h.t.Cleanup(srv.Close)
	h.opts.Graph = graph.New(graph.Options{BaseURL: srv.URL, Version: "v26.0", Token: graphfake.DefaultToken,
		Timeout: 5 * time.Second, TokenFor: lookup})
	c, err := outbound.NewConsumer(h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
}

// TestTokenLookupFailureIsRetried: when the business token cannot be read (the store or KMS
// fails), nothing was sent: the request stays queued and SQS redelivers it, and the next
// delivery sends it once.
func TestTokenLookupFailureIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var lookups atomic.Int32
	h.withTokenFor(func(context.Context, string) (string, error) {
		if lookups.Add(1) == 1 {
			return "", errors.New("read binding: dynamodb: ProvisionedThroughputExceededException")
		}
		return "", nil // no business token of its own: the platform token applies
	})
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	req := textReq("tok-retry", snd, to)

	d := h.delivery(req)
	if failed := h.handle(d)[d.MessageID]; !failed {
		t.Fatal("first delivery: want a batch item failure (SQS redelivers)")
	}
	if rec := h.record("tok-retry"); rec.Status != outbound.StatusQueued || rec.Reason == string(graph.ClassUnknown) {
		t.Fatalf("after the lookup failure: record %+v; want queued for a retry", rec)
	}
	if n := len(h.sendsFrom(snd.ID)); n != 0 {
		t.Fatalf("sends after the lookup failure = %d; want 0", n)
	}

	d = h.delivery(req)
	d.ReceiveCount = 2
	if failed := h.handle(d)[d.MessageID]; failed {
		t.Fatal("second delivery failed")
	}
	if rec := h.record("tok-retry"); rec.Status != outbound.StatusSent {
		t.Fatalf("after the retry: record %+v; want sent", rec)
	}
	if n := len(h.sendsFrom(snd.ID)); n != 1 {
		t.Fatalf("sends = %d; want 1", n)
	}
}

// TestTokenRefusedPausesTheBusiness: a business token forgotten for good is not retried: the
// request is deferred as token_invalid, as when Meta refuses a token, and nothing is sent.
func TestTokenRefusedPausesTheBusiness(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.withTokenFor(func(context.Context, string) (string, error) {
		return "", fmt.Errorf("%w: disconnected", graph.ErrTokenRefused)
	})
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	if _, failed := h.send(textReq("tok-refused", snd, to)); failed {
		t.Fatal("want no batch item failure: the request is settled")
	}
	if rec := h.record("tok-refused"); rec.Status != outbound.StatusDeferred || rec.Reason != outbound.ReasonTokenInvalid {
		t.Fatalf("record %+v; want deferred %s", rec, outbound.ReasonTokenInvalid)
	}
	if n := len(h.sendsFrom(snd.ID)); n != 0 {
		t.Fatalf("sends = %d; want 0", n)
	}
}
