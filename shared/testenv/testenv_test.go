package testenv

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestIntegrationGate runs a child test binary to see Integration skip without WA_INTEGRATION
// and fail (not skip) with it when nothing answers.
func TestIntegrationGate(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") != "" {
		Integration(t)
		t.Log("child: services reachable")
		return
	}
	for _, tc := range []struct {
		name     string
		env      []string
		wantFail bool
		wantOut  string
	}{
		{name: "unset skips", env: nil, wantOut: "--- SKIP"},
		{name: "set and unreachable fails", env: []string{EnvIntegration + "=1",
			// Port 1 on loopback: nothing listens there.
			EnvDynamoDB + "=http://127.0.0.1:1", EnvSQS + "=http://127.0.0.1:1"}, wantFail: true, wantOut: "--- FAIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationGate$", "-test.v")
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, EnvIntegration+"=") {
					env = append(env, kv)
				}
			}
			cmd.Env = append(append(env, "TESTENV_CHILD=1"), tc.env...)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantFail {
				t.Errorf("child err = %v, want failure %v\n%s", err, tc.wantFail, out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("child output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

func TestTableIntegration(t *testing.T) {
	ddb := DynamoDB(t)
	name := Table(t, ddb)
	tb := Template(t).Tables[0]
	d, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(d.Table.KeySchema), len(tb.KeySchema); got != want {
		t.Errorf("key schema has %d elements, want %d", got, want)
	}
	var gsis []string
	for _, g := range d.Table.GlobalSecondaryIndexes {
		gsis = append(gsis, aws.ToString(g.IndexName))
	}
	if len(gsis) != len(tb.GSIs) {
		t.Errorf("GSIs = %v, want %d", gsis, len(tb.GSIs))
	}
	if name2 := Table(t, ddb); name2 == name {
		t.Errorf("two tables share the name %s", name)
	}
}

func TestQueuesIntegration(t *testing.T) {
	sq := SQS(t)
	out, in, dlq := Queues(t, sq)
	for _, tc := range []struct {
		url  string
		fifo bool
	}{{out, true}, {in, true}, {dlq, true}} {
		a, err := sq.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(tc.url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if got := a.Attributes["FifoQueue"] == "true"; got != tc.fifo {
			t.Errorf("%s: FIFO = %v, want %v", tc.url, got, tc.fifo)
		}
	}
	if !strings.Contains(out, ".fifo") || !strings.Contains(in, "-inbound.fifo") || !strings.Contains(dlq, "-dlq.fifo") {
		t.Errorf("unexpected URLs: %s %s", out, dlq)
	}
}
