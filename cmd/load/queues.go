package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// drainQueue receives every message of a queue until it stays empty for quiet, deleting what it
// reads, and returns the bodies. It reads "to exhaustion": the run's counts come from what the
// queue actually holds, never from what the generator believes it caused.
func drainQueue(ctx context.Context, sq *sqs.Client, url string, quiet time.Duration) ([]string, error) {
	var bodies []string
	lastSeen := time.Now()
	// Until a receive comes back empty after quiet without messages (quiet 0: the first empty one).
	for {
		if err := ctx.Err(); err != nil {
			return bodies, err
		}
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			// Short: a receive whose answer is lost (a retried call) hides its messages only
			// briefly, and the exhaustion check below waits for them.
			VisibilityTimeout: 5,
		})
		if err != nil {
			return bodies, fmt.Errorf("receive from %s: %w", url, err)
		}
		if len(out.Messages) == 0 {
			if time.Since(lastSeen) < quiet {
				continue
			}
			// Exhausted only when nothing is left in flight either.
			if n, err := queueDepth(ctx, sq, url); err == nil && n > 0 {
				continue
			}
			break
		}
		lastSeen = time.Now()
		var del []types.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := sq.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del}); err != nil {
			return bodies, fmt.Errorf("delete from %s: %w", url, err)
		}
	}
	return bodies, nil
}

// queueDepth is the approximate number of visible plus in-flight messages.
func queueDepth(ctx context.Context, sq *sqs.Client, url string) (int, error) {
	out, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, fmt.Errorf("queue attributes of %s: %w", url, err)
	}
	a, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	b, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return a + b, nil
}

// findString returns the first string value stored under key anywhere in a JSON document.
// The inbound event's shape belongs to the webhook; the harness only needs its wamid.
func findString(raw []byte, key string) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return findIn(v, key, 0)
}

func findIn(v any, key string, depth int) string {
	if depth > 8 {
		return ""
	}
	switch t := v.(type) {
	case map[string]any:
		if s, ok := t[key].(string); ok && s != "" {
			return s
		}
		for _, child := range t {
			if s := findIn(child, key, depth+1); s != "" {
				return s
			}
		}
	case []any:
		for _, child := range t {
			if s := findIn(child, key, depth+1); s != "" {
				return s
			}
		}
	}
	return ""
}
