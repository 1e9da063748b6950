package stack_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/google/go-cmp/cmp"
)

// TestRoleActionsMatchSecurityDoc pins SECURITY.md's "IAM actions per function" table: each
// function's role allows exactly these statements (actions and resources), no action is a
// wildcard, and only X-Ray's write actions (which take no ARN) apply to every resource. The
// DynamoDB actions are the ones each function's code calls (codeActions), on the table only.
func TestRoleActionsMatchSecurityDoc(t *testing.T) {
	t.Parallel()
	code := codeActions(t)
	ddb := func(folder string) string {
		var acts []string
		for _, a := range code[folder] {
			if strings.HasPrefix(a, "dynamodb:") {
				acts = append(acts, a)
			}
		}
		return strings.Join(acts, " ") + " -> ${SendersTable.Arn} ${SendersTable.Arn}/index/*"
	}
	common := func(logGroup, secret string) []string {
		return []string{
			"logs:CreateLogStream logs:PutLogEvents -> ${" + logGroup + ".Arn}",
			"xray:PutTelemetryRecords xray:PutTraceSegments -> *",
			"secretsmanager:GetSecretValue -> ${" + secret + "}",
		}
	}
	want := map[string][]string{
		// The webhook holds only its own secret: never the Graph token.
		"WebhookFunctionRole": append(common("WebhookLogGroup", "WebhookSecretArn"),
			ddb("webhook"),
			"sqs:SendMessage -> ${InboundQueue.Arn} ${OutboundQueue.Arn}"),
		"OutboundFunctionRole": append(common("OutboundLogGroup", "PlatformSecretArn"),
			ddb("outbound"),
			// Opens business tokens (never seals one).
			"kms:Decrypt -> ${CredentialsKey.Arn}",
			"sqs:ChangeMessageVisibility sqs:DeleteMessage sqs:GetQueueAttributes sqs:ReceiveMessage sqs:SendMessage -> ${OutboundQueue.Arn}"),
		"SendersFunctionRole": append(common("SendersLogGroup", "PlatformSecretArn"),
			ddb("senders"),
			// Seals and opens business tokens and PINs.
			"kms:Decrypt kms:GenerateDataKey -> ${CredentialsKey.Arn}",
			"sqs:SendMessage -> ${OutboundQueue.Arn}"),
		"ReconcilerFunctionRole": append(common("ReconcilerLogGroup", "PlatformSecretArn"),
			ddb("reconciler"),
			// Resumed onboardings seal the business's token.
			"kms:Decrypt kms:GenerateDataKey -> ${CredentialsKey.Arn}",
			// The reconciler's run starts by re-enqueueing deferred requests that are due.
			"sqs:SendMessage -> ${OutboundQueue.Arn}"),
	}
	got := roleStatements(t)
	for role := range want {
		sort.Strings(want[role])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("role statements differ from SECURITY.md (-doc +template):\n%s", diff)
	}
}

// roleStatements reads every IAM role of template.yaml as "actions -> resources" lines.
func roleStatements(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	processed, err := processTemplate(data)
	if err != nil {
		t.Fatalf("process template.yaml: %v", err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string `json:"Type"`
			Properties struct {
				AssumeRolePolicyDocument struct {
					Statement []struct {
						Principal struct {
							Service any `json:"Service"`
						} `json:"Principal"`
					} `json:"Statement"`
				} `json:"AssumeRolePolicyDocument"`
				ManagedPolicyArns []any `json:"ManagedPolicyArns"`
				Policies          []struct {
					PolicyDocument struct {
						Statement []struct {
							Effect   string `json:"Effect"`
							Action   any    `json:"Action"`
							Resource any    `json:"Resource"`
						} `json:"Statement"`
					} `json:"PolicyDocument"`
				} `json:"Policies"`
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(processed, &tpl); err != nil {
		t.Fatalf("decode template: %v", err)
	}
	out := map[string][]string{}
	for name, r := range tpl.Resources {
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		if len(r.Properties.ManagedPolicyArns) > 0 {
			t.Errorf("%s attaches managed policies %v: every action must be named in the template", name, r.Properties.ManagedPolicyArns)
		}
		for _, st := range r.Properties.AssumeRolePolicyDocument.Statement {
			if svc := strings.Join(list(st.Principal.Service), ","); svc != "lambda.amazonaws.com" {
				t.Errorf("%s can be assumed by %q, want only lambda.amazonaws.com", name, svc)
			}
		}
		var lines []string
		for _, p := range r.Properties.Policies {
			for _, st := range p.PolicyDocument.Statement {
				if st.Effect != "Allow" {
					continue
				}
				actions, resources := list(st.Action), list(st.Resource)
				sort.Strings(actions)
				for _, a := range actions {
					if strings.Contains(a, "*") {
						t.Errorf("%s allows the wildcard action %q", name, a)
					}
				}
				for _, res := range resources {
					if res == "*" && !strings.HasPrefix(actions[0], "xray:") {
						t.Errorf("%s allows %v on every resource", name, actions)
					}
				}
				lines = append(lines, strings.Join(actions, " ")+" -> "+strings.Join(resources, " "))
			}
		}
		sort.Strings(lines)
		out[name] = lines
	}
	return out
}

// list turns a string or a list of strings into a list.
func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// processTemplate resolves template.yaml's intrinsics to "${Id}" / "${Id.Attr}" strings.
func processTemplate(data []byte) ([]byte, error) {
	opts := &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
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
		"Fn::If": func(_ string, _ any, _ any) any { return nil },
	}}
	return intrinsics.ProcessYAML(data, opts)
}
