// Package enqueue is how internal systems put an outbound message request on the queue: the
// request is validated against the contract (outbound.Validate), then sent to the outbound
// FIFO queue with MessageGroupId = sender + recipient (order per conversation) and
// MessageDeduplicationId = the request id.
package enqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aloro/wa-senders/shared/outbound"
)

// Queue sends one message to a FIFO queue (*queue.Queue).
type Queue interface {
	Send(ctx context.Context, queueURL, groupID, dedupID, body string) error
}

// Enqueuer validates and enqueues requests on one queue.
type Enqueuer struct {
	q   Queue
	url string
}

// New returns an Enqueuer sending to the outbound queue at queueURL.
func New(q Queue, queueURL string) *Enqueuer { return &Enqueuer{q: q, url: queueURL} }

// Enqueue validates req and enqueues it. An invalid request is not sent: the error is an
// *outbound.ValidationError (errors.Is(err, outbound.ErrInvalid)) naming the field and how to
// fix it. Enqueueing the same id again within five minutes is a no-op for SQS; after that the
// consumer acknowledges a request id already sent without sending it again.
func (e *Enqueuer) Enqueue(ctx context.Context, req outbound.Request) error {
	if err := outbound.Validate(req); err != nil {
		return err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("enqueue %s: encode: %w", req.ID, err)
	}
	if err := e.q.Send(ctx, e.url, outbound.GroupID(req), outbound.DedupeID(req), string(body)); err != nil {
		return fmt.Errorf("enqueue %s: %w", req.ID, err)
	}
	return nil
}

// EnqueueJSON validates a request given as JSON (strictly: unknown fields, nulls and empty
// strings are refused, as the consumer refuses them) and enqueues it.
func (e *Enqueuer) EnqueueJSON(ctx context.Context, body []byte) (outbound.Request, error) {
	req, err := outbound.Decode(body)
	if err != nil {
		return req, err
	}
	return req, e.Enqueue(ctx, req)
}

// IsInvalid reports whether err is a validation failure (a caller's mistake, not retryable).
func IsInvalid(err error) bool { return errors.Is(err, outbound.ErrInvalid) }
