// Command bench is `make bench`: it measures the backend and writes BENCHMARKS.md.
//
// Every figure is run several times and given as min / median / max, and where it has one, as a
// ratio to a floor measured in the same run on the same machine (the machine is shared and
// noisy; ratios travel, absolute numbers do not). The file opens with issue 10's targets, each
// with its figure from this run and met / not met (headline.go); then the sections, each of
// which -only / -skip can pick:
//
//   - calls: the counting tests (TestDynamoDBCallsPerWebhook, TestDynamoDBCallsPerSend), run
//     against a private local stack; each logs its calls per unit of work as one line
//     (testenv.LogCallReport) read back here.
//   - go: the Go benchmarks (go test -bench . -benchmem -count N over every package that has
//     them, against the same stack); a benchmark with a "Floor" sibling in its package is also
//     given as a ratio to it, round by round.
//   - load: cmd/load -floor, webhook traffic only: webhook CPU per inbound message (the backend
//     process's CPU time) vs HMAC + encoding/json decode of the same bytes, and webhook
//     throughput vs raw DynamoDB Local conditional writes per second at the same concurrency.
//   - consumer: cmd/load with outbound traffic, the Graph API fake answering in 50 ms: consumer
//     sends/s vs the fake's latency bound (a batch of ten in flight at once: 10 / 50 ms).
//   - cold: each function's bootstrap under aws-lambda-rie (the emulator's INIT REPORT
//     duration), binary sizes (arm64 as deployed, and the host build), whether it links
//     phonenumbers and can parse a number, and its peak RSS after a few hundred invocations.
//
// Memory: peak RSS (VmHWM) of the backend under the load runs, against the 128 MB budget.
// Every port is a flag, so two runs on one machine need not collide.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aloro/wa-senders/cmd/internal/devenv"
	"github.com/aloro/wa-senders/shared/awsclient"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/stack"
	"github.com/aloro/wa-senders/shared/webhook"
)

type settings struct {
	count      int
	callsCount int
	runs       int
	coldRuns   int
	invokes    int
	inbound    int
	// consumerOutbound is the outbound requests of a consumer load run.
	consumerOutbound int
	out              string
	sections         map[string]bool
	ddbPort          int
	sqsPort          int
	graphAddr        string
	loadDDB          int
	loadSQS          int
	loadAddr         string
	loadGraph        string
	riePort          int
	benchRegex       string
	// args are the command's arguments, for the file's first line.
	args []string
}

// allSections are the parts of a run, in the order they run.
var allSections = []string{"calls", "go", "load", "consumer", "cold"}

