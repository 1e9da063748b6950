package drift

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Inputs. `make infra-test` synthesizes first; the SAM side is expanded here unless given.
//
//	CDK_TEMPLATE_JSON  the CDK app's template (default ../cdk.out/WaSenders.template.json)
//	SAM_TEMPLATE_JSON  template.yaml already expanded to JSON (default: expand it now)
//	PYTHON             interpreter with aws-sam-translator (default python3)
const (
	cdkStack       = "WaSenders"
	defaultCDKJSON = "../cdk.out/" + cdkStack + ".template.json"
	samTemplate    = "../../template.yaml"
	expandScript   = "../scripts/sam_expand.py"
)

// cdkOptions leave out the parts of a CDK template that have no SAM counterpart by design.
var cdkOptions = Options{
	CDKStack:         cdkStack,
	IgnoreParameters: []string{"BootstrapVersion"}, // the default synthesizer's bootstrap check
	IgnoreConditions: []string{"CDKMetadataAvailable"},
}

// expanded caches template.yaml's expansion: the translator takes a second or more per run.
var expanded struct {
	once sync.Once
	data []byte
	err  error
}

func samJSON(t *testing.T) []byte {
	t.Helper()
	expanded.once.Do(func() {
		if p := os.Getenv("SAM_TEMPLATE_JSON"); p != "" {
			expanded.data, expanded.err = os.ReadFile(p)
			return
		}
		py := os.Getenv("PYTHON")
		if py == "" {
			py = "python3"
		}
		cmd := exec.Command(py, expandScript, samTemplate)
		cmd.Stderr = os.Stderr
		expanded.data, expanded.err = cmd.Output()
	})
	if expanded.err != nil {
		t.Fatalf("expand %s with aws-sam-translator: %v", samTemplate, expanded.err)
	}
	return expanded.data
}

func cdkJSON(t *testing.T) []byte {
	t.Helper()
	p := os.Getenv("CDK_TEMPLATE_JSON")
	if p == "" {
		p = defaultCDKJSON
	}
	data, err := os.ReadFile(p)
	if err != nil {
		abs, _ := filepath.Abs(p)
		t.Fatalf("no synthesized CDK template at %s (run `make synth` first): %v", abs, err)
	}
	return data
}

func models(t *testing.T) (sam, cdk *Model, samRaw []byte) {
	t.Helper()
	samRaw = samJSON(t)
	st, err := Parse(samRaw)
	if err != nil {
		t.Fatalf("SAM template: %v", err)
	}
	ct, err := Parse(cdkJSON(t))
	if err != nil {
		t.Fatalf("CDK template: %v", err)
	}
	return Build(st, Options{}), Build(ct, cdkOptions), samRaw
}

func TestNoDriftBetweenSAMAndCDK(t *testing.T) {
	sam, cdk, _ := models(t)
	for name, m := range map[string]*Model{"template.yaml": sam, "CDK": cdk} {
		if len(m.Unclassified) > 0 {
			t.Errorf("%s has resource types the drift model does not compare (teach drift.Build): %v", name, m.Unclassified)
		}
	}
	if diff := cmp.Diff(sam, cdk); diff != "" {
		t.Errorf("CDK stack drifted from template.yaml (-template.yaml +CDK):\n%s", diff)
	}
}

