// Command load is `make load`: the proof that the backend keeps working and loses nothing under
// load and faults.
//
// From a clean checkout it starts its own local stack (DynamoDB Local and fauxqs, through
// cmd/localstack, on its own ports so a developer's stack is never touched), builds and starts
// cmd/localrun (the webhook and admin API over HTTP, the outbound poller, the Graph API fake)
// on its own ports, then:
//
//  1. creates senders through the admin API and brings them online (verification against the
//     fake);
//  2. sends signed webhooks (inbound messages of several types, orphan statuses, messaging-limit
//     and account changes), with duplicated POSTs, messages re-batched into other POSTs and
//     shuffled order, retrying like Meta on anything but 200, while enqueueing outbound requests
//     at a chosen rate (replies, templates, refusals, invalid requests, re-deliveries);
//  3. optionally injects faults (-fault, see -h);
//  4. waits for the outbound pipeline, posts delivery statuses for every send;
//  5. checks the end state from the inbound queue (read to exhaustion), the table, the DLQ and
//     the fake's record of sends: every unique inbound message forwarded exactly once, every
//     window right, every request in a terminal record or the DLQ, nothing sent twice.
//
// The last line is `lost: N duplicated: N`; the exit status is non-zero unless both are 0 and
// every other check held. LOAD_SELFTEST=drop deletes one record before the check: the run must
// then report `lost: 1` and fail.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aloro/wa-senders/shared/stack"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout))
}

// settings are the command's flags.
type settings struct {
	opts        options
	ddbPort     int
	sqsPort     int
	addr        string
	fakeAddr    string
	backendKind string
	stackName   string
	logLevel    string
	jsonOut     string
	total       time.Duration
	faults      string
	crashSteps  bool
}

