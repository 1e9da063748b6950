package stack

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func repoTemplate(t *testing.T, opts Options) *Template {
	t.Helper()
	tmpl, err := LoadRepo(".", opts)
	if err != nil {
		t.Fatalf("LoadRepo: %v", err)
	}
	return tmpl
}

// TestRepoTemplate pins what the local tools read from the real template.yaml. When the template
// changes on purpose, update the expectations here.
func TestRepoTemplate(t *testing.T) {
	tmpl := repoTemplate(t, Options{})

	if tmpl.StackName != DefaultStackName {
		t.Errorf("StackName = %q, want %q", tmpl.StackName, DefaultStackName)
	}
	wantTable := Table{
		LogicalID:   "SendersTable",
		Name:        "wa-senders-local-SendersTable",
		BillingMode: "PAY_PER_REQUEST",
		KeySchema:   []KeyElement{{"pk", "HASH"}, {"sk", "RANGE"}},
		Attributes: []Attribute{
			{"pk", "S"}, {"sk", "S"}, {"gsi1pk", "S"}, {"gsi1sk", "S"}, {"gsi2pk", "S"}, {"gsi2sk", "S"},
		},
		GSIs: []Index{
			{Name: "GSI1", KeySchema: []KeyElement{{"gsi1pk", "HASH"}, {"gsi1sk", "RANGE"}}, ProjectionType: "ALL"},
			{Name: "GSI2", KeySchema: []KeyElement{{"gsi2pk", "HASH"}, {"gsi2sk", "RANGE"}}, ProjectionType: "ALL"},
		},
		TTLAttribute: "expiresAt",
	}
	if diff := cmp.Diff([]Table{wantTable}, tmpl.Tables); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}

	wantQueues := []Queue{
		{LogicalID: "InboundDLQ", Name: "wa-senders-local-inbound-dlq.fifo", FIFO: true, MessageRetentionPeriod: 1209600},
		{LogicalID: "InboundQueue", Name: "wa-senders-local-inbound.fifo", FIFO: true, VisibilityTimeout: 60, MessageRetentionPeriod: 1209600,
			DeadLetterTarget: "InboundDLQ", MaxReceiveCount: 5},
		{LogicalID: "OutboundDLQ", Name: "wa-senders-local-outbound-dlq.fifo", FIFO: true, MessageRetentionPeriod: 1209600},
		{LogicalID: "OutboundQueue", Name: "wa-senders-local-outbound.fifo", FIFO: true, VisibilityTimeout: 180,
			MessageRetentionPeriod: 1209600, DeadLetterTarget: "OutboundDLQ", MaxReceiveCount: 8},
	}
	if diff := cmp.Diff(wantQueues, tmpl.Queues); diff != "" {
		t.Errorf("queues (-want +got):\n%s", diff)
	}

	wantFolders := map[string]string{
		"WebhookFunction": "webhook", "OutboundFunction": "outbound",
		"SendersFunction": "senders", "ReconcilerFunction": "reconciler",
	}
	if len(tmpl.Functions) != len(wantFolders) {
		t.Errorf("got %d functions, want %d", len(tmpl.Functions), len(wantFolders))
	}
	commonEnv := map[string]string{
		"TABLE_NAME":         "{{ref:SendersTable}}",
		"OUTBOUND_QUEUE_URL": "{{ref:OutboundQueue}}",
		"INBOUND_QUEUE_URL":  "{{ref:InboundQueue}}",
		"GRAPH_API_BASE_URL": "https://graph.facebook.com",
		"GRAPH_API_VERSION":  "v26.0",
		// Declared empty so that sam local can set them (template.yaml says why).
		"CREDENTIALS_LOCAL_KEY":     "",
		"AWS_ENDPOINT_URL_DYNAMODB": "", "AWS_ENDPOINT_URL_SQS": "",
		"CREDENTIALS_KMS_KEY_ID": "alias/wa-senders-local-credentials",
		// Platform numbers, at the template's defaults.
		"NUMBER_POOL_MODE": "off", "BUSINESS_PORTFOLIO_ID": "", "CARRIER_WEBHOOK_BASE_URL": "", "NUMBER_HOLD": "720h",
	}
	// Each function's own secret (no parameter value given: empty), and its values declared empty.
	secretEnv := map[string]map[string]string{
		"WebhookFunction":  {"WEBHOOK_SECRET_ARN": "", "WHATSAPP_APP_SECRET": "", "WHATSAPP_VERIFY_TOKEN": ""},
		"OutboundFunction": {"PLATFORM_SECRET_ARN": "", "WHATSAPP_ACCESS_TOKEN": ""},
		"SendersFunction": {"PLATFORM_SECRET_ARN": "", "WHATSAPP_ACCESS_TOKEN": "", "WHATSAPP_APP_SECRET": "", "WHATSAPP_APP_ID": "",
			"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""},
		"ReconcilerFunction": {"PLATFORM_SECRET_ARN": "", "WHATSAPP_ACCESS_TOKEN": "", "WHATSAPP_APP_SECRET": "", "WHATSAPP_APP_ID": "",
			"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""},
	}
	for _, f := range tmpl.Functions {
		if got, want := f.Folder, wantFolders[f.LogicalID]; got != want {
			t.Errorf("%s: Folder = %q, want %q", f.LogicalID, got, want)
		}
		if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !cmp.Equal(f.Architectures, []string{"arm64"}) {
			t.Errorf("%s: runtime/handler/arch = %s/%s/%v (Globals not merged?)", f.LogicalID, f.Runtime, f.Handler, f.Architectures)
		}
		if f.LogFormat != "JSON" || f.LogLevel != "INFO" {
			t.Errorf("%s: log format/level = %q/%q, want JSON/INFO from Globals", f.LogicalID, f.LogFormat, f.LogLevel)
		}
		if f.MemorySize != 256 || f.Timeout < 10 {
			t.Errorf("%s: memory %d, timeout %d", f.LogicalID, f.MemorySize, f.Timeout)
		}
		wantEnv := maps.Clone(commonEnv)
		maps.Copy(wantEnv, secretEnv[f.LogicalID])
		if diff := cmp.Diff(wantEnv, f.Env); diff != "" {
			t.Errorf("%s env (-want +got):\n%s", f.LogicalID, diff)
		}
	}
	if got := tmpl.Function("ReconcilerFunction").Timeout; got != 300 {
		t.Errorf("ReconcilerFunction timeout = %d, want its own 300 over Globals' 15", got)
	}

	// The SQS event goformation drops (FunctionResponseTypes) is read.
	out := tmpl.Function("OutboundFunction")
	wantEvents := []Event{{Name: "Outbound", Type: "SQS", Queue: "OutboundQueue", BatchSize: 10, ReportBatchItemFailures: true, MaximumConcurrency: 10}}
	if diff := cmp.Diff(wantEvents, out.Events); diff != "" {
		t.Errorf("OutboundFunction events (-want +got):\n%s", diff)
	}
	var routes []string
	for _, e := range tmpl.Function("WebhookFunction").Events {
		routes = append(routes, e.Method+" "+e.Path)
	}
	if diff := cmp.Diff([]string{"POST /webhook", "GET /webhook"}, routes); diff != "" {
		t.Errorf("webhook routes (-want +got):\n%s", diff)
	}
}

func TestRepoTemplateStackNameAndParameters(t *testing.T) {
	tmpl := repoTemplate(t, Options{
		StackName:  "t-abc",
		Parameters: map[string]string{"GraphApiBaseUrl": "http://127.0.0.1:8090", "WebhookSecretArn": "", "PlatformSecretArn": ""},
	})
	if got := tmpl.Queue("OutboundQueue").Name; got != "t-abc-outbound.fifo" {
		t.Errorf("queue name = %q", got)
	}
	if got := tmpl.Table("SendersTable").Name; got != "t-abc-SendersTable" {
		t.Errorf("table name = %q", got)
	}
	env, err := tmpl.Env("WebhookFunction", map[string]string{"OutboundQueue": "http://q/out", "InboundQueue": "http://q/in"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"TABLE_NAME":         "t-abc-SendersTable",
		"OUTBOUND_QUEUE_URL": "http://q/out",
		"INBOUND_QUEUE_URL":  "http://q/in",
		"GRAPH_API_BASE_URL": "http://127.0.0.1:8090",
		"GRAPH_API_VERSION":  "v26.0",
		"WEBHOOK_SECRET_ARN": "",
		// Declared empty so that sam local can set them (template.yaml says why).
		"WHATSAPP_APP_SECRET": "", "WHATSAPP_VERIFY_TOKEN": "", "CREDENTIALS_LOCAL_KEY": "",
		"AWS_ENDPOINT_URL_DYNAMODB": "", "AWS_ENDPOINT_URL_SQS": "",
		"CREDENTIALS_KMS_KEY_ID": "alias/t-abc-credentials",
		// Platform numbers, at the template's defaults.
		"NUMBER_POOL_MODE": "off", "BUSINESS_PORTFOLIO_ID": "", "CARRIER_WEBHOOK_BASE_URL": "", "NUMBER_HOLD": "720h",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if _, err := tmpl.Env("WebhookFunction", nil); !errors.Is(err, ErrUnresolved) {
		t.Errorf("Env without queue URLs: err = %v, want ErrUnresolved", err)
	}
	if _, err := tmpl.Env("NoSuchFunction", nil); err == nil {
		t.Error("Env of an unknown function: want an error")
	}
	if got := tmpl.ParameterValues()["LogRetentionDays"]; got != "30" {
		t.Errorf("LogRetentionDays = %q, want 30", got)
	}
}

func TestParseUnknownParameterOverride(t *testing.T) {
	_, err := LoadRepo(".", Options{Parameters: map[string]string{"Nope": "x"}})
	if err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("err = %v, want one naming the parameter", err)
	}
}

const synthetic = `
Parameters:
  Env: { Type: String, Default: dev }
  Days: { Type: Number, Default: 7 }
Globals:
  Function:
    Timeout: 5
    Environment:
      Variables:
        SHARED: !Sub "${AWS::StackName}-${Env}"
        OVERRIDDEN: global
Resources:
  Data:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-data"
      AttributeDefinitions: [{ AttributeName: id, AttributeType: N }]
      KeySchema: [{ AttributeName: id, KeyType: HASH }]
      ProvisionedThroughput: { ReadCapacityUnits: 2, WriteCapacityUnits: 3 }
      StreamSpecification: { StreamViewType: NEW_IMAGE }
  Dead:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: true
  Work:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: { "Fn::GetAtt": [Dead, Arn] }
        maxReceiveCount: "3"
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: { RetentionInDays: !Ref Days }
  JobFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: bootstrap
      Runtime: provided.al2023
      LoggingConfig: { LogGroup: !Ref Logs }
      Environment:
        Variables:
          OVERRIDDEN: own
          LIST: !Sub ["${A}/${B}", { A: !Ref Work, B: !GetAtt Dead.Arn }]
          TABLE_ARN: !Sub "${Data.Arn}/index/*"
          ESCAPED: !Sub "${!Literal}"
          DAYS: !Ref Days
          OTHER: !Ref Logs
`

func TestParseSynthetic(t *testing.T) {
	tmpl, err := Parse([]byte(synthetic), Options{StackName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	tb := tmpl.Table("Data")
	if tb.Name != "s-data" || tb.BillingMode != "PROVISIONED" || tb.ReadCapacity != 2 || tb.WriteCapacity != 3 || tb.StreamViewType != "NEW_IMAGE" {
		t.Errorf("table = %+v", *tb)
	}
	if q := tmpl.Queue("Dead"); q.Name != "s-Dead.fifo" || !q.FIFO || !q.ContentBasedDeduplication {
		t.Errorf("generated FIFO name/settings: %+v", *q)
	}
	if q := tmpl.Queue("Work"); q.Name != "s-Work" || q.DeadLetterTarget != "Dead" || q.MaxReceiveCount != 3 {
		t.Errorf("redrive: %+v", *q)
	}
	f := tmpl.Function("JobFunction")
	if f.Timeout != 5 || f.Folder != "job" || !cmp.Equal(f.Architectures, []string{"x86_64"}) {
		t.Errorf("function = %+v", *f)
	}
	if _, err := tmpl.Env("JobFunction", map[string]string{"Work": "http://q/s-Work"}); !errors.Is(err, ErrUnresolved) {
		t.Errorf("Ref to a log group: err = %v, want ErrUnresolved", err)
	}
	delete(f.Env, "OTHER")
	env, err := tmpl.Env("JobFunction", map[string]string{"Work": "http://q/s-Work"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"SHARED":     "s-dev",
		"OVERRIDDEN": "own",
		"LIST":       "http://q/s-Work/" + QueueARN("s-Dead.fifo"),
		"TABLE_ARN":  TableARN("s-data") + "/index/*",
		"ESCAPED":    "${Literal}",
		"DAYS":       "7",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"not yaml":        {"Resources: [", "yaml"},
		"fifo name":       {"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: { QueueName: q, FifoQueue: true }\n", ".fifo"},
		"redrive literal": {"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: { deadLetterTargetArn: arn:x, maxReceiveCount: 1 }\n", "deadLetterTargetArn"},
		"redrive missing": {"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: { deadLetterTargetArn: !GetAtt Nope.Arn, maxReceiveCount: 1 }\n", "Nope"},
		"no key schema":   {"Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties: { KeySchema: [] }\n", "KeySchema"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "template.yaml")); err != nil {
		t.Errorf("no template.yaml at repo root %s", root)
	}
	if _, err := RepoRoot(t.TempDir()); err == nil {
		t.Error("RepoRoot of a temp dir: want an error")
	}
}
