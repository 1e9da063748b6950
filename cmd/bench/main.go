// Command bench is `make bench`: it measures the backend and writes BENCHMARKS.md.
//
// Every figure is run several times and given as min / median / max, and where it has one, as a
// ratio to a floor measured in the same run on the same machine (the machine is shared and
// noisy; ratios travel, absolute numbers do not):
//
//   - Go benchmarks (go test -bench . -benchmem -count N over every package that has them,
//     against a private local stack for those that need DynamoDB Local or fauxqs); a benchmark
//     with a "Floor" sibling in its package is also given as a ratio to it, round by round.
//   - The load run (cmd/load -floor, webhook traffic only): webhook CPU per inbound message
//     (the backend process's CPU time) vs HMAC + encoding/json decode of the same bytes, and
//     webhook throughput vs raw DynamoDB Local conditional writes per second.
//   - The load run (outbound traffic, the Graph API fake answering in 50 ms): consumer sends/s vs
//     the fake's latency bound (a batch of ten in flight at once: 10 / 50 ms).
//   - Cold start: each function's bootstrap under aws-lambda-rie, the emulator's INIT REPORT
//     duration; binary sizes (arm64 as deployed, and the host build).
//   - Memory: peak RSS (VmHWM) of the backend under the load run, and of each bootstrap under
//     the emulator after a few hundred invocations, against the 128 MB budget.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aloro/wa-senders/cmd/internal/devenv"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/stack"
)

type settings struct {
	count      int
	runs       int
	coldRuns   int
	invokes    int
	out        string
	skip       map[string]bool
	ddbPort    int
	sqsPort    int
	graphAddr  string
	loadFlags  string
	benchRegex string
}

