package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// DynamoDBAPI is the part of the DynamoDB client Ensure uses.
type DynamoDBAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// SQSAPI is the part of the SQS client Ensure uses.
type SQSAPI interface {
	CreateQueue(context.Context, *sqs.CreateQueueInput, ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var (
	_ DynamoDBAPI = (*dynamodb.Client)(nil)
	_ SQSAPI      = (*sqs.Client)(nil)
)

// ErrDrift reports a local resource that exists with settings other than the template's.
// Restarting the local stack (make down up) recreates it; DynamoDB Local runs in memory.
var ErrDrift = errors.New("local resource differs from template.yaml")

// Resources are the local names and addresses Ensure created or found.
type Resources struct {
	// TableNames by logical id.
	TableNames map[string]string
	// QueueURLs and QueueARNs by logical id.
	QueueURLs map[string]string
	QueueARNs map[string]string
}

// Ensure creates every table and queue of the template that does not exist yet. It is
// idempotent: existing resources with the template's settings are left alone.
func Ensure(ctx context.Context, ddb DynamoDBAPI, sq SQSAPI, t *Template) (Resources, error) {
	res := Resources{TableNames: map[string]string{}}
	for _, tb := range t.Tables {
		if err := EnsureTable(ctx, ddb, tb); err != nil {
			return Resources{}, err
		}
		res.TableNames[tb.LogicalID] = tb.Name
	}
	urls, arns, err := EnsureQueues(ctx, sq, t.Queues)
	if err != nil {
		return Resources{}, err
	}
	res.QueueURLs, res.QueueARNs = urls, arns
	return res, nil
}

// EnsureTable creates the table (named tb.Name) unless it exists, then turns on TTL.
func EnsureTable(ctx context.Context, ddb DynamoDBAPI, tb Table) error {
	out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb.Name)})
	var notFound *ddbtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		if _, err := ddb.CreateTable(ctx, CreateTableInput(tb)); err != nil {
			var inUse *ddbtypes.ResourceInUseException
			if !errors.As(err, &inUse) { // a concurrent Ensure won the race: fine
				return fmt.Errorf("create table %s: %w", tb.Name, err)
			}
		}
		w := dynamodb.NewTableExistsWaiter(ddb, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
		})
		if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb.Name)}, time.Minute); err != nil {
			return fmt.Errorf("wait for table %s: %w", tb.Name, err)
		}
	case err != nil:
		return fmt.Errorf("describe table %s: %w", tb.Name, err)
	default:
		if err := compareTable(tb, out.Table); err != nil {
			return err
		}
	}
	return ensureTTL(ctx, ddb, tb)
}

// CreateTableInput is the CreateTable request for a template table.
func CreateTableInput(tb Table) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(tb.Name),
		BillingMode: ddbtypes.BillingMode(tb.BillingMode),
		KeySchema:   sdkKeySchema(tb.KeySchema),
	}
	for _, a := range tb.Attributes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.Name), AttributeType: ddbtypes.ScalarAttributeType(a.Type),
		})
	}
	var throughput *ddbtypes.ProvisionedThroughput
	if in.BillingMode == ddbtypes.BillingModeProvisioned {
		r, w := tb.ReadCapacity, tb.WriteCapacity
		if r == 0 {
			r = 5
		}
		if w == 0 {
			w = 5
		}
		throughput = &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(r), WriteCapacityUnits: aws.Int64(w)}
		in.ProvisionedThroughput = throughput
	}
	for _, g := range tb.GSIs {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(g.Name), KeySchema: sdkKeySchema(g.KeySchema),
			Projection: sdkProjection(g), ProvisionedThroughput: throughput,
		})
	}
	for _, l := range tb.LSIs {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, ddbtypes.LocalSecondaryIndex{
			IndexName: aws.String(l.Name), KeySchema: sdkKeySchema(l.KeySchema), Projection: sdkProjection(l),
		})
	}
	if tb.StreamViewType != "" {
		in.StreamSpecification = &ddbtypes.StreamSpecification{
			StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(tb.StreamViewType),
		}
	}
	return in
}

func sdkKeySchema(ks []KeyElement) []ddbtypes.KeySchemaElement {
	out := make([]ddbtypes.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, ddbtypes.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: ddbtypes.KeyType(k.KeyType)})
	}
	return out
}

func sdkProjection(ix Index) *ddbtypes.Projection {
	p := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(ix.ProjectionType)}
	if len(ix.NonKeyAttributes) > 0 {
		p.NonKeyAttributes = ix.NonKeyAttributes
	}
	return p
}

func keyString(ks []ddbtypes.KeySchemaElement) string {
	s := ""
	for _, k := range ks {
		s += aws.ToString(k.AttributeName) + ":" + string(k.KeyType) + " "
	}
	return s
}

