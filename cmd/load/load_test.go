package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/stack"
	"github.com/aloro/wa-senders/shared/testenv"
)

// The load harness at a small size, and each fault scenario as a named test. They run their own
// DynamoDB Local and fauxqs (started once for the package, on free ports) because the fault
// scenarios stop those processes; each test gets its own table and queues on them and its own
// backend (the app constructors in this process, with a Lambda-like outbound poller).

var shared struct {
	once   sync.Once
	st     *localStack
	binDir string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.st != nil {
		if err := shared.st.stop(io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, "stop the test stack:", err)
		}
	}
	if shared.binDir != "" {
		os.RemoveAll(shared.binDir)
	}
	os.Exit(code)
}

// testStack starts the package's private stack once.
func testStack(t *testing.T) *localStack {
	t.Helper()
	testenv.Integration(t)
	shared.once.Do(func() {
		repo, err := stack.RepoRoot(".")
		if err != nil {
			shared.err = err
			return
		}
		if shared.binDir, err = os.MkdirTemp("", "wa-load-test-"); err != nil {
			shared.err = err
			return
		}
		ddbPort, err1 := freePort()
		sqsPort, err2 := freePort()
		for sqsPort == ddbPort && err2 == nil {
			sqsPort, err2 = freePort()
		}
		if err1 != nil || err2 != nil {
			shared.err = fmt.Errorf("free ports: %v %v", err1, err2)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var log bytes.Buffer
		shared.st, shared.err = startStack(ctx, repo, shared.binDir, ddbPort, sqsPort, "127.0.0.1:1", "wa-loadtest", &log)
		if shared.err != nil {
			shared.err = fmt.Errorf("%w\n%s", shared.err, log.String())
		}
	})
	if shared.err != nil {
		t.Fatalf("private stack: %v", shared.err)
	}
	return shared.st
}

// testWriter sends the run's lines to the test log.
type testWriter struct {
	mu sync.Mutex
	t  *testing.T
	b  []byte
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	for {
		i := bytes.IndexByte(w.b, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.t.Log(string(w.b[:i]))
		w.b = w.b[i+1:]
	}
}

// small are the test sizes: enough traffic to overlap a fault, a few seconds each.
func small() options {
	return options{
		sizes: sizes{
			Senders: 2, CustomersPerSender: 20, Inbound: 160, Outbound: 70,
			PostDupRate: 0.1, RebatchRate: 0.05, OrphanStatuses: 4,
		},
		WebhookRate:    30,
		OutboundRate:   15,
		Workers:        4,
		RequestTimeout: 10 * time.Second,
		RetryFor:       60 * time.Second,
		DrainTimeout:   60 * time.Second,
		SendLatency:    10 * time.Millisecond,
		FaultFor:       3 * time.Second,
		AnswerWait:     10 * time.Second,
		GraphTimeout:   time.Second,
		Progress:       5 * time.Second,
	}
}

// runSmall runs the harness with o against a fresh backend and returns its report.
func runSmall(t *testing.T, o options) *report {
	t.Helper()
	st := testStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := st.freshResources(ctx, testenv.UniqueName(t, "lt"))
	if err != nil {
		t.Fatalf("resources: %v", err)
	}
	addrPort, err1 := freePort()
	fakePort, err2 := freePort()
	if err1 != nil || err2 != nil {
		t.Fatalf("free ports: %v %v", err1, err2)
	}
	addr, fakeAddr := fmt.Sprintf("127.0.0.1:%d", addrPort), fmt.Sprintf("127.0.0.1:%d", fakePort)
	tg := targetFor(st, res, addr, fakeAddr)
	be, err := startInprocess(ctx, st, st.backendEnv(res), tg, addr, fakeAddr, o.GraphTimeout, o.AnswerWait, "WARN", t.TempDir())
	if err != nil {
		t.Fatalf("backend: %v", err)
	}
	t.Cleanup(func() {
		if err := be.stop(io.Discard); err != nil {
			t.Errorf("stop backend: %v", err)
		}
	})
	rep, err := run(ctx, tg, o, &testWriter{t: t})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

// requireClean fails unless nothing was lost, duplicated or wrong and every fault check held.
func requireClean(t *testing.T, rep *report) {
	t.Helper()
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.Wrong != 0 || rep.FaultFailures != 0 {
		t.Errorf("lost: %d duplicated: %d wrong: %d fault check failures: %d\n%s",
			rep.Lost, rep.Duplicated, rep.Wrong, rep.FaultFailures, strings.Join(rep.Problems, "\n"))
	}
}

// The pausing scenarios stop the shared emulators, so they run first and alone (not parallel).

// DynamoDB Local stopped mid-run: webhooks answer 500 while it is stopped (the pause outlasts
// the webhook's 8 s deadline) and are accepted when redelivered after; nothing is half-applied.
func TestFaultDynamoDBPaused(t *testing.T) {
	o := small()
	o.Faults = []string{"ddb-pause"}
	o.FaultFor = 9 * time.Second
	requireClean(t, runSmall(t, o))
}

// The SQS emulator stopped mid-run: webhooks fail while the inbound queue is unreachable and
// are accepted after; every message forwarded once (a batch SQS took while the webhook timed
// out is not forwarded again: the FIFO inbound queue drops the resend by its wamid); enqueues
// retried; nothing sent twice.
func TestFaultSQSPaused(t *testing.T) {
	o := small()
	o.Faults = []string{"sqs-pause"}
	o.FaultFor = 9 * time.Second
	requireClean(t, runSmall(t, o))
}

// The whole harness at a small size: every inbound message forwarded exactly once, every window
// right, every request terminal, nothing sent twice, statuses and limits applied.
func TestLoadSmall(t *testing.T) {
	t.Parallel()
	requireClean(t, runSmall(t, small()))
}

// LOAD_SELFTEST=drop: a record deleted behind the harness's back is found lost.
func TestSelftestDropIsLost(t *testing.T) {
	t.Parallel()
	o := small()
	o.Selftest = "drop"
	rep := runSmall(t, o)
	if rep.Lost != 1 {
		t.Fatalf("lost = %d after deleting one record, want 1\n%s", rep.Lost, strings.Join(rep.Problems, "\n"))
	}
}

// The Graph API answers bursts of 130429, 503, 131000, 131056, dropped connections and timeouts:
// every request is retried and sent exactly once.
func TestFaultGraphErrors(t *testing.T) {
	t.Parallel()
	o := small()
	o.Faults = []string{"graph-errors"}
	o.Burst = 2
	requireClean(t, runSmall(t, o))
}

// Poison requests end rejected/failed or in the DLQ, are never sent, and do not block the next
// request of their conversation.
func TestFaultPoisonRequest(t *testing.T) {
	t.Parallel()
	o := small()
	o.Faults = []string{"poison"}
	requireClean(t, runSmall(t, o))
}

// The consumer's deadline falls mid-batch while the Graph API is slow: everything not sent is
// retried, nothing is sent twice.
func TestFaultLambdaTimeout(t *testing.T) {
	t.Parallel()
	o := small()
	o.Faults = []string{"lambda-timeout"}
	// The Graph client must wait longer than the consumer's reserve for one send to be in
	// flight when Lambda ends the invocation.
	o.GraphTimeout = 20 * time.Second
	o.FaultFor = 15 * time.Second
	requireClean(t, runSmall(t, o))
}

// The webhook process killed after each request of one inbound message, Meta's retry within and
// after SQS's deduplication window: never lost, twice only after the send with a late retry.
func TestCrashSteps(t *testing.T) {
	t.Parallel()
	st := testStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := crashSteps(ctx, st, &testWriter{t: t})
	if err != nil {
		t.Fatal(err)
	}
	requireClean(t, rep)
}

// The outbound pipeline's scenarios of the default `make load` run: a template campaign from
// one portfolio, answers lost after Meta accepted the send, and the Graph API down for a while.
func TestFaultOutboundScenarios(t *testing.T) {
	t.Parallel()
	o := small()
	o.Faults = []string{"campaign", "lost-answer", "graph-down"}
	o.GraphDown = 10 * time.Second
	requireClean(t, runSmall(t, o))
}
