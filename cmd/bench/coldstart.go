package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aloro/wa-senders/cmd/internal/devenv"
	"github.com/aloro/wa-senders/shared/stack"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// function is one Lambda function of template.yaml.
type function struct {
	Folder    string // functions/<Folder>
	LogicalID string
}

var allFunctions = []function{
	{"webhook", "WebhookFunction"},
	{"outbound", "OutboundFunction"},
	{"senders", "SendersFunction"},
	{"reconciler", "ReconcilerFunction"},
}

func timeAfter(seconds int) <-chan time.Time { return time.After(time.Duration(seconds) * time.Second) }

// buildBootstrap builds a function as the Makefile does for provided.al2023, for goarch.
func buildBootstrap(ctx context.Context, repo, folder, goarch, out string) error {
	return goBuild(ctx, repo, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch},
		"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, "./functions/"+folder)
}

// sampleEvents reads events/<folder>/*.json (not expect.json).
func sampleEvents(repo, folder string) [][]byte {
	paths, _ := filepath.Glob(filepath.Join(repo, "events", folder, "*.json"))
	sort.Strings(paths)
	var out [][]byte
	for _, p := range paths {
		if filepath.Base(p) == "expect.json" {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// webhookEvents builds n API Gateway HTTP API (2.0) events, each a signed POST with one new
// inbound text message: steady-state work for the memory figure.
func webhookEvents(n int) [][]byte {
	out := make([][]byte, 0, n)
	base := time.Now().Unix()
	for i := range n {
		body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"209999999999999","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"40721000001","phone_number_id":"109999999999999"},"contacts":[{"profile":{"name":"Bench"},"wa_id":"447400%06d","user_id":"GB.9%018d"}],"messages":[{"from":"447400%06d","from_user_id":"GB.9%018d","id":"wamid.BENCH%d%08d","timestamp":"%d","type":"text","text":{"body":"bench message"}}]}}]}]}`,
			i%1000000, i, i%1000000, i, base, i, base-int64(i%3600))
		ev := map[string]any{
			"version": "2.0", "routeKey": "POST /webhook", "rawPath": "/webhook", "rawQueryString": "",
			"headers": map[string]string{
				"content-type":        "application/json",
				"x-hub-signature-256": whatsapp.Sign([]byte(stack.LocalAppSecret), []byte(body)),
			},
			"requestContext": map[string]any{
				"http":      map[string]string{"method": "POST", "path": "/webhook", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
				"routeKey":  "POST /webhook",
				"stage":     "$default",
				"requestId": fmt.Sprintf("bench-%d", i),
			},
			"body": body, "isBase64Encoded": false,
		}
		b, _ := json.Marshal(ev)
		out = append(out, b)
	}
	return out
}

// rieResult is one emulator run of a function.
type rieResult struct {
	InitMs        float64 // INIT REPORT durationMs (the runtime's init: process start to first /next)
	FirstInvokeMs float64 // client-side time of the first invocation (init included)
	PeakKB        int64   // VmHWM of the bootstrap process after every invocation
	Invocations   int
	Errors        int
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
var initDuration = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

// syncBuffer is a bytes.Buffer safe for the emulator's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runUnderRIE starts the emulator with bootstrap, invokes it with events (cycled up to
// invocations times), and reads the init duration and the bootstrap's peak RSS.
func runUnderRIE(ctx context.Context, rie, bootstrap string, env map[string]string, events [][]byte, invocations, port int) (rieResult, error) {
	var res rieResult
	if len(events) == 0 {
		return res, fmt.Errorf("no events")
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(port+1), bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	cmd.Env = append(devenv.CleanEnv(), envList...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start emulator: %w", err)
	}
	defer terminate(cmd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("emulator did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	for i := range invocations {
		t0 := time.Now()
		resp, err := hc.Post(url, "application/json", bytes.NewReader(events[i%len(events)]))
		if err != nil {
			return res, fmt.Errorf("invoke: %w\n%s", err, tail(out.String(), 20))
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if i == 0 {
			res.FirstInvokeMs = float64(time.Since(t0).Microseconds()) / 1000
		}
		res.Invocations++
		if resp.StatusCode != http.StatusOK || bytes.Contains(body.Bytes(), []byte(`"errorType"`)) {
			res.Errors++
		}
	}
	for _, pid := range childPIDs(cmd.Process.Pid) {
		if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cl, []byte("bootstrap")) {
			res.PeakKB = peakRSSKB(pid)
		}
	}
	logs := out.String()
	if m := initReport.FindStringSubmatch(logs); m != nil {
		res.InitMs, _ = strconv.ParseFloat(m[1], 64)
	} else if m := initDuration.FindStringSubmatch(logs); m != nil {
		res.InitMs, _ = strconv.ParseFloat(m[1], 64)
	} else {
		return res, fmt.Errorf("no init duration in the emulator's output:\n%s", tail(logs, 20))
	}
	return res, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
