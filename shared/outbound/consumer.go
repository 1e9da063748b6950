package outbound

import (
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/ttlcache"
)

// Delivery is one message received from the outbound queue.
type Delivery struct {
	MessageID     string
	ReceiptHandle string
	Body          string
	// GroupID is the FIFO MessageGroupId; empty on a standard queue (each message its own group).
	GroupID string
	// ReceiveCount is SQS's ApproximateReceiveCount (1 on the first delivery).
	ReceiveCount int
}

// Options configure a Consumer. Store, Graph and QueueURL are required.
type Options struct {
	Store Store
	// Orphans applies statuses the webhook stored before the send was recorded; nil skips it.
	Orphans OrphanStatuses
	Graph   Messenger
	// Visibility sets the retry delay of failed messages; nil leaves the queue's visibility
	// timeout in charge.
	Visibility Visibility
	// Queue re-enqueues deferred requests (Requeue); nil disables Requeue.
	Queue    Enqueuer
	QueueURL string
	Clock    Clock
	Pacer    *Pacer
	Log      *slog.Logger
	// ThroughputPerSecond is a sender's rate at the STANDARD throughput level (default 80).
	ThroughputPerSecond int
	// Instances divides each sender's rate: the number of consumers that may send for one
	// sender at once (the event source's maximum concurrency). Default 1. Unused with
	// SharedPacing.
	Instances int
	// SharedPacing paces through the store (every instance shares one sender rate and one
	// pace per pair) instead of in process.
	SharedPacing bool
	// Concurrency bounds the message groups of one batch processed at once (default 10).
	Concurrency int
	// MaxInlineWait is the longest pacing wait slept inside an invocation; longer ones put the
	// message back on the queue for that long (default 10 s).
	MaxInlineWait time.Duration
	// Reserve is the time kept back before the invocation's deadline: no message is started
	// with less left (default 12 s: a Graph call's timeout plus margin).
	Reserve time.Duration
	// MaxReceiveCount is the queue's redrive maxReceiveCount, to record that a message's last
	// failed receive sends it to the DLQ (default 8, template.yaml's).
	MaxReceiveCount int
	// RequeuePage is how many due records Requeue reads at a time (default RequeuePage).
	RequeuePage int
	// MaxRetryAge is how long a request is retried before it is failed (default
	// DefaultMaxRetryAge).
	MaxRetryAge time.Duration
	// AnswerWait is how long a send whose answer was lost (timeout, reset) waits for a status
	// webhook carrying its request id before it is sent again (default DefaultAnswerWait).
	AnswerWait time.Duration
	// Backoff is the retry delay of a retryable failure on a message's receiveCount-th receive
	// (default DefaultBackoff).
	Backoff func(class graph.Class, receiveCount int) time.Duration
	// Metrics receives the EMF counters (metrics.go), one line per invocation; nil discards.
	Metrics io.Writer
}

// Consumer is the outbound pipeline: it decides, for each request on the queue, free-form,
// template or refusal, paces and sends through the Graph API, and records the outcome.
type Consumer struct {
	o   Options
	log *slog.Logger

	senders *ttlcache.Cache[*sender.Sender]
	aliases *ttlcache.Cache[customer.Ref]

	m *sendMetrics
}

// NewConsumer checks o and fills its defaults.
func NewConsumer(o Options) (*Consumer, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("outbound consumer: no store")
	case o.Graph == nil:
		return nil, errors.New("outbound consumer: no Graph API client")
	case o.QueueURL == "":
		return nil, errors.New("outbound consumer: no queue URL")
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Pacer == nil {
		o.Pacer = NewPacer()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ThroughputPerSecond <= 0 {
		o.ThroughputPerSecond = 80
	}
	if o.Instances <= 0 {
		o.Instances = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 10
	}
	if o.MaxInlineWait <= 0 {
		o.MaxInlineWait = 10 * time.Second
	}
	if o.Reserve <= 0 {
		o.Reserve = 12 * time.Second
	}
	if o.MaxReceiveCount <= 0 {
		o.MaxReceiveCount = 8
	}
	if o.RequeuePage <= 0 {
		o.RequeuePage = RequeuePage
	}
	if o.MaxRetryAge <= 0 {
		o.MaxRetryAge = DefaultMaxRetryAge
	}
	if o.AnswerWait <= 0 {
		o.AnswerWait = DefaultAnswerWait
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	return &Consumer{o: o, log: o.Log, senders: ttlcache.New[*sender.Sender](SenderCacheTTL, cacheMax),
		aliases: ttlcache.New[customer.Ref](AliasCacheTTL, cacheMax), m: newSendMetrics(o.Metrics)}, nil
}

// retrySchedule spreads a message's retries by time rather than by count: the seven retries a
// message gets before its last receive span about 1 h 43 min, so a Meta incident of an hour is
// outlasted inside the queue (the visibility change holds each wait, well under SQS's 12 h);
// beyond that the message is parked in the table (lastReceive), never dead-lettered.
var retrySchedule = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour}

// DefaultBackoff is the retry delay of a retryable failure on a message's receiveCount-th
// receive: Meta's 4^X seconds for the pair rate limit (X = earlier receives); otherwise the
// retry schedule, at least a minute for maintenance and 30 s doubling for the call-rate limits;
// with up to 20 % jitter so that retries of one burst spread out.
func DefaultBackoff(class graph.Class, receiveCount int) time.Duration {
	n := max(receiveCount, 1) - 1
	if class == graph.ClassPairRate {
		return graph.PairRateBackoff(n)
	}
	d := retrySchedule[min(n, len(retrySchedule)-1)]
	switch class {
	case graph.ClassMaintenance:
		d = max(d, graph.ClassMaintenance.Wait())
	case graph.ClassCallRate:
		d = max(d, min(30*time.Second<<min(n, 5), 15*time.Minute))
	}
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}
