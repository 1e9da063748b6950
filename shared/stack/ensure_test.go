package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloro/wa-senders/shared/stack"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestEnsureIntegration creates the template's resources under a unique stack name twice
// (idempotence) and checks what DynamoDB Local and fauxqs report back.
func TestEnsureIntegration(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	sq := testenv.SQS(t)
	tmpl := testenv.Template(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	res, err := stack.Ensure(ctx, ddb, sq, tmpl)
	t.Cleanup(func() { cleanup(t, ddb, sq, tmpl, res) })
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	again, err := stack.Ensure(ctx, ddb, sq, tmpl)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	for id, u := range res.QueueURLs {
		if again.QueueURLs[id] != u {
			t.Errorf("queue %s URL changed between runs: %s then %s", id, u, again.QueueURLs[id])
		}
	}

	tb := tmpl.Tables[0]
	d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.Table.GlobalSecondaryIndexes); got != len(tb.GSIs) {
		t.Errorf("GSIs = %d, want %d", got, len(tb.GSIs))
	}
	if got := d.Table.BillingModeSummary; got == nil || string(got.BillingMode) != tb.BillingMode {
		t.Errorf("billing mode = %+v, want %s", got, tb.BillingMode)
	}
	ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tb.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if s := ttl.TimeToLiveDescription; s.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled || aws.ToString(s.AttributeName) != tb.TTLAttribute {
		t.Errorf("TTL = %s on %q, want ENABLED on %q", s.TimeToLiveStatus, aws.ToString(s.AttributeName), tb.TTLAttribute)
	}

	for _, q := range tmpl.Queues {
		got, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(res.QueueURLs[q.LogicalID]), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("queue %s: %v", q.LogicalID, err)
		}
		a := got.Attributes
		if q.FIFO != (a["FifoQueue"] == "true") {
			t.Errorf("queue %s FifoQueue = %q", q.LogicalID, a["FifoQueue"])
		}
		if q.VisibilityTimeout != 0 && a["VisibilityTimeout"] != itoa(q.VisibilityTimeout) {
			t.Errorf("queue %s VisibilityTimeout = %q, want %d", q.LogicalID, a["VisibilityTimeout"], q.VisibilityTimeout)
		}
		if a["MessageRetentionPeriod"] != itoa(q.MessageRetentionPeriod) {
			t.Errorf("queue %s MessageRetentionPeriod = %q, want %d", q.LogicalID, a["MessageRetentionPeriod"], q.MessageRetentionPeriod)
		}
		if q.DeadLetterTarget == "" {
			continue
		}
		var rp struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(a["RedrivePolicy"]), &rp); err != nil {
			t.Fatalf("queue %s RedrivePolicy %q: %v", q.LogicalID, a["RedrivePolicy"], err)
		}
		if rp.DeadLetterTargetArn != res.QueueARNs[q.DeadLetterTarget] {
			t.Errorf("queue %s redrives to %s, want %s", q.LogicalID, rp.DeadLetterTargetArn, res.QueueARNs[q.DeadLetterTarget])
		}
		if n, _ := json.Marshal(rp.MaxReceiveCount); string(n) != itoa(q.MaxReceiveCount) && string(n) != `"`+itoa(q.MaxReceiveCount)+`"` {
			t.Errorf("queue %s maxReceiveCount = %s, want %d", q.LogicalID, n, q.MaxReceiveCount)
		}
	}
}

// TestEnsureTableDriftIntegration: a table that exists with another key schema is reported,
// not silently used.
func TestEnsureTableDriftIntegration(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	tb := testenv.Template(t).Tables[0]
	ctx := context.Background()
	_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(tb.Name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("other"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("other"), KeyType: ddbtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(tb.Name)})
	})
	if err := stack.EnsureTable(ctx, ddb, tb); !errors.Is(err, stack.ErrDrift) {
		t.Fatalf("EnsureTable on a drifted table: err = %v, want ErrDrift", err)
	}
}

func cleanup(t *testing.T, ddb *dynamodb.Client, sq *sqs.Client, tmpl *stack.Template, res stack.Resources) {
	ctx := context.Background()
	for _, tb := range tmpl.Tables {
		_, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(tb.Name)})
		var nf *ddbtypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			t.Errorf("delete table %s: %v", tb.Name, err)
		}
	}
	for _, u := range res.QueueURLs {
		if _, err := sq.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
			t.Errorf("delete queue %s: %v", u, err)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestEnsureQueueDriftIntegration: a queue that exists with other attributes is reported.
func TestEnsureQueueDriftIntegration(t *testing.T) {
	sq := testenv.SQS(t)
	q := testenv.Template(t).Queue("InboundDLQ")
	ctx := context.Background()
	urls, _, err := stack.EnsureQueues(ctx, sq, []stack.Queue{*q})
	t.Cleanup(func() {
		for _, u := range urls {
			_, _ = sq.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	changed := *q
	changed.VisibilityTimeout = 7
	if _, _, err := stack.EnsureQueues(ctx, sq, []stack.Queue{changed}); !errors.Is(err, stack.ErrDrift) {
		t.Fatalf("EnsureQueues on a drifted queue: err = %v, want ErrDrift", err)
	}
}
