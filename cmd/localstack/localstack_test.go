package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/stack"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestUpDownIntegration starts a second local stack on free ports with its own state directory
// (so it never touches .local or a running dev stack), checks it, and stops it.
func TestUpDownIntegration(t *testing.T) {
	if os.Getenv("WA_INTEGRATION") == "" {
		t.Skip("integration test: set WA_INTEGRATION=1 (make test does); needs make tools")
	}
	state := t.TempDir()
	ports := []string{"-ddb-port", strconv.Itoa(freePort(t)), "-sqs-port", strconv.Itoa(freePort(t)), "-state", state}
	ctx := context.Background()
	var out bytes.Buffer
	t.Cleanup(func() {
		var o bytes.Buffer
		if err := run(ctx, append([]string{"down"}, ports...), &o, &o); err != nil {
			t.Errorf("down at cleanup: %v\n%s", err, o.String())
		}
	})
	if err := run(ctx, append([]string{"up", "-timeout", "3m"}, ports...), &out, &out); err != nil {
		t.Fatalf("up: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "started (pid") {
		t.Errorf("up output:\n%s", out.String())
	}
	f, err := stack.ReadEnvFile(filepath.Join(state, "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f["WebhookFunction"]["AWS_ENDPOINT_URL_DYNAMODB"]; got != "http://127.0.0.1:"+ports[1] {
		t.Errorf("env file DynamoDB endpoint = %q", got)
	}
	if got := f["OutboundFunction"]["OUTBOUND_QUEUE_URL"]; !strings.HasSuffix(got, "/wa-senders-local-outbound.fifo") || !strings.Contains(got, ":"+ports[3]+"/") {
		t.Errorf("env file outbound queue URL = %q", got)
	}

	// Idempotent: a second up finds both running and recreates nothing.
	out.Reset()
	if err := run(ctx, append([]string{"up"}, ports...), &out, &out); err != nil {
		t.Fatalf("second up: %v\n%s", err, out.String())
	}
	if strings.Count(out.String(), "already running (pid") != 2 {
		t.Errorf("second up output:\n%s", out.String())
	}

	// fauxqs listens on loopback only.
	for _, addr := range nonLoopbackAddrs(t) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, ports[3]), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("fauxqs answers on %s", addr)
		}
	}

	ddbPID, err := readPID(filepath.Join(state, "ddb.pid"))
	if err != nil || ddbPID == 0 {
		t.Fatalf("ddb pid: %d %v", ddbPID, err)
	}
	out.Reset()
	if err := run(ctx, append([]string{"down"}, ports...), &out, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if alive(ddbPID) {
		t.Errorf("DynamoDB Local (pid %d) still alive after down", ddbPID)
	}
	if _, err := os.Stat(filepath.Join(state, "ddb.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}

func nonLoopbackAddrs(t *testing.T) []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			out = append(out, ipn.IP.String())
		}
	}
	return out
}

func TestDownLeavesForeignProcessesAlone(t *testing.T) {
	state := t.TempDir()
	// A pid file naming a live process that is not DynamoDB Local: this test binary.
	if err := writePID(filepath.Join(state, "ddb.pid"), os.Getpid()); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"down", "-state", state}, &out, &out); err != nil {
		t.Fatalf("down: %v", err)
	}
	if !strings.Contains(out.String(), "stale pid file") {
		t.Errorf("output:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(state, "ddb.pid")); !os.IsNotExist(err) {
		t.Errorf("stale pid file kept: %v", err)
	}
}

func TestEnvRequiresUp(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"env", "-state", t.TempDir()}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "make up") {
		t.Fatalf("err = %v, want a hint to run make up", err)
	}
}

func TestEnvPrintsShellExports(t *testing.T) {
	state := t.TempDir()
	f := stack.EnvFile{
		stack.EnvFileParameters: {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "TABLE_NAME": "t"},
		"WebhookFunction":       {"QUOTE": "it's"},
	}
	if err := stack.WriteEnvFile(filepath.Join(state, "env.json"), f); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"env"}, "export AWS_ENDPOINT_URL_DYNAMODB='http://127.0.0.1:8000'\nexport TABLE_NAME='t'\n"},
		{[]string{"env", "-endpoints"}, "export AWS_ENDPOINT_URL_DYNAMODB='http://127.0.0.1:8000'\n"},
		{[]string{"env", "-fn", "WebhookFunction"}, "export AWS_ENDPOINT_URL_DYNAMODB='http://127.0.0.1:8000'\nexport QUOTE='it'\\''s'\nexport TABLE_NAME='t'\n"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), append(tc.args, "-state", state), &out, &out); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if out.String() != tc.want {
			t.Errorf("%v:\n got %q\nwant %q", tc.args, out.String(), tc.want)
		}
	}
}

func TestBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"up", "-ddb-port", "x"},
		{"up", "-ddb-port", "9000", "-sqs-port", "9000"},
		{"nope"},
		{},
	} {
		var out bytes.Buffer
		err := run(context.Background(), args, &out, &out)
		var u usageError
		if err == nil || !asUsage(err, &u) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

func asUsage(err error, u *usageError) bool {
	v, ok := err.(usageError)
	if ok {
		*u = v
	}
	return ok
}

func TestWithHost(t *testing.T) {
	got := withHost("http://sqs.us-east-1.localhost:9324/000000000000/q.fifo", "host.docker.internal", 9324)
	if want := "http://host.docker.internal:9324/000000000000/q.fifo"; got != want {
		t.Errorf("withHost = %q, want %q", got, want)
	}
}