func main() {
	s, err := parseSettings(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseSettings(args []string, stderr io.Writer) (settings, error) {
	s := settings{args: args}
	var only, skip string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&s.count, "count", 5, "go test -count for the Go benchmarks (rounds: min / median / max; the handler's CPU ratio is the noisiest figure)")
	fs.IntVar(&s.callsCount, "calls-count", 3, "go test -count for the call-counting tests")
	fs.IntVar(&s.runs, "runs", 3, "load runs per load profile")
	fs.IntVar(&s.coldRuns, "cold-runs", 5, "emulator cold starts per function")
	fs.IntVar(&s.invokes, "invokes", 300, "invocations per function for the memory figure")
	fs.IntVar(&s.inbound, "inbound", 3000, "unique inbound messages per webhook load run")
	fs.StringVar(&s.out, "out", "BENCHMARKS.md", "file to write (a relative path is from the repository root)")
	fs.StringVar(&only, "only", "", "comma-separated sections to run (default all): "+strings.Join(allSections, ", "))
	fs.StringVar(&skip, "skip", "", "comma-separated sections to skip")
	fs.IntVar(&s.ddbPort, "ddb-port", 18200, "port of the bench's own DynamoDB Local")
	fs.IntVar(&s.sqsPort, "sqs-port", 18201, "port of the bench's own fauxqs")
	fs.StringVar(&s.graphAddr, "graph-fake", "127.0.0.1:18290", "address of the bench's Graph API fake (functions under the emulator)")
	fs.IntVar(&s.loadDDB, "load-ddb-port", 18100, "cmd/load -ddb-port (the load runs' own DynamoDB Local)")
	fs.IntVar(&s.loadSQS, "load-sqs-port", 18101, "cmd/load -sqs-port")
	fs.StringVar(&s.loadAddr, "load-addr", "127.0.0.1:18180", "cmd/load -addr (the backend under load)")
	fs.StringVar(&s.loadGraph, "load-graph-fake", "127.0.0.1:18190", "cmd/load -graph-fake (its carrier fake takes the next port)")
	fs.IntVar(&s.consumerOutbound, "consumer-outbound", 1000, "outbound requests per consumer load run")
	fs.IntVar(&s.riePort, "rie-port", 18600, "the emulator's port (and the next one, its runtime API), one function at a time")
	fs.StringVar(&s.benchRegex, "bench", ".", "go test -bench pattern")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	sections, err := pickSections(only, skip)
	if err != nil {
		return s, err
	}
	s.sections = sections
	if s.count < 1 || s.callsCount < 1 || s.runs < 1 || s.coldRuns < 1 || s.invokes < 1 {
		return s, fmt.Errorf("-count, -calls-count, -runs, -cold-runs and -invokes must be at least 1")
	}
	return s, nil
}

// pickSections turns -only and -skip into the set of sections to run.
func pickSections(only, skip string) (map[string]bool, error) {
	list := func(v string) ([]string, error) {
		var out []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if !slices.Contains(allSections, p) {
				return nil, fmt.Errorf("unknown section %q (sections: %s)", p, strings.Join(allSections, ", "))
			}
			out = append(out, p)
		}
		return out, nil
	}
	on, err := list(only)
	if err != nil {
		return nil, err
	}
	if len(on) == 0 {
		on = allSections
	}
	off, err := list(skip)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, p := range on {
		if !slices.Contains(off, p) {
			m[p] = true
		}
	}
	return m, nil
}

// doc accumulates BENCHMARKS.md.
type doc struct{ bytes.Buffer }

func (d *doc) p(format string, args ...any) { fmt.Fprintf(d, format+"\n", args...) }

// progress prints what the run is doing, with the time since it started.
type progress struct {
	w     io.Writer
	start time.Time
}

func (p *progress) say(format string, args ...any) {
	el := time.Since(p.start).Round(time.Second)
	fmt.Fprintf(p.w, "bench [%02d:%02d] %s\n", int(el.Minutes()), int(el.Seconds())%60, fmt.Sprintf(format, args...))
}

