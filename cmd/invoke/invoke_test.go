package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/stack"
)

// The tests run a throwaway function (testdata/functions/echo) described by
// testdata/template.yaml, never the real functions.

func writeEnvFile(t *testing.T, f stack.EnvFile) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "env.json")
	if err := stack.WriteEnvFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

// clearEnv removes variables the echo function reports, so a developer's shell (or make test)
// cannot change what these tests see; they come back after the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"TABLE_NAME", "GRAPH_API_VERSION", "OVERRIDE_ME", "FROM_ENV_FILE", "SECRET_FROM_HOST"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
}

func baseArgs(t *testing.T, envPath string) []string {
	clearEnv(t)
	if envPath == "" {
		envPath = filepath.Join(t.TempDir(), "no-env.json")
	}
	return []string{
		"-template", "testdata/template.yaml",
		"-functions", "testdata/functions",
		"-build", t.TempDir(),
		"-env", envPath,
	}
}

func TestInvokeOne(t *testing.T) {
	envPath := writeEnvFile(t, stack.EnvFile{
		stack.EnvFileParameters: {"FROM_ENV_FILE": "parameters", "OVERRIDE_ME": "parameters"},
		"EchoFunction":          {"OVERRIDE_ME": "function-section"},
	})
	args := append(baseArgs(t, envPath), "-fn", "EchoFunction", "-event", "testdata/events/echo/http.json")
	// As `make invoke GRAPH_API_VERSION=...` exports it: the process environment wins for
	// names the template or env file define, and nothing else leaks in.
	t.Setenv("GRAPH_API_VERSION", "from-command-line")
	t.Setenv("SECRET_FROM_HOST", "must-not-reach-the-function")

	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	var resp struct {
		StatusCode int               `json:"statusCode"`
		Env        map[string]string `json:"env"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatalf("stdout is not the response JSON: %v\n%s", err, stdout.String())
	}
	want := map[string]string{
		"TABLE_NAME":               "wa-senders-local-Data",
		"GRAPH_API_VERSION":        "from-command-line",
		"OVERRIDE_ME":              "function-section",
		"FROM_ENV_FILE":            "parameters",
		"AWS_LAMBDA_FUNCTION_NAME": "EchoFunction",
		"AWS_LAMBDA_LOG_FORMAT":    "JSON",
		"SECRET_FROM_HOST":         "",
	}
	if diff := cmp.Diff(want, resp.Env); diff != "" {
		t.Errorf("function env (-want +got):\n%s", diff)
	}
	if resp.StatusCode != 201 {
		t.Errorf("statusCode = %d, want 201", resp.StatusCode)
	}
}

func TestInvokeFunctionErrorExitsNonZero(t *testing.T) {
	event := filepath.Join(t.TempDir(), "fail.json")
	if err := os.WriteFile(event, []byte(`{"fail": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := append(baseArgs(t, filepath.Join(t.TempDir(), "none.json")), "-fn", "EchoFunction", "-event", event)
	err := run(context.Background(), args, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "asked to fail") {
		t.Fatalf("err = %v, want the function's error", err)
	}
	if !strings.Contains(stdout.String(), `"errorMessage"`) {
		t.Errorf("stdout lacks the error response:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "no ") {
		t.Errorf("stderr does not mention the missing env file:\n%s", stderr.String())
	}
}

func TestInvokeUnknownFunction(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := append(baseArgs(t, ""), "-fn", "NopeFunction", "-event", "testdata/events/echo/plain.json")
	err := run(context.Background(), args, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "EchoFunction") {
		t.Fatalf("err = %v, want one listing the functions", err)
	}
}

func TestInvokeAll(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := append(baseArgs(t, ""), "-all", "testdata/events")
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"ok   echo/http.json", "ok   echo/sqs.json", "ok   echo/plain.json", "3 events, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// copyEvents copies testdata/events to a temp dir and applies edits (path → content, "" deletes).
func copyEvents(t *testing.T, edits map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir("testdata/events", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("testdata/events", p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel, content := range edits {
		p := filepath.Join(dir, rel)
		if content == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInvokeAllFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits map[string]string
		want  []string
	}{
		{
			name:  "wrong expectations",
			edits: map[string]string{"echo/expect.json": `{"http.json": 200, "sqs.json": 0, "plain.json": "ok"}`},
			want:  []string{"FAIL echo/http.json", "statusCode 201, want 200", "FAIL echo/sqs.json", "1 batchItemFailures, want 0", "3 events, 2 failed"},
		},
		{
			name:  "function error",
			edits: map[string]string{"echo/plain.json": `{"fail": true}`},
			want:  []string{"FAIL echo/plain.json", "asked to fail"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyEvents(t, tc.edits)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append(baseArgs(t, ""), "-all", dir), &stdout, &stderr)
			if err == nil {
				t.Fatalf("run succeeded; want a failure\n%s", stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

func TestLoadCasesProblems(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits map[string]string
		want  string
	}{
		{"unlisted event", map[string]string{"echo/new.json": `{}`}, "echo/new.json is not listed"},
		{"listed but missing", map[string]string{"echo/plain.json": ""}, "echo/plain.json is listed but there is no such event file"},
		{"bad expectation", map[string]string{"echo/expect.json": `{"http.json": "200", "sqs.json": 1, "plain.json": "ok"}`}, `got "200"`},
		{"event not json", map[string]string{"echo/plain.json": `{`}, "echo/plain.json is not JSON"},
		{"expectations not an object", map[string]string{"echo/expect.json": `[]`}, "want a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyEvents(t, tc.edits)
			_, err := loadCases(dir, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseExpectationAndCheck(t *testing.T) {
	ok := result{body: []byte(`{"statusCode": 200}`)}
	for _, tc := range []struct {
		name     string
		raw      string
		sqs      bool
		r        result
		mismatch bool
	}{
		{"status matches", `200`, false, ok, false},
		{"status differs", `404`, false, ok, true},
		{"explicit status", `{"statusCode": 200}`, true, ok, false},
		{"sqs count", `1`, true, result{body: []byte(`{"batchItemFailures":[{"itemIdentifier":"a"}]}`)}, false},
		{"sqs null response is no failures", `0`, true, result{body: []byte(`null`)}, false},
		{"ok", `"ok"`, false, result{body: []byte(`null`)}, false},
		{"no statusCode", `200`, false, result{body: []byte(`{}`)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := parseExpectation(json.RawMessage(tc.raw), tc.sqs)
			if err != nil {
				t.Fatal(err)
			}
			if got := check(x, tc.r) != ""; got != tc.mismatch {
				t.Errorf("mismatch = %v, want %v (%s)", got, tc.mismatch, check(x, tc.r))
			}
		})
	}
}

func TestFunctionEnvNeedsQueueURLs(t *testing.T) {
	tmpl, err := stack.LoadRepo(".", stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn := tmpl.Function("WebhookFunction")
	none := func(string) (string, bool) { return "", false }
	if _, err := functionEnv(tmpl, fn, stack.EnvFile{}, none); err == nil || !strings.Contains(err.Error(), "OUTBOUND_QUEUE_URL") {
		t.Fatalf("err = %v, want one naming the queue variables", err)
	}
	f := stack.EnvFile{stack.EnvFileParameters: {"OUTBOUND_QUEUE_URL": "http://q/out", "INBOUND_QUEUE_URL": "http://q/in"}}
	env, err := functionEnv(tmpl, fn, f, none)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(env, "\n")
	for _, want := range []string{"OUTBOUND_QUEUE_URL=http://q/out", "TABLE_NAME=wa-senders-local-SendersTable", "AWS_LAMBDA_FUNCTION_TIMEOUT=10", "TZ=UTC"} {
		if !strings.Contains(joined, want) {
			t.Errorf("env lacks %s:\n%s", want, joined)
		}
	}
}
