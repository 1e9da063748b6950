package stack

// Contract checks on template.yaml read straight through goformation (not through this
// package's Template), so that they hold whatever the local tooling does with the template.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/google/go-cmp/cmp"
)

// tplContractEnv is the configuration contract: the environment every function gets
// (shared/config reads these names), plus its own secret's (tplSecretEnv).
var tplContractEnv = []string{
	"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "BUSINESS_PORTFOLIO_ID", "CARRIER_WEBHOOK_BASE_URL",
	"CREDENTIALS_KMS_KEY_ID", "CREDENTIALS_LOCAL_KEY",
	"GRAPH_API_BASE_URL", "GRAPH_API_VERSION", "INBOUND_QUEUE_URL", "NUMBER_HOLD", "NUMBER_POOL_MODE",
	"OUTBOUND_QUEUE_URL", "TABLE_NAME",
}

// tplSecretEnv is each function's secret: the variable naming its ARN and the values it holds
// (declared empty). The webhook never gets the Graph token's; the functions that onboard
// businesses and run platform numbers (senders, reconciler) also hold the app's id and secret
// and the carrier's credentials.
var tplSecretEnv = map[string][]string{
	"WebhookFunction":  {"WEBHOOK_SECRET_ARN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"},
	"OutboundFunction": {"PLATFORM_SECRET_ARN", "WHATSAPP_ACCESS_TOKEN"},
	"SendersFunction": {"PLATFORM_SECRET_ARN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "WHATSAPP_ACCESS_TOKEN",
		"WHATSAPP_APP_ID", "WHATSAPP_APP_SECRET"},
	"ReconcilerFunction": {"PLATFORM_SECRET_ARN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "WHATSAPP_ACCESS_TOKEN",
		"WHATSAPP_APP_ID", "WHATSAPP_APP_SECRET"},
}

// tplDeclaredEmpty are declared only so that `sam local invoke --env-vars` can set them; in the
// template they must stay empty (secrets come from Secrets Manager, endpoints from the SDK).
var tplDeclaredEmpty = []string{
	"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN",
	"WHATSAPP_APP_ID", "CREDENTIALS_LOCAL_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
	"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS",
}

const tplRepoRoot = "../.."

// tplIntrinsics keep references readable: goformation turns !Ref to a resource into "" and
// !GetAtt into nil by default. Ref X becomes "${X}", GetAtt X.Y "${X.Y}", Sub keeps its text.
var tplIntrinsics = &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
	"Ref": func(_ string, in any, _ any) any { return fmt.Sprintf("${%v}", in) },
	"Fn::GetAtt": func(_ string, in any, _ any) any {
		if l, ok := in.([]any); ok && len(l) == 2 {
			return fmt.Sprintf("${%v.%v}", l[0], l[1])
		}
		return fmt.Sprintf("${%v}", in)
	},
	"Fn::Sub": func(_ string, in any, _ any) any {
		if l, ok := in.([]any); ok && len(l) > 0 {
			return fmt.Sprint(l[0])
		}
		return fmt.Sprint(in)
	},
	// Alarm actions are conditional; their value does not matter here.
	"Fn::If": func(_ string, _ any, _ any) any { return nil },
}}

func tplRead(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tplRepoRoot, "template.yaml"))
	if err != nil {
		t.Fatalf("read template.yaml: %v", err)
	}
	return data
}

// tplTyped are the resource types decoded into goformation's structs. The others (alarms,
// log groups whose retention is a parameter, roles) are not needed here, and goformation's
// strict decoding would reject their intrinsics-valued numbers.
var tplTyped = map[string]bool{
	"AWS::Serverless::Function": true,
	"AWS::DynamoDB::Table":      true,
	"AWS::SQS::Queue":           true,
}

// tplUnknownToGoformation are valid SAM function properties that goformation v7.14.9's
// serverless.Function does not know (it would fail the whole parse).
var tplUnknownToGoformation = []string{"LoggingConfig"}

