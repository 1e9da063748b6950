package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/queue"
)

// The outbound event source's settings in template.yaml, which the consumer paces and reports by
// (TestOutboundSettingsMatchTemplate fails when they part).
const (
	// outboundMaxConcurrency is OutboundFunction's ScalingConfig.MaximumConcurrency: that many
	// instances may send for one sender at once; they pace through the table (SharedPacing),
	// so it does not divide a sender's rate.
	outboundMaxConcurrency = 10
	// outboundMaxReceiveCount is OutboundQueue's RedrivePolicy.maxReceiveCount.
	outboundMaxReceiveCount = 8
)

// Outbound returns the outbound Lambda's handler: SQS batch in, batch item failures out.
func Outbound(d Deps) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), error) {
	c, err := OutboundConsumer(d, nil)
	if err != nil {
		return nil, err
	}
	return c.HandleEvent, nil
}

// OutboundConsumer builds the outbound consumer from d; tune (may be nil) adjusts the options
// before it is built (tests and benchmarks: a fake clock, no division of the throughput).
func OutboundConsumer(d Deps, tune func(*outbound.Options)) (*outbound.Consumer, error) {
	if d.Config.OutboundQueueURL == "" {
		return nil, &config.MissingError{Name: config.EnvOutboundQueueURL}
	}
	if d.Store == nil || d.SQS == nil || d.Graph == nil {
		return nil, errors.New("outbound: deps need a store, an SQS client and a Graph API client")
	}
	o := outbound.Options{
		Store:               d.Store.Outbound(),
		Graph:               d.Graph,
		Visibility:          SQSVisibility{API: d.SQS},
		Queue:               queue.New(d.SQS),
		QueueURL:            d.Config.OutboundQueueURL,
		Clock:               outbound.SystemClock{NowFunc: d.Now},
		Log:                 d.Log,
		ThroughputPerSecond: d.Config.ThroughputPerSecond,
		SharedPacing:        true,
		MaxReceiveCount:     outboundMaxReceiveCount,
		// EMF lines on stdout, next to the logs, as the webhook's.
		Metrics: os.Stdout,
	}
	// The webhook's store method for statuses that arrived before the send was recorded.
	if orphans, ok := any(d.Store).(outbound.OrphanStatuses); ok {
		o.Orphans = orphans
	}
	if tune != nil {
		tune(&o)
	}
	return outbound.NewConsumer(o)
}

// VisibilityAPI is the SQS call SQSVisibility makes.
type VisibilityAPI interface {
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// SQSVisibility is the SQS adapter of outbound.Visibility: it sets the retry delay of messages
// reported as batch item failures (ChangeMessageVisibilityBatch, 10 per call).
type SQSVisibility struct{ API VisibilityAPI }

var _ outbound.Visibility = SQSVisibility{}

// maxVisibility is SQS's longest visibility timeout (12 h).
const maxVisibility = 12 * time.Hour

// ChangeVisibility makes each message visible again after its delay.
func (v SQSVisibility) ChangeVisibility(ctx context.Context, queueURL string, changes []outbound.VisibilityChange) error {
	var errs []error
	for start := 0; start < len(changes); start += 10 {
		chunk := changes[start:min(start+10, len(changes))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, c := range chunk {
			secs := int32(math.Ceil(min(max(c.Delay, 0), maxVisibility).Seconds()))
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(c.ReceiptHandle), VisibilityTimeout: secs,
			}
		}
		out, err := v.API.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			errs = append(errs, fmt.Errorf("change visibility: %w", err))
			continue
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("change visibility of entry %s: %s %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}