func run(ctx context.Context, s settings, log io.Writer) error {
	prog := &progress{w: log, start: time.Now()}
	repo, err := stack.RepoRoot(".")
	if err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "wa-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)

	res := &results{ran: map[string]bool{}, idleConns: awsclient.HTTPClient().GetTransport().MaxIdleConnsPerHost,
		parallelism: webhook.DefaultParallelism}
	var body doc
	var errs []error
	section := func(name string, f func() error) {
		if !s.sections[name] {
			return
		}
		res.ran[name] = true
		prog.say("section %s", name)
		if err := f(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			body.p("\n_Section %s failed: %s_\n", name, oneLine(err))
			prog.say("section %s failed: %s", name, oneLine(err))
		}
	}

	var st *benchStack
	if s.sections["calls"] || s.sections["go"] || s.sections["cold"] {
		prog.say("starting a private local stack (DynamoDB Local :%d, fauxqs :%d)", s.ddbPort, s.sqsPort)
		st, err = startBenchStack(ctx, repo, binDir, s.ddbPort, s.sqsPort, s.graphAddr, devenv.Prefixed(log, "stack: "))
		if err != nil {
			return err
		}
		defer st.stop(devenv.Prefixed(log, "stack: "))
	}

	section("calls", func() error { return callFigures(ctx, s, repo, st, res, &body, prog) })
	section("go", func() error { return goFigures(ctx, s, repo, st, res, &body, prog) })
	if s.sections["load"] || s.sections["consumer"] {
		res.ran["load"], res.ran["consumer"] = s.sections["load"], s.sections["consumer"]
		if err := loadFigures(ctx, s, repo, binDir, res, &body, prog); err != nil {
			errs = append(errs, fmt.Errorf("load figures: %w", err))
			body.p("\n_Load figures failed: %s_\n", oneLine(err))
		}
	}
	section("cold", func() error {
		// The functions under the emulator send to this fake (the stack's env file names it);
		// started only now, so the load runs may use its port.
		ln, err := net.Listen("tcp", s.graphAddr)
		if err != nil {
			return fmt.Errorf("graph fake: %w", err)
		}
		fakeSrv := &http.Server{Handler: graphfake.New(graphfake.Options{}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = fakeSrv.Serve(ln) }()
		defer fakeSrv.Close()
		return coldFigures(ctx, s, repo, binDir, st, res, &body, prog)
	})

	var d doc
	d.p("# Benchmarks")
	d.p("")
	d.p("Written by `make bench` (`%s`) on %s. Every figure is measured several times "+
		"and given as **min / median / max**; where it has a floor, the floor is measured in the same run on the same "+
		"machine and the figure is also given as a ratio to it. The machine is shared and noisy: compare ratios, not "+
		"absolute numbers, across machines.", strings.Join(append([]string{"go run ./cmd/bench"}, s.args...), " "), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	d.p("")
	writeHeadline(&d, headlineTable(res))
	machine(&d, repo)
	d.Write(body.Bytes())
	path := s.out
	if !filepath.IsAbs(path) {
		path = filepath.Join(repo, path)
	}
	if err := os.WriteFile(path, d.Bytes(), 0o644); err != nil {
		return err
	}
	prog.say("wrote %s", path)
	return errors.Join(errs...)
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// machine describes where the figures were measured.
func machine(d *doc, repo string) {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					kb, _ := strconv.ParseFloat(f[0], 64)
					mem = fmt.Sprintf("%.1f GiB", kb/1024/1024)
				}
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	gov, _ := exec.Command("go", "version").Output()
	d.p("## Machine")
	d.p("")
	d.p("| | |")
	d.p("| --- | --- |")
	d.p("| CPUs (nproc) | %d |", runtime.NumCPU())
	d.p("| CPU model | %s |", cpu)
	d.p("| memory | %s |", mem)
	d.p("| Go | %s |", strings.TrimSpace(string(gov)))
	d.p("| kernel | Linux %s |", strings.TrimSpace(string(kernel)))
	d.p("")
}

// loadProfile is one shape of load run.
type loadProfile struct {
	name string
	args []string
}

func loadFigures(ctx context.Context, s settings, repo, binDir string, res *results, d *doc, prog *progress) error {
	log := prog.w
	bin := filepath.Join(binDir, "load")
	if err := goBuild(ctx, repo, nil, "-o", bin, "./cmd/load"); err != nil {
		return err
	}
	// -fault none: the default fault scenarios (a campaign, an outage) would run alongside and
	// slow what is measured.
	webhookProfile := loadProfile{"webhook", []string{"-fault", "none", "-outbound", "0", "-orphans", "0", "-inbound", strconv.Itoa(s.inbound), "-floor"}}
	consumerProfile := loadProfile{"consumer", []string{"-fault", "none", "-inbound", "1500", "-senders", "25", "-customers", "60", "-outbound", strconv.Itoa(s.consumerOutbound),
		"-outbound-rate", "0", "-outbound-after", "-send-latency", "50ms", "-orphans", "0"}}
	var profiles []loadProfile
	if s.sections["load"] {
		profiles = append(profiles, webhookProfile)
	}
	if s.sections["consumer"] {
		profiles = append(profiles, consumerProfile)
	}
	results := map[string][]map[string]float64{}
	res.load = results
	var failedChecks []string
	for _, p := range profiles {
		for i := range s.runs {
			jsonPath := filepath.Join(binDir, fmt.Sprintf("%s-%d.json", p.name, i))
			args := append([]string{"-json", jsonPath, "-ddb-port", strconv.Itoa(s.loadDDB), "-sqs-port", strconv.Itoa(s.loadSQS),
				"-addr", s.loadAddr, "-graph-fake", s.loadGraph}, p.args...)
			prog.say("load run %s %d/%d: load %s", p.name, i+1, s.runs, strings.Join(args, " "))
			cmd := groupCommand(ctx, bin, args...)
			cmd.Dir = repo
			cmd.Env = devenv.CleanEnv()
			var out bytes.Buffer
			w := io.MultiWriter(&out, devenv.Prefixed(log, "  "))
			cmd.Stdout, cmd.Stderr = w, w
			runErr := cmd.Run()
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				// No figures at all: the run itself failed.
				return fmt.Errorf("load run %s: %v (last lines:\n%s)", p.name, runErr, tail(out.String(), 15))
			}

			var raw map[string]any
			if err := json.Unmarshal(b, &raw); err != nil {
				return fmt.Errorf("load figures %s: %w", jsonPath, err)
			}
			m := map[string]float64{}
			for k, v := range raw {
				if f, ok := v.(float64); ok {
					m[k] = f
				}
			}
			if runErr != nil {
				// The figures stand; the run's end-state checks failed and are reported with them.
				failedChecks = append(failedChecks, fmt.Sprintf("%s run %d: lost %v, duplicated %v, wrong end states %v",
					p.name, i+1, raw["lost"], raw["duplicated"], raw["wrong_end_states"]))
			}
			results[p.name] = append(results[p.name], m)
		}
	}
	col := func(profile, key string) stat {
		var v []float64
		for _, m := range results[profile] {
			v = append(v, m[key])
		}
		return statOf(v)
	}
	w := "webhook"
	if s.sections["load"] {
		d.p("## Webhook under load (cmd/load, the backend as `make run` serves it)")
		d.p("")
		d.p("%d runs of `load %s`: signed POSTs (inbound messages of several types, 10 %% of POSTs delivered twice, "+
			"5 %% of messages re-batched, shuffled) from 8 concurrent clients, no outbound traffic. Each run also "+
			"measures its floors.", s.runs, strings.Join(webhookProfile.args, " "))
		d.p("")
		d.p("| figure | min / median / max | floor (min / median / max) | ratio to floor (min / median / max) |")
		d.p("| --- | --- | --- | --- |")
		d.p("| backend CPU per inbound message (µs) | %s | HMAC-SHA256 + `encoding/json` decode into `map[string]any` of the same bodies: %s | %s |",
			col(w, "backend_cpu_per_inbound_message_us"), col(w, "floor_hmac_decode_cpu_per_message_us"), col(w, "webhook_cpu_over_floor"))
		d.p("| throughput (inbound messages/s) | %s | raw DynamoDB Local conditional writes/s, same concurrency: %s | %s |",
			col(w, "webhook_messages_per_second"), col(w, "floor_ddb_conditional_writes_per_second"), col(w, "webhook_messages_per_second_over_floor"))
		d.p("| latency p50 (ms) | %s | | |", col(w, "webhook_p50_ms"))
		d.p("| latency p99 (ms) | %s | | |", col(w, "webhook_p99_ms"))
		d.p("")
	}
	c := "consumer"
	if s.sections["consumer"] {
		d.p("## Outbound consumer under load")
		d.p("")
		d.p("%d runs of `load %s`: once the webhooks are in, requests enqueued through POST /messages as fast as possible, the Graph API fake "+
			"answering each send in 50 ms, one poller as in `make run`. The bound is the lower of two: the fake's "+
			"latency bound, what one poller could reach if the fake's answer time were the only cost and a whole "+
			"batch of ten were in flight at once (10 / 50 ms = 200 sends/s), and the pacing bound, each sender "+
			"paced at its 80 messages/s divided by the event source's maximum concurrency of 10 (25 senders × 8/s "+
			"= 200 sends/s). Lambda runs up to ten such pollers.", s.runs, strings.Join(consumerProfile.args, " "))
		d.p("")
		d.p("| figure | min / median / max | ratio to the bound |")
		d.p("| --- | --- | --- |")
		d.p("| sends/s, first to last send | %s | %s |", col(c, "sends_per_second_first_to_last"), col(c, "sends_per_second_over_latency_bound"))
		d.p("| enqueue → send p50 (ms) | %s | |", col(c, "enqueue_to_send_p50_ms"))
		d.p("| enqueue → send p99 (ms) | %s | |", col(c, "enqueue_to_send_p99_ms"))
		d.p("")
	}
	if len(failedChecks) > 0 {
		d.p("**The end-state checks of some load runs failed** (see `make load` for the problems): %s.", strings.Join(failedChecks, "; "))
		d.p("")
	}
	d.p("## Memory under the load run")
	d.p("")
	d.p("cmd/localrun serves all four functions in one process, so its peak RSS bounds each function's.")
	d.p("")
	d.p("| process | peak RSS (VmHWM, MB) min / median / max | budget |")
	d.p("| --- | --- | --- |")
	for _, p := range profiles {
		st := col(p.name, "backend_peak_rss_kb")
		d.p("| localrun, %s run | %s | 128 MB per function |", p.name, stat{st.Min / 1024, st.Med / 1024, st.Max / 1024})
	}
	d.p("")
	return nil
}

func coldFigures(ctx context.Context, s settings, repo, binDir string, st *benchStack, res *results, d *doc, prog *progress) error {
	rie := filepath.Join(repo, ".tools", "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		path, lerr := exec.LookPath("aws-lambda-rie")
		if lerr != nil {
			return fmt.Errorf("aws-lambda-rie not found in .tools/bin or on PATH (make tools)")
		}
		rie = path
	}
	d.p("## Cold start and size")
	d.p("")
	d.p("Each function's bootstrap (host build, `-tags lambda.norpc -trimpath -ldflags=\"-s -w\"`) started %d times "+
		"under aws-lambda-rie with its section of the stack's env file; init is the emulator's `INIT REPORT` "+
		"(process start to the runtime's first `/next`; the REPORT line's Init Duration is not measured by the "+
		"emulator). Memory: the bootstrap's VmHWM after %d invocations (the emulator's Max Memory Used only echoes "+
		"the configured size). Sizes: arm64 as deployed, and the host build. phonenumbers: whether the function "+
		"links github.com/nyaruka/phonenumbers (`go list -deps`), whose init decodes its whole metadata at every "+
		"cold start, and whether it can parse a number with it (`phonenumbers.Parse…` left in an unstripped build "+
		"after the linker's dead-code elimination).", s.coldRuns, s.invokes)
	d.p("")
	d.p("| function | init (ms) min / median / max | first invoke incl. init (ms) | peak RSS after %d invocations (MB) | errors | arm64 size (MB) | host size (MB) | links phonenumbers | parses a number |", s.invokes)
	d.p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	var errs []error
	for _, fn := range allFunctions {
		if _, err := os.Stat(filepath.Join(repo, "functions", fn.Folder)); err != nil {
			d.p("| %s | not built: functions/%s missing | | | | | | | |", fn.LogicalID, fn.Folder)
			continue
		}
		prog.say("%s: building (host, arm64) and reading what it links", fn.LogicalID)
		lf, err := functionLinks(ctx, repo, binDir, fn.Folder)
		if err != nil {
			errs = append(errs, err)
		} else {
			lf.Function = fn.LogicalID
			res.functions = append(res.functions, lf)
		}
		links, parses := yesNo(lf.Links), yesNo(lf.ParsesPhone)
		if err != nil {
			links, parses = "unknown", "unknown"
		}
		host := filepath.Join(binDir, fn.Folder, "bootstrap")
		arm := filepath.Join(binDir, fn.Folder+"-arm64", "bootstrap")
		if err := buildBootstrap(ctx, repo, fn.Folder, runtime.GOARCH, host); err != nil {
			errs = append(errs, err)
			d.p("| %s | build failed | | | | | | %s | %s |", fn.LogicalID, links, parses)
			continue
		}
		armSize := "n/a"
		if err := buildBootstrap(ctx, repo, fn.Folder, "arm64", arm); err == nil {
			armSize = fmtNum(fileMB(arm))
		}
		env := st.env.For(fn.LogicalID)
		events := sampleEvents(repo, fn.Folder)
		if fn.Folder == "webhook" {
			events = append(webhookEvents(s.invokes), events...)
		}
		if len(events) == 0 {
			d.p("| %s | no sample events in events/%s | | | | %s | %s | %s | %s |", fn.LogicalID, fn.Folder, armSize, fmtNum(fileMB(host)), links, parses)
			continue
		}
		var inits, firsts []float64
		var peak rieResult
		for r := range s.coldRuns {
			n := 1
			if r == s.coldRuns-1 {
				n = s.invokes
			}
			prog.say("%s under the emulator, run %d/%d (%d invocations)", fn.LogicalID, r+1, s.coldRuns, n)
			res, err := runUnderRIE(ctx, rie, host, env, events, n, s.riePort)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", fn.LogicalID, err))
				break
			}
			inits = append(inits, res.InitMs)
			firsts = append(firsts, res.FirstInvokeMs)
			if n > 1 || s.coldRuns == 1 {
				peak = res
			}
		}
		d.p("| %s | %s | %s | %s | %d of %d | %s | %s | %s | %s |", fn.LogicalID, statOf(inits), statOf(firsts),
			fmtNum(float64(peak.PeakKB)/1024), peak.Errors, peak.Invocations, armSize, fmtNum(fileMB(host)), links, parses)
	}
	d.p("")
	return errors.Join(errs...)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

const phonenumbersPkg = "github.com/nyaruka/phonenumbers"

// functionLinks reads whether a function links phonenumbers and whether its parser is reachable.
func functionLinks(ctx context.Context, repo, binDir, folder string) (linkFacts, error) {
	var lf linkFacts
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", "lambda.norpc", "./functions/"+folder)
	cmd.Dir = repo
	cmd.Env = devenv.CleanEnv("CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		return lf, fmt.Errorf("go list -deps ./functions/%s: %w", folder, err)
	}
	lf.Links = slices.Contains(strings.Fields(string(out)), phonenumbersPkg)
	if !lf.Links {
		return lf, nil
	}
	bin := filepath.Join(binDir, folder+"-symbols")
	if err := goBuild(ctx, repo, []string{"CGO_ENABLED=0"}, "-tags", "lambda.norpc", "-trimpath", "-o", bin, "./functions/"+folder); err != nil {
		return lf, err
	}
	nm := exec.CommandContext(ctx, "go", "tool", "nm", bin)
	nm.Dir = repo
	syms, err := nm.Output()
	if err != nil {
		return lf, fmt.Errorf("go tool nm %s: %w", bin, err)
	}
	lf.ParsesPhone = parsesPhone(string(syms))
	return lf, nil
}

// parsesPhone reports whether go tool nm output holds one of phonenumbers' parse functions.
func parsesPhone(nm string) bool {
	for _, line := range strings.Split(nm, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "T" && (strings.HasPrefix(f[2], phonenumbersPkg+".Parse") || f[2] == phonenumbersPkg+".parseHelper") {
			return true
		}
	}
	return false
}

func fileMB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / (1 << 20)
}