// tplParse reads template.yaml through goformation: intrinsics processed with tplIntrinsics,
// then the resources of tplTyped decoded into goformation's types.
func tplParse(t *testing.T) *cloudformation.Template {
	t.Helper()
	plain := tplPlain(t)
	resources, _ := plain["Resources"].(map[string]any)
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if !tplTyped[fmt.Sprint(res["Type"])] {
			delete(resources, id)
			continue
		}
		if props, ok := res["Properties"].(map[string]any); ok {
			for _, k := range tplUnknownToGoformation {
				delete(props, k)
			}
		}
	}
	if fn, ok := tplPath(plain, "Globals", "Function").(map[string]any); ok {
		for _, k := range tplUnknownToGoformation {
			delete(fn, k)
		}
	}
	data, err := json.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := goformation.ParseJSONWithOptions(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("goformation: parse template.yaml: %v", err)
	}
	return tmpl
}

// tplPlain is template.yaml with intrinsics processed, as plain maps: goformation's typed SQS
// event does not know FunctionResponseTypes and decodes to nil.
func tplPlain(t *testing.T) map[string]any {
	t.Helper()
	out, err := intrinsics.ProcessYAML(tplRead(t), tplIntrinsics)
	if err != nil {
		t.Fatalf("goformation: process template.yaml: %v", err)
	}
	var plain map[string]any
	if err := json.Unmarshal(out, &plain); err != nil {
		t.Fatalf("decode processed template: %v", err)
	}
	return plain
}

// tplCodeDir is where a function's main package lives: WebhookFunction -> functions/webhook
// (the Makefile's build-<LogicalId> targets follow the same rule).
func tplCodeDir(logicalID string) string {
	return filepath.Join("functions", strings.ToLower(strings.TrimSuffix(logicalID, "Function")))
}

func TestTemplateFunctions(t *testing.T) {
	tmpl := tplParse(t)
	globals, err := tmpl.GetServerlessGlobalFunction()
	if err != nil {
		t.Fatalf("Globals.Function: %v", err)
	}
	fns := tmpl.GetAllServerlessFunctionResources()
	var ids []string
	for id := range fns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if diff := cmp.Diff([]string{"OutboundFunction", "ReconcilerFunction", "SendersFunction", "WebhookFunction"}, ids); diff != "" {
		t.Errorf("functions (-want +got):\n%s", diff)
	}

	for _, id := range ids {
		fn := fns[id]
		t.Run(id, func(t *testing.T) {
			dir := tplCodeDir(id)
			goFiles, _ := filepath.Glob(filepath.Join(tplRepoRoot, dir, "*.go"))
			if len(goFiles) == 0 {
				t.Errorf("code folder %s is missing or has no Go files", dir)
			}
			if got := fn.AWSCloudFormationMetadata["BuildMethod"]; got != "makefile" {
				t.Errorf("Metadata.BuildMethod = %v, want makefile (the Makefile's build-%s target)", got, id)
			}

			if got := tplFirst(fn.Handler, globals.Handler); got != "bootstrap" {
				t.Errorf("Handler = %q, want bootstrap", got)
			}
			if got := tplFirst(fn.Runtime, globals.Runtime); got != "provided.al2023" {
				t.Errorf("Runtime = %q, want provided.al2023", got)
			}
			arch := fn.Architectures
			if arch == nil && globals.Architectures != nil {
				arch = *globals.Architectures
			}
			if diff := cmp.Diff([]string{"arm64"}, arch); diff != "" {
				t.Errorf("Architectures (-want +got):\n%s", diff)
			}

			env := map[string]string{}
			if globals.Environment != nil {
				for k, v := range globals.Environment.Variables {
					env[k] = v
				}
			}
			if fn.Environment != nil {
				for k, v := range fn.Environment.Variables {
					env[k] = v
				}
			}
			var names []string
			for k := range env {
				names = append(names, k)
			}
			for _, name := range tplDeclaredEmpty {
				if v := env[name]; v != "" {
					t.Errorf("%s has a value in the template: secrets come from the Secrets Manager secret at cold start, endpoints from the SDK", name)
				}
			}
			sort.Strings(names)
			want := append(append([]string{}, tplContractEnv...), tplSecretEnv[id]...)
			sort.Strings(want)
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("environment variable names (-contract +template):\n%s", diff)
			}
		})
	}
}

func tplFirst(vals ...*string) string {
	for _, v := range vals {
		if v != nil {
			return *v
		}
	}
	return ""
}