// TestModelCoversTheStack guards the comparison itself: an empty model on both sides would
// compare equal and prove nothing.
func TestModelCoversTheStack(t *testing.T) {
	sam, _, _ := models(t)
	for _, tc := range []struct {
		name string
		got  int
		want int
	}{
		{"tables", len(sam.Tables), 1},
		{"queues", len(sam.Queues), 4},
		{"functions", len(sam.Functions), 4},
		{"roles", len(sam.Roles), 4},
		{"log groups", len(sam.LogGroups), 5},
		{"alarms", len(sam.Alarms), 21},
		{"topics", len(sam.Topics), 1},
		{"stages", len(sam.Stages), 1},
		{"APIs", len(sam.APIs), 1},
		// webhook 2, admin 5, onboarding 3, /numbers 2, carrier webhooks 3
		{"routes", len(sam.Routes), 15},
		{"KMS keys and aliases", len(sam.Keys), 2},
		{"queue mappings", len(sam.Mappings), 1},
		{"schedules", len(sam.Schedules), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: model has %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// TestDriftIsDetected changes one thing at a time in template.yaml's expansion and expects the
// comparison with the CDK template to notice.
func TestDriftIsDetected(t *testing.T) {
	_, cdk, raw := models(t)
	for _, tc := range []struct {
		name   string
		mutate func(r map[string]any)
	}{
		{"table sort key", func(r map[string]any) {
			ks := prop(r, "SendersTable", "KeySchema").([]any)
			ks[1].(map[string]any)["AttributeName"] = "sort"
		}},
		{"GSI removed", func(r map[string]any) {
			props(r, "SendersTable")["GlobalSecondaryIndexes"] = prop(r, "SendersTable", "GlobalSecondaryIndexes").([]any)[:1]
		}},
		{"TTL attribute", func(r map[string]any) {
			prop(r, "SendersTable", "TimeToLiveSpecification").(map[string]any)["AttributeName"] = "ttl"
		}},
		{"queue not FIFO", func(r map[string]any) { delete(props(r, "OutboundQueue"), "FifoQueue") }},
		{"visibility timeout", func(r map[string]any) { props(r, "OutboundQueue")["VisibilityTimeout"] = 90.0 }},
		{"maxReceiveCount", func(r map[string]any) {
			prop(r, "InboundQueue", "RedrivePolicy").(map[string]any)["maxReceiveCount"] = 3.0
		}},
		{"function memory", func(r map[string]any) { props(r, "WebhookFunction")["MemorySize"] = 512.0 }},
		{"function architecture", func(r map[string]any) { props(r, "SendersFunction")["Architectures"] = []any{"x86_64"} }},
		{"env var renamed", func(r map[string]any) {
			vars := prop(r, "OutboundFunction", "Environment").(map[string]any)["Variables"].(map[string]any)
			vars["QUEUE_URL"] = vars["OUTBOUND_QUEUE_URL"]
			delete(vars, "OUTBOUND_QUEUE_URL")
		}},
		{"batch size", func(r map[string]any) { props(r, "OutboundFunctionOutbound")["BatchSize"] = 5.0 }},
		{"partial batch responses off", func(r map[string]any) {
			delete(props(r, "OutboundFunctionOutbound"), "FunctionResponseTypes")
		}},
		{"max concurrency", func(r map[string]any) {
			props(r, "OutboundFunctionOutbound")["ScalingConfig"] = map[string]any{"MaximumConcurrency": 50.0}
		}},
		{"schedule", func(r map[string]any) {
			props(r, "ReconcilerFunctionSchedule")["ScheduleExpression"] = "rate(5 minutes)"
		}},
		{"route auth", func(r map[string]any) {
			paths := prop(r, "HttpApi", "Body").(map[string]any)["paths"].(map[string]any)
			delete(paths["/templates"].(map[string]any)["get"].(map[string]any), "security")
		}},
		{"route added", func(r map[string]any) {
			paths := prop(r, "HttpApi", "Body").(map[string]any)["paths"].(map[string]any)
			paths["/extra"] = paths["/templates"]
		}},
		{"role action added", func(r map[string]any) {
			st := statements(r, "ReconcilerFunctionRole")
			st[2].(map[string]any)["Action"] = append(st[2].(map[string]any)["Action"].([]any), "dynamodb:Scan")
		}},
		{"role resource widened", func(r map[string]any) {
			statements(r, "SendersFunctionRole")[3].(map[string]any)["Resource"] = "*"
		}},
		{"alarm threshold", func(r map[string]any) { props(r, "OutboundDLQDepthAlarm")["Threshold"] = 5.0 }},
		{"resource removed", func(r map[string]any) { delete(r, "InboundDLQDepthAlarm") }},
		{"retention policy", func(r map[string]any) {
			table := r["SendersTable"].(map[string]any)
			delete(table, "DeletionPolicy")
		}},
		{"table deletion protection", func(r map[string]any) { delete(props(r, "SendersTable"), "DeletionProtectionEnabled") }},
		{"stage default throttling", func(r map[string]any) {
			prop(r, "HttpApiApiGatewayDefaultStage", "DefaultRouteSettings").(map[string]any)["ThrottlingRateLimit"] = 5000.0
		}},
		{"stage webhook route throttling", func(r map[string]any) {
			delete(prop(r, "HttpApiApiGatewayDefaultStage", "RouteSettings").(map[string]any), "POST /webhook")
		}},
		{"stage access logs", func(r map[string]any) { delete(props(r, "HttpApiApiGatewayDefaultStage"), "AccessLogSettings") }},
		{"API execute-api endpoint disabled", func(r map[string]any) { props(r, "HttpApi")["DisableExecuteApiEndpoint"] = true }},
		{"API execute-api endpoint disabled in the OpenAPI body", func(r map[string]any) {
			prop(r, "HttpApi", "Body").(map[string]any)["x-amazon-apigateway-endpoint-configuration"] =
				map[string]any{"disableExecuteApiEndpoint": true}
		}},
		{"rule target input", func(r map[string]any) {
			prop(r, "ReconcilerFunctionSchedule", "Targets").([]any)[0].(map[string]any)["Input"] = `{"dryRun":true}`
		}},
		{"reserved concurrency", func(r map[string]any) { delete(props(r, "OutboundFunction"), "ReservedConcurrentExecutions") }},
		{"alarm topic condition", func(r map[string]any) { delete(r["AlarmTopic"].(map[string]any), "Condition") }},
		{"function secret", func(r map[string]any) {
			vars := prop(r, "WebhookFunction", "Environment").(map[string]any)["Variables"].(map[string]any)
			vars["PLATFORM_SECRET_ARN"] = map[string]any{"Ref": "PlatformSecretArn"}
		}},
		{"stage carrier route throttling", func(r map[string]any) {
			delete(prop(r, "HttpApiApiGatewayDefaultStage", "RouteSettings").(map[string]any), "POST /carrier/sms")
		}},
		{"credentials key rotation", func(r map[string]any) { props(r, "CredentialsKey")["EnableKeyRotation"] = false }},
		{"credentials key retention", func(r map[string]any) { delete(r["CredentialsKey"].(map[string]any), "DeletionPolicy") }},
		{"carrier secret given to the webhook", func(r map[string]any) {
			vars := prop(r, "WebhookFunction", "Environment").(map[string]any)["Variables"].(map[string]any)
			vars["TWILIO_AUTH_TOKEN"] = ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tmpl map[string]any
			if err := json.Unmarshal(raw, &tmpl); err != nil {
				t.Fatal(err)
			}
			tc.mutate(tmpl["Resources"].(map[string]any))
			data, err := json.Marshal(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			mt, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if cmp.Equal(Build(mt, Options{}), cdk) {
				t.Errorf("changing %s in template.yaml went unnoticed", tc.name)
			}
		})
	}
}

func props(r map[string]any, id string) map[string]any {
	return r[id].(map[string]any)["Properties"].(map[string]any)
}

func prop(r map[string]any, id, name string) any { return props(r, id)[name] }

func statements(r map[string]any, role string) []any {
	pol := prop(r, role, "Policies").([]any)[0].(map[string]any)
	return pol["PolicyDocument"].(map[string]any)["Statement"].([]any)
}

func TestRender(t *testing.T) {
	b := &builder{t: &Template{}, ids: map[string]string{"Table1A2B": "Table", "Fn9": "Fn"}}
	for _, tc := range []struct {
		name string
		in   string
		want any
	}{
		{"ref mapped", `{"Ref": "Table1A2B"}`, "${Table}"},
		{"ref pseudo", `{"Ref": "AWS::StackName"}`, "${AWS::StackName}"},
		{"getatt list", `{"Fn::GetAtt": ["Table1A2B", "Arn"]}`, "${Table.Arn}"},
		{"getatt dotted", `{"Fn::GetAtt": "Table1A2B.Arn"}`, "${Table.Arn}"},
		{"sub", `{"Fn::Sub": "${Table1A2B.Arn}/index/*"}`, "${Table.Arn}/index/*"},
		{"sub literal", `{"Fn::Sub": "${!Literal}-${AWS::StackName}"}`, "${!Literal}-${AWS::StackName}"},
		{"sub with vars", `{"Fn::Sub": ["arn:${Api}/x", {"Api": {"Ref": "Fn9"}}]}`, "arn:${Fn}/x"},
		{"join", `{"Fn::Join": ["", [{"Fn::GetAtt": ["Table1A2B", "Arn"]}, "/index/*"]]}`, "${Table.Arn}/index/*"},
		{"join of stack name", `{"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-outbound.fifo"]]}`, "${AWS::StackName}-outbound.fifo"},
		{"number", `300`, "300"},
		{"bool", `true`, "true"},
		{"if keeps shape", `{"Fn::If": ["C", [{"Ref": "T"}], {"Ref": "AWS::NoValue"}]}`,
			map[string]any{"Fn::If": []any{"C", []any{"${T}"}, "${AWS::NoValue}"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in any
			if err := json.Unmarshal([]byte(tc.in), &in); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.render(in)); diff != "" {
				t.Errorf("render(%s) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestRoleGrantsIgnoreGrouping(t *testing.T) {
	split := `{"Resources": {
	  "R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [
	    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]},
	    "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
	      {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Q", "Arn"]}}]}}]}},
	  "P": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "R"}], "PolicyDocument": {"Statement": [
	    {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": [{"Fn::GetAtt": ["T", "Arn"]}]}]}}}}}`
	merged := `{"Resources": {
	  "R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [
	    {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Principal": {"Service": ["lambda.amazonaws.com"]}}]},
	    "Policies": [{"PolicyName": "q", "PolicyDocument": {"Statement": [
	      {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:GetItem"], "Resource": {"Fn::GetAtt": "T.Arn"}},
	      {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [{"Fn::GetAtt": ["Q", "Arn"]}]}]}}]}}}}`
	a, err := Parse([]byte(split))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte(merged))
	if err != nil {
		t.Fatal(err)
	}
	ma, mb := Build(a, Options{}), Build(b, Options{})
	if diff := cmp.Diff(ma.Roles, mb.Roles); diff != "" {
		t.Errorf("same grants, different grouping, compared unequal (-split +merged):\n%s", diff)
	}
	want := []string{
		"Allow dynamodb:GetItem on ${T.Arn}",
		"Allow dynamodb:Query on ${T.Arn}",
		"Allow sqs:SendMessage on ${Q.Arn}",
	}
	if diff := cmp.Diff(want, ma.Roles["R"].Grants); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
}

func TestUnknownResourceTypeIsReported(t *testing.T) {
	tmpl, err := Parse([]byte(`{"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := Build(tmpl, Options{}).Unclassified
	if len(got) != 1 || !strings.Contains(got[0], "AWS::S3::Bucket") {
		t.Errorf("Unclassified = %v, want the bucket", got)
	}
}