func goFigures(ctx context.Context, s settings, repo string, st *benchStack, res *results, d *doc, prog *progress) error {
	log := prog.w
	pkgs, err := benchPackages(ctx, repo)
	if err != nil {
		return err
	}
	d.p("## Go benchmarks")
	d.p("")
	d.p("`go test -run '^$' -bench %s -benchmem -count %d` over %s, against the bench's own local stack. "+
		"min / median / max over the %d rounds.", s.benchRegex, s.count, strings.Join(pkgs, ", "), s.count)
	d.p("")
	if len(pkgs) == 0 {
		d.p("No package declares a benchmark.")
		return nil
	}
	args := append([]string{"test", "-run", "^$", "-bench", s.benchRegex, "-benchmem", "-count", strconv.Itoa(s.count)}, pkgs...)
	prog.say("go %s", strings.Join(args, " "))
	cmd := groupCommand(ctx, "go", args...)
	cmd.Dir = repo
	cmd.Env = devenv.CleanEnv(st.testEnv()...)
	var out bytes.Buffer
	w := io.MultiWriter(&out, devenv.Prefixed(log, "  "))
	cmd.Stdout, cmd.Stderr = w, w
	runErr := cmd.Run()
	text := out.String()
	results := parseBench(strings.NewReader(text))
	res.bench = results
	d.p("| package | benchmark | ns/op | B/op | allocs/op | other |")
	d.p("| --- | --- | --- | --- | --- | --- |")
	for _, r := range results {
		var other []string
		for unit, v := range r.Samples {
			switch unit {
			case "ns/op", "B/op", "allocs/op":
			default:
				other = append(other, unit+" "+statOf(v).String())
			}
		}
		d.p("| %s | %s | %s | %s | %s | %s |", strings.TrimPrefix(r.Pkg, "github.com/aloro/wa-senders/"), r.Name,
			statOf(r.Samples["ns/op"]), statOf(r.Samples["B/op"]), statOf(r.Samples["allocs/op"]), strings.Join(other, "; "))
	}
	d.p("")
	if pairs := floorPairs(results); len(pairs) > 0 {
		d.p("Ratios to the floor benchmark of the same package, round by round (ns/op ÷ floor ns/op):")
		d.p("")
		d.p("| benchmark | floor | ratio min / median / max |")
		d.p("| --- | --- | --- |")
		for _, p := range pairs {
			d.p("| %s | %s | %s |", p[0].Name, p[1].Name, ratioStat(p[0].Samples["ns/op"], p[1].Samples["ns/op"]))
		}
		d.p("")
	}
	if rows := headlineRows(results); len(rows) > 0 {
		d.p("The webhook's figures, round by round (a ratio's two benchmarks come from the same round):")
		d.p("")
		d.p("| figure | min / median / max | target |")
		d.p("| --- | --- | --- |")
		for _, r := range rows {
			d.p("| %s | %s | %s |", r[0], r[1], r[2])
		}
		d.p("")
	}
	if runErr != nil {
		var failed []string
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "FAIL\t") || strings.HasPrefix(line, "--- FAIL") {
				failed = append(failed, strings.TrimSpace(line))
			}
		}
		d.p("**Some benchmark packages failed** (their figures are missing above): %s", strings.Join(failed, "; "))
		d.p("")
		return fmt.Errorf("go test -bench: %w (last lines:\n%s)", runErr, tail(text, 15))
	}
	return nil
}