func main() {
	var s settings
	var skip string
	flag.IntVar(&s.count, "count", 5, "go test -count for the Go benchmarks")
	flag.IntVar(&s.runs, "runs", 3, "load runs per load figure")
	flag.IntVar(&s.coldRuns, "cold-runs", 5, "emulator cold starts per function")
	flag.IntVar(&s.invokes, "invokes", 300, "invocations per function for the memory figure")
	flag.StringVar(&s.out, "out", "BENCHMARKS.md", "file to write (relative to the repository root)")
	flag.StringVar(&skip, "skip", "", "comma-separated parts to skip: go, load, cold")
	flag.IntVar(&s.ddbPort, "ddb-port", 18200, "port of the bench's own DynamoDB Local")
	flag.IntVar(&s.sqsPort, "sqs-port", 18201, "port of the bench's own fauxqs")
	flag.StringVar(&s.graphAddr, "graph-fake", "127.0.0.1:18290", "address of the bench's Graph API fake (functions under the emulator)")
	flag.StringVar(&s.benchRegex, "bench", ".", "go test -bench pattern")
	flag.Parse()
	s.skip = map[string]bool{}
	for _, p := range strings.Split(skip, ",") {
		if p = strings.TrimSpace(p); p != "" {
			s.skip[p] = true
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// doc accumulates BENCHMARKS.md.
type doc struct{ bytes.Buffer }

func (d *doc) p(format string, args ...any) { fmt.Fprintf(d, format+"\n", args...) }

func run(ctx context.Context, s settings, log io.Writer) error {
	repo, err := stack.RepoRoot(".")
	if err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "wa-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)

	var d doc
	d.p("# Benchmarks")
	d.p("")
	d.p("Written by `make bench` (`go run ./cmd/bench`) on %s. Every figure is measured several times "+
		"and given as **min / median / max**; where it has a floor, the floor is measured in the same run on the same "+
		"machine and the figure is also given as a ratio to it. The machine is shared and noisy: compare ratios, not "+
		"absolute numbers, across machines.", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	d.p("")
	machine(&d, repo)

	fake := graphfake.New(graphfake.Options{})
	ln, err := net.Listen("tcp", s.graphAddr)
	if err != nil {
		return fmt.Errorf("graph fake: %w", err)
	}
	fakeSrv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = fakeSrv.Serve(ln) }()
	defer fakeSrv.Close()

	fmt.Fprintln(log, "bench: starting a private local stack")
	st, err := startBenchStack(ctx, repo, binDir, s.ddbPort, s.sqsPort, s.graphAddr, devenv.Prefixed(log, "stack: "))
	if err != nil {
		return err
	}
	defer st.stop(devenv.Prefixed(log, "stack: "))

	var errs []error
	if !s.skip["load"] {
		if err := loadFigures(ctx, s, repo, binDir, &d, log); err != nil {
			errs = append(errs, fmt.Errorf("load figures: %w", err))
			d.p("\n_Load figures failed: %s_", oneLine(err))
		}
	}
	if !s.skip["cold"] {
		if err := coldFigures(ctx, s, repo, binDir, st, &d, log); err != nil {
			errs = append(errs, fmt.Errorf("cold start figures: %w", err))
			d.p("\n_Cold start figures failed: %s_", oneLine(err))
		}
	}
	if !s.skip["go"] {
		if err := goFigures(ctx, s, repo, st, &d, log); err != nil {
			errs = append(errs, fmt.Errorf("go benchmarks: %w", err))
			d.p("\n_Go benchmarks failed: %s_", oneLine(err))
		}
	}
	path := filepath.Join(repo, s.out)
	if err := os.WriteFile(path, d.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "bench: wrote %s\n", path)
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

func loadFigures(ctx context.Context, s settings, repo, binDir string, d *doc, log io.Writer) error {
	bin := filepath.Join(binDir, "load")
	if err := goBuild(ctx, repo, nil, "-o", bin, "./cmd/load"); err != nil {
		return err
	}
	profiles := []loadProfile{
		{"webhook", []string{"-outbound", "0", "-orphans", "0", "-inbound", "3000", "-floor"}},
		{"consumer", []string{"-inbound", "1500", "-senders", "25", "-customers", "60", "-outbound", "1000",
			"-outbound-rate", "0", "-outbound-after", "-send-latency", "50ms", "-orphans", "0"}},
	}
	results := map[string][]map[string]float64{}
	var failedChecks []string
	for _, p := range profiles {
		for i := range s.runs {
			jsonPath := filepath.Join(binDir, fmt.Sprintf("%s-%d.json", p.name, i))
			args := append([]string{"-json", jsonPath, "-ddb-port", "18100", "-sqs-port", "18101"}, p.args...)
			fmt.Fprintf(log, "bench: load run %s %d/%d: load %s\n", p.name, i+1, s.runs, strings.Join(args, " "))
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
	d.p("## Webhook under load (cmd/load, the backend as `make run` serves it)")
	d.p("")
	d.p("%d runs of `load %s`: signed POSTs (inbound messages of several types, 10 %% of POSTs delivered twice, "+
		"5 %% of messages re-batched, shuffled) from 8 concurrent clients, no outbound traffic. Each run also "+
		"measures its floors.", s.runs, strings.Join(profiles[0].args, " "))
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
	c := "consumer"
	d.p("## Outbound consumer under load")
	d.p("")
	d.p("%d runs of `load %s`: once the webhooks are in, requests enqueued through POST /messages as fast as possible, the Graph API fake "+
		"answering each send in 50 ms, one poller as in `make run`. The bound is the lower of two: the fake's "+
		"latency bound, what one poller could reach if the fake's answer time were the only cost and a whole "+
		"batch of ten were in flight at once (10 / 50 ms = 200 sends/s), and the pacing bound, each sender "+
		"paced at its 80 messages/s divided by the event source's maximum concurrency of 10 (25 senders × 8/s "+
		"= 200 sends/s). Lambda runs up to ten such pollers.", s.runs, strings.Join(profiles[1].args, " "))
	d.p("")
	d.p("| figure | min / median / max | ratio to the bound |")
	d.p("| --- | --- | --- |")
	d.p("| sends/s, first to last send | %s | %s |", col(c, "sends_per_second_first_to_last"), col(c, "sends_per_second_over_latency_bound"))
	d.p("| enqueue → send p50 (ms) | %s | |", col(c, "enqueue_to_send_p50_ms"))
	d.p("| enqueue → send p99 (ms) | %s | |", col(c, "enqueue_to_send_p99_ms"))
	d.p("")
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

func coldFigures(ctx context.Context, s settings, repo, binDir string, st *benchStack, d *doc, log io.Writer) error {
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
		"the configured size). Sizes: arm64 as deployed, and the host build.", s.coldRuns, s.invokes)
	d.p("")
	d.p("| function | init (ms) min / median / max | first invoke incl. init (ms) | peak RSS after %d invocations (MB) | errors | arm64 size (MB) | host size (MB) |", s.invokes)
	d.p("| --- | --- | --- | --- | --- | --- | --- |")
	var errs []error
	for i, fn := range allFunctions {
		if _, err := os.Stat(filepath.Join(repo, "functions", fn.Folder)); err != nil {
			d.p("| %s | not built: functions/%s missing | | | | | |", fn.LogicalID, fn.Folder)
			continue
		}
		host := filepath.Join(binDir, fn.Folder, "bootstrap")
		arm := filepath.Join(binDir, fn.Folder+"-arm64", "bootstrap")
		if err := buildBootstrap(ctx, repo, fn.Folder, runtime.GOARCH, host); err != nil {
			errs = append(errs, err)
			d.p("| %s | build failed | | | | | |", fn.LogicalID)
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
			d.p("| %s | no sample events in events/%s | | | | %s | %s |", fn.LogicalID, fn.Folder, armSize, fmtNum(fileMB(host)))
			continue
		}
		var inits, firsts []float64
		var peak rieResult
		port := 18600 + 10*i
		for r := range s.coldRuns {
			n := 1
			if r == s.coldRuns-1 {
				n = s.invokes
			}
			fmt.Fprintf(log, "bench: %s under the emulator, run %d/%d (%d invocations)\n", fn.LogicalID, r+1, s.coldRuns, n)
			res, err := runUnderRIE(ctx, rie, host, env, events, n, port)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", fn.LogicalID, err))
				break
			}
			inits = append(inits, res.InitMs)
			firsts = append(firsts, res.FirstInvokeMs)
			if n > 1 {
				peak = res
			}
		}
		d.p("| %s | %s | %s | %s | %d of %d | %s | %s |", fn.LogicalID, statOf(inits), statOf(firsts),
			fmtNum(float64(peak.PeakKB)/1024), peak.Errors, peak.Invocations, armSize, fmtNum(fileMB(host)))
	}
	d.p("")
	return errors.Join(errs...)
}

func fileMB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / (1 << 20)
}

func goFigures(ctx context.Context, s settings, repo string, st *benchStack, d *doc, log io.Writer) error {
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
	fmt.Fprintf(log, "bench: go %s\n", strings.Join(args, " "))
	cmd := groupCommand(ctx, "go", args...)
	cmd.Dir = repo
	cmd.Env = devenv.CleanEnv(st.testEnv()...)
	var out bytes.Buffer
	w := io.MultiWriter(&out, devenv.Prefixed(log, "  "))
	cmd.Stdout, cmd.Stderr = w, w
	runErr := cmd.Run()
	text := out.String()
	results := parseBench(strings.NewReader(text))
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