func parseFlags(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&s.ddbPort, "ddb-port", 18100, "port of the harness's own DynamoDB Local")
	fs.IntVar(&s.sqsPort, "sqs-port", 18101, "port of the harness's own fauxqs")
	fs.StringVar(&s.addr, "addr", "127.0.0.1:18180", "address of the backend (webhook and admin API)")
	fs.StringVar(&s.fakeAddr, "graph-fake", "127.0.0.1:18190", "address of the Graph API fake")
	fs.StringVar(&s.backendKind, "backend", "localrun", "localrun (cmd/localrun as a child process, as make run serves it) or inprocess (the same app constructors in this process)")
	fs.StringVar(&s.stackName, "stack", "wa-load", "local stack name (resource names)")
	fs.StringVar(&s.logLevel, "log-level", "WARN", "LOG_LEVEL of the backend")
	fs.StringVar(&s.jsonOut, "json", "", "also write the figures as JSON to this file (cmd/bench)")
	fs.DurationVar(&s.total, "timeout", 10*time.Minute, "the whole run's time limit")
	o := &s.opts
	fs.IntVar(&o.Senders, "senders", 4, "senders carrying traffic (one WABA each)")
	fs.IntVar(&o.CustomersPerSender, "customers", 60, "customers per sender (70% write recently, 15% wrote days ago, 15% never)")
	fs.IntVar(&o.Inbound, "inbound", 3000, "unique inbound messages")
	fs.IntVar(&o.Outbound, "outbound", 800, "outbound requests")
	fs.Float64Var(&o.PostDupRate, "dup", 0.10, "share of webhook POSTs delivered twice")
	fs.Float64Var(&o.RebatchRate, "rebatch", 0.05, "share of inbound messages delivered again in another POST")
	fs.IntVar(&o.OrphanStatuses, "orphans", 20, "statuses for message ids nobody sent")
	fs.Float64Var(&o.WebhookRate, "webhook-rate", 0, "webhook POSTs per second (0: as fast as -workers allow)")
	fs.Float64Var(&o.OutboundRate, "outbound-rate", 60, "outbound requests enqueued per second (0: as fast as possible)")
	fs.IntVar(&o.Workers, "workers", 8, "concurrent webhook deliveries")
	fs.BoolVar(&o.OutboundAfterWebhooks, "outbound-after", false, "enqueue the outbound requests only once every webhook is in (measures the consumer alone)")
	fs.DurationVar(&o.SendLatency, "send-latency", 20*time.Millisecond, "the Graph API fake's answer time for sends")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 5*time.Minute, "how long the outbound pipeline may take to finish after the traffic (past the consumer's 3-minute wait for the status of a send whose answer was lost)")
	fs.DurationVar(&o.RetryFor, "retry-for", 90*time.Second, "how long a refused POST or enqueue is retried")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", 10*time.Second, "one HTTP attempt's time limit (longer than the webhook's own 8 s deadline, so its 500 is seen)")
	fs.DurationVar(&o.AnswerWait, "answer-wait", 0, "-backend inprocess: the consumer's wait for the status of a send whose answer was lost (0: its default, 3m)")
	fs.DurationVar(&o.GraphDown, "graph-down", 20*time.Second, "how long the graph-down scenario keeps every send failing (1h shows an hour-long incident survived)")
	fs.DurationVar(&o.FaultFor, "fault-for", 10*time.Second, "how long a pause or a short deadline lasts (a pause must outlast the webhook's 8 s deadline for it to answer 500)")
	fs.DurationVar(&o.GraphTimeout, "graph-timeout", 10*time.Second, "the backend's Graph API client timeout (a timeout burst outlasts it)")
	fs.BoolVar(&o.Floor, "floor", false, "measure the floors in the run (HMAC + JSON decode of the same bodies, raw DynamoDB Local conditional writes) and print the ratios")
	fs.Uint64Var(&o.Seed, "seed", 0, "generator seed (0: random; printed so a run can be repeated)")
	fs.BoolVar(&s.crashSteps, "crash-steps", false, "only the webhook's crash-between-steps scenario: one message, the process killed after each of its requests, Meta's retry within and after SQS's 5-minute dedupe window (simulated: a fresh queue, the clock moved); counts the forwards")
	fs.StringVar(&s.faults, "fault", "", "comma-separated fault scenarios: "+strings.Join(faultList(), ", ")+", all, or none (default: "+strings.Join(defaultFaults, ",")+")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./cmd/load [flags]   (make load)")
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "\nfault scenarios (what must hold):")
		names := faultList()
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %-15s %s\n", n, faultCatalogue[n])
		}
		fmt.Fprintln(stderr, "\nLOAD_SELFTEST=drop deletes one record before the check: the run must report lost: 1 and fail.")
	}
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	switch s.faults {
	case "":
		o.Faults = append(o.Faults, defaultFaults...)
	case "none":
	case "all":
		for _, f := range faultList() {
			if f == "lambda-timeout" && s.backendKind == "localrun" {
				fmt.Fprintln(stderr, "load: -fault all with -backend localrun skips lambda-timeout (it needs -backend inprocess)")
				continue
			}
			o.Faults = append(o.Faults, f)
		}
	default:
		o.Faults = strings.Split(s.faults, ",")
	}
	for _, f := range o.Faults {
		if _, ok := faultCatalogue[f]; !ok {
			return s, fmt.Errorf("unknown fault %q", f)
		}
	}
	if s.backendKind != "localrun" && s.backendKind != "inprocess" {
		return s, fmt.Errorf("-backend: want localrun or inprocess, got %q", s.backendKind)
	}
	o.Selftest = os.Getenv("LOAD_SELFTEST")
	if o.Selftest != "" && o.Selftest != "drop" {
		return s, fmt.Errorf("LOAD_SELFTEST=%q: the only self test is drop", o.Selftest)
	}
	return s, nil
}

func mainErr(args []string, out io.Writer) int {
	s, err := parseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 2
	}
	// SIGHUP (terminal closed) and SIGPIPE (the reader of the output gone, which would otherwise
	// kill the process at its next line) end the run like Ctrl-C: through the deferred stops.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, s.total)
	defer cancel()
	rep, err := runAll(ctx, s, out)
	if err != nil {
		fmt.Fprintln(out, "load: error:", err)
		if rep == nil {
			fmt.Fprintln(out, "lost: ? duplicated: ?")
			return 1
		}
	}
	fmt.Fprintf(out, "lost: %d duplicated: %d\n", rep.Lost, rep.Duplicated)
	if why := failures(rep, err); len(why) > 0 {
		// Never a silent non-zero exit after "lost: 0 duplicated: 0".
		fmt.Fprintf(out, "load: FAILED: %s\n", strings.Join(why, "; "))
		return 1
	}
	return 0
}

