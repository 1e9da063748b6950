package main

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// invocationTimeout is OutboundFunction's Timeout in template.yaml.
const invocationTimeout = 30 * time.Second

// poller feeds the outbound consumer from the queue as Lambda's event source mapping does:
// batches of up to 10, the handler's batch item failures left on the queue for redelivery,
// the rest deleted.
type poller struct {
	sqs      *sqs.Client
	queueURL string
	handle   func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	log      *slog.Logger
}

func (p *poller) run(ctx context.Context) {
	for ctx.Err() == nil {
		out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.queueURL),
			MaxNumberOfMessages:         10,
			WaitTimeSeconds:             2,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("receive outbound", "error", err.Error())
				sleep(ctx, time.Second)
			}
			continue
		}
		if len(out.Messages) == 0 {
			continue
		}
		ev := toEvent(p.queueURL, out.Messages)
		// Lambda gives each invocation the function's timeout (template.yaml: 30 s); the
		// consumer hands unstarted messages back before that deadline.
		invocation, cancel := context.WithTimeout(ctx, invocationTimeout)
		res, err := p.handle(invocation, ev)
		cancel()
		if err != nil {
			// A whole-batch error: Lambda retries the whole batch after the visibility timeout.
			p.log.Warn("outbound batch failed", "error", err.Error(), "size", len(ev.Records))
			continue
		}
		failed := map[string]bool{}
		for _, f := range res.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			if !failed[aws.ToString(m.MessageId)] {
				del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
			}
		}
		if len(del) > 0 {
			if _, err := p.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: del}); err != nil && ctx.Err() == nil {
				p.log.Warn("delete outbound", "error", err.Error())
			}
		}
	}
}

func toEvent(queueURL string, msgs []types.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:      aws.ToString(m.MessageId),
			ReceiptHandle:  aws.ToString(m.ReceiptHandle),
			Body:           aws.ToString(m.Body),
			Md5OfBody:      aws.ToString(m.MD5OfBody),
			Attributes:     attrs,
			EventSource:    "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:" + queueName(queueURL),
			AWSRegion:      "us-east-1",
		})
	}
	return ev
}

func queueName(url string) string {
	for i := len(url) - 1; i >= 0; i-- {
		if url[i] == '/' {
			return url[i+1:]
		}
	}
	return url
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
