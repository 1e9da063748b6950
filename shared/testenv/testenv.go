// Package testenv is what every integration test in the repository uses to reach the local stack
// (DynamoDB Local and fauxqs) and to get fresh, uniquely named resources built from template.yaml.
//
// Integration tests call Integration(t) first: without WA_INTEGRATION they skip with a clear
// message; with it (make test sets WA_INTEGRATION=1) an unreachable service fails the test
// instead of hiding it behind a skip.
//
// Endpoints come from AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS (as `make up` writes them
// to .local/env.json), defaulting to http://127.0.0.1:8000 and http://127.0.0.1:9324.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/stack"
)

// Environment variables read here.
const (
	EnvIntegration = "WA_INTEGRATION"
	EnvDynamoDB    = "AWS_ENDPOINT_URL_DYNAMODB"
	EnvSQS         = "AWS_ENDPOINT_URL_SQS"
)

// Default local endpoints (make up's defaults).
const (
	DefaultDynamoDBEndpoint = "http://127.0.0.1:8000"
	DefaultSQSEndpoint      = "http://127.0.0.1:9324"
)

// Integration skips t unless WA_INTEGRATION is set, and fails it when it is set but DynamoDB
// Local or fauxqs does not answer.
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvIntegration) == "" {
		t.Skipf("integration test: set %s=1 and start the local stack (make up), or run make test", EnvIntegration)
	}
	if err := reachable(); err != nil {
		t.Fatalf("%s is set but the local stack does not answer: %v (start it with make up)", EnvIntegration, err)
	}
}

var (
	reachOnce sync.Once
	reachErr  error
)

// reachable checks both services once per test binary.
func reachable() error {
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := newDynamoDB().ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
			reachErr = fmt.Errorf("DynamoDB Local at %s: %w", DynamoDBEndpoint(), err)
			return
		}
		if _, err := newSQS().ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(1)}); err != nil {
			reachErr = fmt.Errorf("fauxqs at %s: %w", SQSEndpoint(), err)
		}
	})
	return reachErr
}

// DynamoDBEndpoint is the DynamoDB Local endpoint in use.
func DynamoDBEndpoint() string { return envOr(EnvDynamoDB, DefaultDynamoDBEndpoint) }

// SQSEndpoint is the fauxqs endpoint in use.
func SQSEndpoint() string { return envOr(EnvSQS, DefaultSQSEndpoint) }

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

// Config is an SDK configuration for the local stack: static credentials, us-east-1, no
// profile or IMDS lookups. Set BaseEndpoint per client (DynamoDBEndpoint, SQSEndpoint).
func Config() aws.Config { return stack.LocalConfig() }

func newDynamoDB() *dynamodb.Client { return stack.LocalDynamoDB(DynamoDBEndpoint()) }

func newSQS() *sqs.Client { return stack.LocalSQS(SQSEndpoint()) }

// DynamoDB returns a client for DynamoDB Local. It calls Integration first.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	Integration(t)
	return newDynamoDB()
}

// SQS returns a client for fauxqs. It calls Integration first.
func SQS(t testing.TB) *sqs.Client {
	t.Helper()
	Integration(t)
	return newSQS()
}

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := stack.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Template parses the repository's template.yaml under a fresh, unique stack name, so every
// resource it names is new.
func Template(t testing.TB) *stack.Template {
	t.Helper()
	tmpl, err := stack.LoadRepo(".", stack.Options{StackName: UniqueName(t, "t")})
	if err != nil {
		t.Fatalf("read template.yaml: %v", err)
	}
	return tmpl
}

// UniqueName returns prefix plus a random suffix, short enough for SQS's 80-character names.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// Table creates a fresh, uniquely named table with exactly the schema of template.yaml's only
// table (key schema, attributes, GSIs, TTL) and deletes it when the test ends.
func Table(t testing.TB, ddb *dynamodb.Client) string {
	t.Helper()
	tmpl := Template(t)
	if len(tmpl.Tables) != 1 {
		t.Fatalf("template.yaml declares %d tables; testenv.Table expects one (use TableFor)", len(tmpl.Tables))
	}
	return TableFor(t, ddb, tmpl, tmpl.Tables[0].LogicalID)
}

// TableFor creates the table with the given logical id from tmpl and deletes it at cleanup.
func TableFor(t testing.TB, ddb *dynamodb.Client, tmpl *stack.Template, logicalID string) string {
	t.Helper()
	tb := tmpl.Table(logicalID)
	if tb == nil {
		t.Fatalf("template.yaml has no table %s", logicalID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stack.EnsureTable(ctx, ddb, *tb); err != nil {
		t.Fatalf("create table: %v", err)
	}
	name := tb.Name
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	return name
}

// QueueSet holds the URLs of a fresh set of template queues, by logical id.
type QueueSet struct {
	URLs map[string]string
	ARNs map[string]string
}

// Queues creates fresh, uniquely named queues with template.yaml's settings (FIFO, dedupe,
// visibility, retention, redrive) and deletes them when the test ends. It returns the URLs of
// OutboundQueue, InboundQueue and OutboundDLQ.
func Queues(t testing.TB, sq *sqs.Client) (outboundURL, inboundURL, outboundDLQURL string) {
	t.Helper()
	set := AllQueues(t, sq)
	for _, id := range []string{"OutboundQueue", "InboundQueue", "OutboundDLQ"} {
		if set.URLs[id] == "" {
			t.Fatalf("template.yaml has no queue %s", id)
		}
	}
	return set.URLs["OutboundQueue"], set.URLs["InboundQueue"], set.URLs["OutboundDLQ"]
}

// AllQueues creates every queue of template.yaml under a unique stack name and deletes them at
// cleanup.
func AllQueues(t testing.TB, sq *sqs.Client) QueueSet {
	t.Helper()
	tmpl := Template(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	urls, arns, err := stack.EnsureQueues(ctx, sq, tmpl.Queues)
	// Register cleanup for whatever was created, even on a partial failure.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, u := range urls {
			if _, err := sq.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
				t.Errorf("delete queue %s: %v", u, err)
			}
		}
	})
	if err != nil {
		t.Fatalf("create queues: %v", err)
	}
	return QueueSet{URLs: urls, ARNs: arns}
}
