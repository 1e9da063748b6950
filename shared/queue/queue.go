// Package queue is the SQS adapter: batched sends to the standard inbound queue (what the
// webhook forwards to the assistants) and single sends to the FIFO outbound queue.
//
// Domain packages define the ports they need with plain types (URLs, bodies, ids) and this
// package satisfies them; it is the only place that knows SQS's batch limits.
package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS's limits for one SendMessageBatch call and one message.
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 256 << 10
	MaxMessageBytes = 256 << 10
)

// API is the subset of the SQS client the adapter uses.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ API = (*sqs.Client)(nil)

// Queue sends messages through an SQS client.
type Queue struct {
	api API
	// attempts is how many times a failed batch entry is tried in all (the SDK already retries
	// whole calls that fail with a transient error).
	attempts int
	// backoff is the pause before the n-th retry of failed entries (n starts at 1).
	backoff func(n int) time.Duration
	// parallel bounds the concurrent SendMessageBatch calls of one SendBatch.
	parallel int
}

// Option configures a Queue.
type Option func(*Queue)

// WithBackoff sets the pause before the n-th retry of failed entries.
func WithBackoff(f func(n int) time.Duration) Option {
	return func(q *Queue) { q.backoff = f }
}

// New returns a Queue on api.
func New(api API, opts ...Option) *Queue {
	q := &Queue{
		api:      api,
		attempts: 3,
		backoff:  func(n int) time.Duration { return time.Duration(n*n) * 25 * time.Millisecond },
		parallel: 8,
	}
	for _, o := range opts {
		o(q)
	}
	return q
}

// Failure is one message SendBatch could not send.
type Failure struct {
	// Index is the message's position in the bodies given to SendBatch.
	Index int
	// Code is SQS's error code (or TooLarge, CallFailed for a call that failed whole).
	Code    string
	Message string
	// SenderFault is true when SQS blames the request (retrying the same entry won't help).
	SenderFault bool
}

// BatchError lists the messages of a SendBatch that were not sent; the others were.
type BatchError struct {
	Failed []Failure
	// Err is the last call-level error, if a whole call failed.
	Err error
}