// callTests are the tests that count calls per unit of work and log them for the bench.
var callTests = []string{"./shared/webhook", "./shared/outbound"}

const callTestPattern = "^(TestDynamoDBCallsPerWebhook|TestDynamoDBCallsPerSend)$"

// callFigures runs the call-counting tests against the bench's stack and reads their reports.
func callFigures(ctx context.Context, s settings, repo string, st *benchStack, res *results, d *doc, prog *progress) error {
	args := append([]string{"test", "-count", strconv.Itoa(s.callsCount), "-v", "-run", callTestPattern}, callTests...)
	prog.say("go %s", strings.Join(args, " "))
	cmd := groupCommand(ctx, "go", args...)
	cmd.Dir = repo
	cmd.Env = devenv.CleanEnv(st.testEnv()...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	res.calls = parseCallReports(strings.NewReader(out.String()))
	writeCalls(d, res.calls, s.callsCount)
	if runErr != nil {
		d.p("**The counting tests failed** (a count above its bound, or the stack): %s", oneLine(errors.New(tail(out.String(), 8))))
		d.p("")
		return fmt.Errorf("counting tests: %w (last lines:\n%s)", runErr, tail(out.String(), 15))
	}
	if len(res.calls) == 0 {
		return fmt.Errorf("the counting tests logged no report (last lines:\n%s)", tail(out.String(), 15))
	}
	return nil
}