func TestTemplateQueuesHaveDLQ(t *testing.T) {
	tmpl := tplParse(t)
	queues := tmpl.GetAllSQSQueueResources()
	if len(queues) == 0 {
		t.Fatal("template.yaml has no queues")
	}
	// A dead-letter queue is the target of another queue's RedrivePolicy.
	dlqs := map[string]bool{}
	for _, q := range queues {
		if rp, ok := q.RedrivePolicy.(map[string]any); ok {
			dlqs[strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(rp["deadLetterTargetArn"]), "${"), ".Arn}")] = true
		}
	}
	for id, q := range queues {
		if dlqs[id] {
			continue
		}
		rp, ok := q.RedrivePolicy.(map[string]any)
		if !ok {
			t.Errorf("%s has no RedrivePolicy (every queue but a DLQ needs one)", id)
			continue
		}
		target := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(rp["deadLetterTargetArn"]), "${"), ".Arn}")
		dlq, ok := queues[target]
		if !ok {
			t.Errorf("%s: deadLetterTargetArn %v is not a queue of this template", id, rp["deadLetterTargetArn"])
			continue
		}
		if n, _ := strconv.Atoi(fmt.Sprint(rp["maxReceiveCount"])); n < 1 {
			t.Errorf("%s: maxReceiveCount = %v, want >= 1", id, rp["maxReceiveCount"])
		}
		if q.FifoQueue != nil && *q.FifoQueue && (dlq.FifoQueue == nil || !*dlq.FifoQueue) {
			t.Errorf("%s is FIFO but its DLQ %s is not (SQS requires both to be FIFO)", id, target)
		}
	}
}

// TestTemplateVisibilityTimeouts checks AWS's rule for SQS event sources: a queue's visibility
// timeout is at least six times the timeout of the function that consumes it.
func TestTemplateVisibilityTimeouts(t *testing.T) {
	plain := tplPlain(t)
	resources, _ := plain["Resources"].(map[string]any)
	globalTimeout := tplNumber(tplPath(plain, "Globals", "Function", "Timeout"))
	consumers := 0
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::Serverless::Function" {
			continue
		}
		timeout := globalTimeout
		if v := tplPath(res, "Properties", "Timeout"); v != nil {
			timeout = tplNumber(v)
		}
		events, _ := tplPath(res, "Properties", "Events").(map[string]any)
		for name, e := range events {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "SQS" {
				continue
			}
			consumers++
			queueID := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(tplPath(ev, "Properties", "Queue")), "${"), ".Arn}")
			queue, _ := resources[queueID].(map[string]any)
			if queue == nil {
				t.Errorf("%s.%s: queue %s is not in the template", id, name, queueID)
				continue
			}
			visibility := tplNumber(tplPath(queue, "Properties", "VisibilityTimeout"))
			if visibility < 6*timeout {
				t.Errorf("%s VisibilityTimeout = %vs, want >= 6 x %s's timeout (%vs)", queueID, visibility, id, 6*timeout)
			}
			if rt := fmt.Sprint(tplPath(ev, "Properties", "FunctionResponseTypes")); !strings.Contains(rt, "ReportBatchItemFailures") {
				t.Errorf("%s.%s: FunctionResponseTypes = %s, want ReportBatchItemFailures", id, name, rt)
			}
		}
	}
	if consumers == 0 {
		t.Error("no SQS event source found (the outbound consumer should have one)")
	}
}

func tplPath(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func tplNumber(v any) float64 {
	f, _ := strconv.ParseFloat(fmt.Sprint(v), 64)
	return f
}

func TestTemplateTableTTL(t *testing.T) {
	tables := tplParse(t).GetAllDynamoDBTableResources()
	if len(tables) == 0 {
		t.Fatal("template.yaml has no DynamoDB table")
	}
	for id, table := range tables {
		ttl := table.TimeToLiveSpecification
		if ttl == nil || !ttl.Enabled {
			t.Errorf("%s: TTL is not enabled", id)
			continue
		}
		if ttl.AttributeName == nil || *ttl.AttributeName != "expiresAt" {
			t.Errorf("%s: TTL attribute = %v, want expiresAt (the store writes it)", id, ttl.AttributeName)
		}
	}
}