// compareTable checks what cannot change without recreating the table.
func compareTable(tb Table, got *ddbtypes.TableDescription) error {
	want := CreateTableInput(tb)
	if a, b := keyString(want.KeySchema), keyString(got.KeySchema); a != b {
		return fmt.Errorf("%w: table %s key schema is %q, template says %q", ErrDrift, tb.Name, b, a)
	}
	gotGSI := map[string]string{}
	for _, g := range got.GlobalSecondaryIndexes {
		gotGSI[aws.ToString(g.IndexName)] = keyString(g.KeySchema)
	}
	for _, g := range want.GlobalSecondaryIndexes {
		name := aws.ToString(g.IndexName)
		if gotGSI[name] != keyString(g.KeySchema) {
			return fmt.Errorf("%w: table %s index %s is missing or has another key schema", ErrDrift, tb.Name, name)
		}
		delete(gotGSI, name)
	}
	for name := range gotGSI {
		return fmt.Errorf("%w: table %s has index %s that the template does not declare", ErrDrift, tb.Name, name)
	}
	return nil
}

func ensureTTL(ctx context.Context, ddb DynamoDBAPI, tb Table) error {
	if tb.TTLAttribute == "" {
		return nil
	}
	d, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tb.Name)})
	if err != nil {
		return fmt.Errorf("describe ttl of %s: %w", tb.Name, err)
	}
	if s := d.TimeToLiveDescription; s != nil && s.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled {
		if aws.ToString(s.AttributeName) == tb.TTLAttribute {
			return nil
		}
		return fmt.Errorf("%w: table %s has TTL on %q, template says %q", ErrDrift, tb.Name, aws.ToString(s.AttributeName), tb.TTLAttribute)
	}
	_, err = ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(tb.Name),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
			AttributeName: aws.String(tb.TTLAttribute), Enabled: aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable ttl on %s: %w", tb.Name, err)
	}
	return nil
}

// EnsureQueues creates the queues, dead-letter targets before the queues that redrive to them,
// and returns their URLs and ARNs by logical id. On error the maps still hold the queues made
// so far, so callers can clean up.
func EnsureQueues(ctx context.Context, sq SQSAPI, queues []Queue) (urls, arns map[string]string, err error) {
	urls, arns = map[string]string{}, map[string]string{}
	pending := slices.Clone(queues)
	for len(pending) > 0 {
		var next []Queue
		for _, q := range pending {
			if q.DeadLetterTarget != "" && arns[q.DeadLetterTarget] == "" {
				next = append(next, q)
				continue
			}
			url, arn, err := ensureQueue(ctx, sq, q, arns[q.DeadLetterTarget])
			if err != nil {
				return urls, arns, err
			}
			urls[q.LogicalID], arns[q.LogicalID] = url, arn
		}
		if len(next) == len(pending) {
			return urls, arns, fmt.Errorf("queues %v: dead-letter targets missing or circular", logicalIDs(next))
		}
		pending = next
	}
	return urls, arns, nil
}

func logicalIDs(qs []Queue) []string {
	out := make([]string, 0, len(qs))
	for _, q := range qs {
		out = append(out, q.LogicalID)
	}
	return out
}

// QueueAttributes are the CreateQueue attributes for a template queue; dlqARN is the ARN of its
// dead-letter target ("" without one).
func QueueAttributes(q Queue, dlqARN string) (map[string]string, error) {
	attrs := map[string]string{}
	if q.FIFO {
		attrs[string(sqstypes.QueueAttributeNameFifoQueue)] = "true"
		attrs[string(sqstypes.QueueAttributeNameContentBasedDeduplication)] = strconv.FormatBool(q.ContentBasedDeduplication)
	}
	for name, v := range map[sqstypes.QueueAttributeName]int{
		sqstypes.QueueAttributeNameVisibilityTimeout:             q.VisibilityTimeout,
		sqstypes.QueueAttributeNameMessageRetentionPeriod:        q.MessageRetentionPeriod,
		sqstypes.QueueAttributeNameDelaySeconds:                  q.DelaySeconds,
		sqstypes.QueueAttributeNameMaximumMessageSize:            q.MaximumMessageSize,
		sqstypes.QueueAttributeNameReceiveMessageWaitTimeSeconds: q.ReceiveMessageWaitTime,
	} {
		if v != 0 {
			attrs[string(name)] = strconv.Itoa(v)
		}
	}
	if q.DeadLetterTarget != "" {
		if dlqARN == "" {
			return nil, fmt.Errorf("queue %s: no ARN for dead-letter target %s", q.LogicalID, q.DeadLetterTarget)
		}
		rp, err := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": q.MaxReceiveCount})
		if err != nil {
			return nil, fmt.Errorf("queue %s redrive policy: %w", q.LogicalID, err)
		}
		attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = string(rp)
	}
	return attrs, nil
}

func ensureQueue(ctx context.Context, sq SQSAPI, q Queue, dlqARN string) (url, arn string, err error) {
	attrs, err := QueueAttributes(q, dlqARN)
	if err != nil {
		return "", "", err
	}
	// CreateQueue returns the existing queue when its attributes match, and fails when they do not.
	out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.Name), Attributes: attrs})
	if err != nil {
		var exists *sqstypes.QueueNameExists
		if errors.As(err, &exists) {
			return "", "", fmt.Errorf("%w: queue %s exists with other attributes: %v", ErrDrift, q.Name, err)
		}
		return "", "", fmt.Errorf("create queue %s: %w", q.Name, err)
	}
	url = aws.ToString(out.QueueUrl)
	got, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("queue %s arn: %w", q.Name, err)
	}
	arn = got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if arn == "" {
		arn = QueueARN(q.Name)
	}
	return url, arn, nil
}
