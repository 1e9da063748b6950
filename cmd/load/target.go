package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/store"
)

// target is what a run drives and inspects: the backend's HTTP endpoints, the local stack's
// clients and resources, and the processes a fault scenario may pause.
type target struct {
	WebhookURL string // …/webhook
	AdminURL   string // base of /senders, /messages
	FakeURL    string // Graph API fake base (control API under /_fake/)

	DDB              *dynamodb.Client
	SQS              *sqs.Client
	Table            string
	OutboundQueueURL string
	OutboundDLQURL   string
	InboundQueueURL  string

	AppSecret string
	// FreeEntry is the free-entry-point window the backend runs with (72 h by default).
	FreeEntry time.Duration

	// PIDs for fault injection and memory figures; 0 when not known.
	DDBPID, SQSPID, BackendPID int

	// batchDeadline, when set, changes the outbound consumer's per-batch deadline (the Lambda
	// timeout) for the lambda-timeout scenario; nil when the backend cannot.
	batchDeadline func(time.Duration)
	// deadlineHits counts invocations that outlived their deadline (Lambda ended them), and
	// cutBatches those that returned failures under a deadline shorter than the function's
	// timeout (nil when not known).
	deadlineHits func() int64
	cutBatches   func() int64
}

// store reads the table through the project's own adapter: the key layout stays in one place.
func (t *target) store() *store.Store { return store.New(t.DDB, t.Table, nil) }