// failures lists why a run that produced a report fails. Webhook attempts answered 500 and
// retried until accepted, as Meta retries, are counted in the figures, not here: only what
// the end state shows (lost, duplicated, wrong) and the run's own errors fail it.
func failures(rep *report, err error) []string {
	var why []string
	if err != nil {
		why = append(why, "error: "+err.Error())
	}
	for _, c := range []struct {
		n    int
		what string
	}{{rep.Lost, "lost"}, {rep.Duplicated, "duplicated"}, {rep.Wrong, "wrong end states"}, {rep.FaultFailures, "fault check failures"}} {
		if c.n != 0 {
			why = append(why, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return why
}

// runAll starts the stack and the backend, runs, and stops everything it started.
func runAll(ctx context.Context, s settings, out io.Writer) (rep *report, err error) {
	repo, err := stack.RepoRoot(".")
	if err != nil {
		return nil, err
	}
	binDir, err := os.MkdirTemp("", "wa-load-")
	if err != nil {
		return nil, err
	}
	// Kept when the run fails: the backend's log is in there.
	defer func() {
		if err != nil || rep == nil || rep.Lost+rep.Duplicated+rep.Wrong+rep.FaultFailures > 0 {
			fmt.Fprintf(out, "load: backend log kept in %s\n", binDir)
			return
		}
		os.RemoveAll(binDir)
	}()

	begin := time.Now()
	st, err := startStack(ctx, repo, binDir, s.ddbPort, s.sqsPort, s.fakeAddr, s.stackName, out)
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := st.stop(out); serr != nil && err == nil {
			err = serr
		}
	}()
	if s.crashSteps {
		return crashSteps(ctx, st, out)
	}
	res, err := st.defaultResources(ctx)
	if err != nil {
		return nil, err
	}
	t := targetFor(st, res, s.addr, s.fakeAddr)
	var be backend
	switch s.backendKind {
	case "localrun":
		if contains(s.opts.Faults, "lambda-timeout") {
			// cmd/localrun's poller gives the consumer no deadline; the in-process poller
			// behaves like Lambda's (and lets the scenario move it).
			return nil, errors.New("the lambda-timeout fault needs a consumer deadline the harness can move: use -backend inprocess")
		}
		lr, err := startLocalrun(ctx, st, repo, binDir, s.addr, s.fakeAddr, st.envFile(), s.logLevel)
		if err != nil {
			return nil, err
		}
		be = lr
	case "inprocess":
		ip, err := startInprocess(ctx, st, st.backendEnv(res), t, s.addr, s.fakeAddr, s.opts.GraphTimeout, s.opts.AnswerWait, s.logLevel, binDir)
		if err != nil {
			return nil, err
		}
		be = ip
	}
	defer func() {
		if berr := be.stop(out); berr != nil && err == nil {
			err = berr
		}
	}()
	if s.backendKind == "localrun" {
		t.BackendPID = be.pid()
	}
	fmt.Fprintf(out, "load: stack and %s backend ready in %.1fs (DynamoDB Local pid %d, fauxqs pid %d, backend pid %d)\n",
		s.backendKind, time.Since(begin).Seconds(), t.DDBPID, t.SQSPID, t.BackendPID)

	rep, err = run(ctx, t, s.opts, out)
	if err != nil {
		return nil, err
	}
	if lr, ok := be.(*localrunBackend); ok {
		if done, werr := lr.proc.exited(); done {
			return rep, fmt.Errorf("the localrun backend exited during the run (%v); last lines of %s:\n%s", werr, lr.proc.logTo, tailFile(lr.proc.logTo, 20))
		}
	}
	if s.jsonOut != "" {
		b, _ := json.MarshalIndent(rep.Figures, "", "  ")
		if werr := os.WriteFile(s.jsonOut, append(b, '\n'), 0o644); werr != nil {
			return rep, werr
		}
	}
	return rep, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
