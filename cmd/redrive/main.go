// Command redrive moves messages from a dead-letter queue back to their source queue: receive
// from the DLQ, send to the source with the same body, attributes, FIFO group id and
// deduplication id, delete from the DLQ. It works on AWS and on the local emulator (fauxqs),
// which lacks SQS's message move task.
//
//	redrive -from <dlq-url> -to <queue-url> [-max N] [-fresh-dedupe] [-dry-run]
//
// Defaults come from OUTBOUND_DLQ_URL and OUTBOUND_QUEUE_URL; endpoints and credentials from the
// SDK's environment (AWS_ENDPOINT_URL_SQS=http://127.0.0.1:9324 for fauxqs). On AWS, prefer
// `aws sqs start-message-move-task --source-arn <dlq-arn>` (it returns messages to their
// source queue); this command is for the emulator, and for moving a few messages by hand.
//
// SQS drops a message whose deduplication id was used on the queue in the last five minutes
// (answering with the earlier message's id). A redrive soon after the first send would be
// swallowed that way, so when the answer names the DLQ message's own id the message is sent again
// with a derived deduplication id (<id>~redrive). The outbound consumer's idempotency is by request
// id, so a derived deduplication id never causes a second send.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloro/wa-senders/shared/awsclient"
)

func main() {
	var o options
	flag.StringVar(&o.from, "from", os.Getenv("OUTBOUND_DLQ_URL"), "URL of the dead-letter queue to drain (env OUTBOUND_DLQ_URL)")
	flag.StringVar(&o.to, "to", os.Getenv("OUTBOUND_QUEUE_URL"), "URL of the queue to send the messages back to (env OUTBOUND_QUEUE_URL)")
	flag.IntVar(&o.max, "max", 0, "move at most this many messages (0: until the DLQ is empty)")
	flag.BoolVar(&o.fresh, "fresh-dedupe", false, "always send with a derived deduplication id (<id>~redrive)")
	flag.BoolVar(&o.dryRun, "dry-run", false, "list what would move (message id and group) without moving anything")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.from == "" || o.to == "" {
		return errors.New("both -from (the DLQ) and -to (the source queue) are required")
	}
	cfg, err := awsclient.Load(ctx)
	if err != nil {
		return err
	}
	n, err := redrive(ctx, awsclient.SQS(cfg), o, out)
	verb := "moved"
	if o.dryRun {
		verb = "would move"
	}
	fmt.Fprintf(out, "%s %d message(s) from %s to %s\n", verb, n, o.from, o.to)
	return err
}

// options are the command's flags.
type options struct {
	from, to string
	max      int
	fresh    bool
	dryRun   bool
	// emptyReceives is how many empty receives in a row end the run (default 2).
	emptyReceives int
}

// API is the part of the SQS client redrive uses.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

var _ API = (*sqs.Client)(nil)

// redrive moves messages one by one, in the order the DLQ returns them (FIFO order per group),
// deleting each from the DLQ only once the source queue has it. It returns how many moved.
func redrive(ctx context.Context, api API, o options, out io.Writer) (int, error) {
	if o.emptyReceives <= 0 {
		o.emptyReceives = 2
	}
	fifo := strings.HasSuffix(o.to, ".fifo")
	moved, empty := 0, 0
	seen := map[string]bool{} // dry run: stop once messages come round again
	var listed []*string      // dry run: receipt handles to make visible again
	defer func() {
		for _, rh := range listed {
			_, _ = api.ChangeMessageVisibility(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(o.from), ReceiptHandle: rh, VisibilityTimeout: 0})
		}
	}()
	for empty < o.emptyReceives && (o.max <= 0 || moved < o.max) {
		res, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(o.from),
			MaxNumberOfMessages:         int32(min(10, remaining(o.max, moved))),
			WaitTimeSeconds:             1,
			VisibilityTimeout:           60,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			return moved, fmt.Errorf("receive from the DLQ: %w", err)
		}
		if len(res.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range res.Messages {
			id := aws.ToString(m.MessageId)
			group := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
			if o.dryRun {
				if seen[id] {
					return moved, nil
				}
				seen[id] = true
				listed = append(listed, m.ReceiptHandle)
				fmt.Fprintf(out, "would move %s group=%q receives=%s\n", id, group, m.Attributes["ApproximateReceiveCount"])
				moved++
				continue
			}
			if err := send(ctx, api, o, fifo, m); err != nil {
				return moved, fmt.Errorf("send %s back: %w (it stays in the DLQ)", id, err)
			}
			if _, err := api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(o.from), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return moved, fmt.Errorf("delete %s from the DLQ (it is on the queue too; the consumer's idempotency drops the copy): %w", id, err)
			}
			fmt.Fprintf(out, "moved %s group=%q\n", id, group)
			moved++
		}
	}
	return moved, nil
}

func remaining(max, moved int) int {
	if max <= 0 {
		return 10
	}
	return max - moved
}

// send puts m on the source queue, preserving its group and deduplication ids; if SQS answers
// with the DLQ message's own id (the deduplication id was used in the last five minutes and the
// send was dropped), it sends again with a derived deduplication id.
func send(ctx context.Context, api API, o options, fifo bool, m types.Message) error {
	in := &sqs.SendMessageInput{
		QueueUrl: aws.String(o.to), MessageBody: m.Body, MessageAttributes: m.MessageAttributes,
	}
	dedupe := m.Attributes[string(types.MessageSystemAttributeNameMessageDeduplicationId)]
	if fifo {
		in.MessageGroupId = aws.String(m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)])
		if aws.ToString(in.MessageGroupId) == "" {
			return errors.New("the message has no MessageGroupId and the target queue is FIFO")
		}
		if dedupe == "" || o.fresh {
			dedupe = derived(dedupe, aws.ToString(m.MessageId))
		}
		in.MessageDeduplicationId = aws.String(dedupe)
	}
	res, err := api.SendMessage(ctx, in)
	if err != nil {
		return err
	}
	if !fifo || aws.ToString(res.MessageId) != aws.ToString(m.MessageId) || o.fresh {
		return nil
	}
	in.MessageDeduplicationId = aws.String(derived(dedupe, aws.ToString(m.MessageId)))
	res, err = api.SendMessage(ctx, in)
	if err != nil {
		return err
	}
	if aws.ToString(res.MessageId) == aws.ToString(m.MessageId) {
		return errors.New("SQS dropped the message as a duplicate twice")
	}
	return nil
}

// derived is the deduplication id of a redriven message: stable for one DLQ message (a re-run
// after a crash is deduplicated again) and within SQS's 128 characters.
func derived(dedupe, messageID string) string {
	if dedupe == "" {
		dedupe = messageID
	}
	d := dedupe + "~redrive"
	if len(d) <= 128 {
		return d
	}
	sum := sha256.Sum256([]byte(d))
	return "h:" + hex.EncodeToString(sum[:])
}