func (e *BatchError) Error() string {
	codes := map[string]int{}
	for _, f := range e.Failed {
		codes[f.Code]++
	}
	parts := make([]string, 0, len(codes))
	for c, n := range codes {
		parts = append(parts, fmt.Sprintf("%s×%d", c, n))
	}
	msg := fmt.Sprintf("queue: %d message(s) not sent (%s)", len(e.Failed), strings.Join(parts, ", "))
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the call-level error, if any.
func (e *BatchError) Unwrap() error { return e.Err }

// FailedIndexes returns the positions of the messages that were not sent. Ports in domain
// packages match it with errors.As on an interface, so they need not import this package.
func (e *BatchError) FailedIndexes() []int {
	out := make([]int, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Index
	}
	return out
}

// SendBatch sends bodies to the queue at url in as few SendMessageBatch calls as SQS allows (at
// most 10 entries and 256 KiB per call), retrying entries SQS reports failed. It returns nil
// when every message was sent, or a *BatchError naming those that were not.
//
// For a FIFO queue, fifo gives body i's MessageGroupId and MessageDeduplicationId (nil for a
// standard queue). SQS drops a repeat of a deduplication id within five minutes, which is what
// makes a resend after an ambiguous failure (a timeout) safe.
func (q *Queue) SendBatch(ctx context.Context, url string, bodies []string, fifo func(i int) (groupID, dedupID string)) error {
	if len(bodies) == 0 {
		return nil
	}
	var (
		mu     sync.Mutex
		failed []Failure
		last   error
	)
	fail := func(f Failure, err error) {
		mu.Lock()
		failed = append(failed, f)
		if err != nil {
			last = err
		}
		mu.Unlock()
	}
	var chunks [][]int
	var cur []int
	size := 0
	for i, b := range bodies {
		if len(b) > MaxMessageBytes {
			fail(Failure{Index: i, Code: "TooLarge", Message: fmt.Sprintf("%d bytes, more than SQS's %d", len(b), MaxMessageBytes), SenderFault: true}, nil)
			continue
		}
		if len(cur) == MaxBatchEntries || size+len(b) > MaxBatchBytes {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += len(b)
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}

	sem := make(chan struct{}, q.parallel)
	var wg sync.WaitGroup
	for _, chunk := range chunks {
		wg.Add(1)
		sem <- struct{}{}
		go func(chunk []int) {
			defer wg.Done()
			defer func() { <-sem }()
			for _, f := range q.sendChunk(ctx, url, bodies, fifo, chunk) {
				fail(f.Failure, f.err)
			}
		}(chunk)
	}
	wg.Wait()
	if len(failed) == 0 {
		return nil
	}
	slices.SortFunc(failed, func(a, b Failure) int { return a.Index - b.Index })
	return &BatchError{Failed: failed, Err: last}
}

type chunkFailure struct {
	Failure
	err error
}

// sendChunk sends one batch (≤ 10 entries, ≤ 256 KiB) and retries its failed entries.
func (q *Queue) sendChunk(ctx context.Context, url string, bodies []string, fifo func(int) (string, string), idx []int) []chunkFailure {
	pending := idx
	var out []chunkFailure
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				for _, i := range pending {
					out = append(out, chunkFailure{Failure{Index: i, Code: "Canceled", Message: ctx.Err().Error()}, ctx.Err()})
				}
				return out
			case <-time.After(q.backoff(attempt - 1)):
			}
		}
		entries := make([]types.SendMessageBatchRequestEntry, len(pending))
		for j, i := range pending {
			// Entry ids only need to be unique within the call; the index maps results back.
			entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(bodies[i])}
			if fifo != nil {
				group, dedup := fifo(i)
				entries[j].MessageGroupId, entries[j].MessageDeduplicationId = aws.String(group), aws.String(dedup)
			}
		}
		res, err := q.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			if attempt >= q.attempts || ctx.Err() != nil {
				for _, i := range pending {
					out = append(out, chunkFailure{Failure{Index: i, Code: "CallFailed", Message: err.Error()}, err})
				}
				return out
			}
			continue
		}
		var retry []int
		for _, f := range res.Failed {
			i, convErr := strconv.Atoi(aws.ToString(f.Id))
			if convErr != nil {
				continue
			}
			fl := Failure{Index: i, Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
			if fl.SenderFault || attempt >= q.attempts {
				out = append(out, chunkFailure{fl, nil})
				continue
			}
			retry = append(retry, i)
		}
		pending = retry
	}
	return out
}

// maxFIFOID is SQS's limit on MessageGroupId and MessageDeduplicationId.
const maxFIFOID = 128

// ErrFIFOArgs is returned by Send when a FIFO send lacks its group or deduplication id, or one
// is longer than SQS's 128 characters.
var ErrFIFOArgs = errors.New("queue: FIFO send needs a group id and a deduplication id")

// Send sends one message to the FIFO queue at url with MessageGroupId groupID (messages of one
// group are delivered in order) and MessageDeduplicationId dedupID (SQS drops a repeat within
// five minutes; consumers dedupe by the same id after that).
func (q *Queue) Send(ctx context.Context, url, groupID, dedupID, body string) error {
	if groupID == "" || dedupID == "" || len(groupID) > maxFIFOID || len(dedupID) > maxFIFOID {
		return ErrFIFOArgs
	}
	if len(body) > MaxMessageBytes {
		return fmt.Errorf("queue: message of %d bytes is over SQS's %d", len(body), MaxMessageBytes)
	}
	_, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               aws.String(url),
		MessageBody:            aws.String(body),
		MessageGroupId:         aws.String(groupID),
		MessageDeduplicationId: aws.String(dedupID),
	})
	if err != nil {
		return fmt.Errorf("queue: send: %w", err)
	}
	return nil
}
