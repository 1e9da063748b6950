package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aloro/wa-senders/shared/testenv"
)

// results is what the sections of one run measured, for the headline table.
type results struct {
	// ran names the sections that ran (calls, go, load, consumer, cold).
	ran map[string]bool
	// calls are the counting tests' reports by unit, one per -count round.
	calls map[string][]testenv.CallReport
	// load is each load profile's figures, one map per run.
	load map[string][]map[string]float64
	// bench is the Go benchmarks' results.
	bench []*benchResult
	// idleConns and parallelism are the SDK client's idle connections per host and the
	// webhook's storage calls of one POST in flight.
	idleConns, parallelism int
	// functions is what each function links (the cold start section).
	functions []linkFacts
}

// linkFacts is whether a function's binary carries the phonenumbers package and whether it can
// parse a number with it (the parser survived the linker's dead-code elimination).
type linkFacts struct {
	Function           string
	Links, ParsesPhone bool
}

// parseCallReports reads the counting tests' reports from go test -v output, by unit.
func parseCallReports(r io.Reader) map[string][]testenv.CallReport {
	out := map[string][]testenv.CallReport{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rep, ok := testenv.ParseCallReport(sc.Text()); ok {
			out[rep.Unit] = append(out[rep.Unit], rep)
		}
	}
	return out
}

// perUnit summarises one figure of a unit's reports, divided by the unit count.
func perUnit(reps []testenv.CallReport, f func(testenv.CallReport) (int, bool)) (stat, bool) {
	var v []float64
	for _, r := range reps {
		n, ok := f(r)
		if !ok || r.Units == 0 {
			continue
		}
		v = append(v, float64(n)/float64(r.Units))
	}
	if len(v) == 0 {
		return stat{}, false
	}
	return statOf(v), true
}

func ddbCalls(r testenv.CallReport) (int, bool) { return testenv.Total(r.DDB), r.DDB != nil }
func ddbReads(r testenv.CallReport) (int, bool) { return r.Reads(), r.DDB != nil }
func sqsCalls(r testenv.CallReport) (int, bool) { return testenv.Total(r.SQS), r.SQS != nil }
func conditionalWrites(r testenv.CallReport) (int, bool) {
	n, ok := r.Extra[testenv.ExtraConditionalWrites]
	return n, ok
}

// headRow is one line of the headline table.
type headRow struct {
	Figure, Value, Target, Before, Verdict string
}

// Verdicts. A figure measured several times meets its target when its worst value does; when
// only its median does, the table says so.
const (
	verdictMet         = "met"
	verdictNotMet      = "**not met**"
	verdictMedianOnly  = "met at the median, not at the worst"
	verdictNoTarget    = "no target"
	verdictNotMeasured = "not measured"
)

// judge compares a figure with a bound: atMost for "≤ bound", else "≥ bound".
func judge(s stat, bound float64, atMost bool) string {
	worst, med := s.Max, s.Med
	if !atMost {
		worst = s.Min
	}
	ok := func(v float64) bool {
		if atMost {
			return v <= bound+1e-9
		}
		return v >= bound-1e-9
	}
	switch {
	case ok(worst):
		return verdictMet
	case ok(med):
		return verdictMedianOnly
	default:
		return verdictNotMet
	}
}

// both is met only when both verdicts are.
func both(a, b string) string {
	if a == verdictMet && b == verdictMet {
		return verdictMet
	}
	if a == verdictNotMeasured || b == verdictNotMeasured {
		return verdictNotMeasured
	}
	if a == verdictNotMet || b == verdictNotMet {
		return verdictNotMet
	}
	return verdictMedianOnly
}

// headlineTable is issue 10's targets, each with its figure from this run.
func headlineTable(r *results) []headRow {
	var rows []headRow
	notMeasured := func(figure, target, before, why string) headRow {
		return headRow{figure, "not measured (" + why + ")", target, before, verdictNotMeasured}
	}
	calls := func(unit, figure, target, before string, f func(testenv.CallReport) (int, bool), bound float64, hasBound bool) headRow {
		if !r.ran["calls"] {
			return notMeasured(figure, target, before, "section calls skipped")
		}
		s, ok := perUnit(r.calls[unit], f)
		if !ok {
			return notMeasured(figure, target, before, "no report from the counting test")
		}
		v := verdictNoTarget
		if hasBound {
			v = judge(s, bound, true)
		}
		return headRow{figure, s.String(), target, before, v}
	}

	// oneConditional adds to a row its conditional writes, and requires at least one per unit.
	oneConditional := func(row headRow, unit string) headRow {
		if row.Verdict == verdictNotMeasured {
			return row
		}
		c, ok := perUnit(r.calls[unit], conditionalWrites)
		if !ok {
			row.Value += " (conditional writes not counted)"
			row.Verdict = verdictNotMeasured
			return row
		}
		row.Value += fmt.Sprintf(" (conditional writes %s)", c)
		row.Verdict = both(row.Verdict, judge(c, 1, false))
		return row
	}

	// Inbound text message, common path.
	rows = append(rows, oneConditional(calls("inbound-text", "DynamoDB calls per inbound text message (returning customer, warm instance)",
		"1 conditional write", "3", ddbCalls, 1, true), "inbound-text"))
	rows = append(rows, calls("inbound-text", "SQS calls per inbound text message", "1", "1", sqsCalls, 1, true))
	rows = append(rows, calls("inbound-text-new-customer", "DynamoDB calls per inbound text message, new customer",
		"none set (the common path is 1)", "5", ddbCalls, 0, false))

	// A status.
	st := calls("status", "DynamoDB calls per status (with biz_opaque_callback_data)", "1 conditional write, no read",
		"2 (a read + a rewrite)", ddbCalls, 1, true)
	if st.Verdict != verdictNotMeasured {
		reads, _ := perUnit(r.calls["status"], ddbReads)
		st.Value += fmt.Sprintf(" (reads %s)", reads)
		st.Verdict = both(st.Verdict, judge(reads, 0, true))
	}
	rows = append(rows, oneConditional(st, "status"))

	// A 100-change POST.
	rows = append(rows, calls("post-100-changes", "DynamoDB calls per change of a 100-change POST (60 messages, 30 statuses, 10 management)",
		"none set", "3.6", ddbCalls, 0, false))
	lists := calls("post-100-changes", "sender-list reads per 100-change POST", "1", "—",
		func(c testenv.CallReport) (int, bool) {
			n, ok := c.Extra["sender-list-reads"] // per POST: undo perUnit's division
			return n * c.Units, ok
		}, 1, true)
	rows = append(rows, lists)

	// Outbound.
	rows = append(rows, calls("outbound-free-form", "DynamoDB calls per outbound free-form send (warm instance)", "≤ 5", "13", ddbCalls, 5, true))
	rows = append(rows, calls("outbound-template", "DynamoDB calls per outbound template send, new recipient (warm instance)", "≤ 6", "20", ddbCalls, 6, true))

	// Throughput under load.
	const tpFigure = "webhook throughput ÷ DynamoDB Local's raw conditional writes/s, same concurrency (cmd/load)"
	if !r.ran["load"] {
		rows = append(rows, notMeasured(tpFigure, "≥ 0.6", "0.25–0.32", "section load skipped"))
	} else if v := loadColumn(r.load["webhook"], "webhook_messages_per_second_over_floor"); len(v) == 0 {
		rows = append(rows, notMeasured(tpFigure, "≥ 0.6", "0.25–0.32", "no load run finished"))
	} else {
		s := statOf(v)
		rows = append(rows, headRow{tpFigure, s.String(), "≥ 0.6", "0.25–0.32", judge(s, 0.6, false)})
	}

	// Handler CPU.
	const cpuFigure = "handler CPU (no I/O) ÷ HMAC + generic decode, one text message (BenchmarkHandlerOnly/text ÷ BenchmarkFloorText)"
	if !r.ran["go"] {
		rows = append(rows, notMeasured(cpuFigure, "≤ 1.5", "—", "section go skipped"))
	} else if s, ok := benchRatio(r.bench, "shared/webhook", "BenchmarkHandlerOnly/text", "BenchmarkFloorText"); !ok {
		rows = append(rows, notMeasured(cpuFigure, "≤ 1.5", "—", "benchmarks missing from the run"))
	} else {
		rows = append(rows, headRow{cpuFigure, s.String(), "≤ 1.5", "—", judge(s, 1.5, true)})
	}

	// Idle connections.
	idle := headRow{Figure: "idle connections per host of the AWS SDK client ÷ the webhook's storage calls in flight per POST",
		Value:  fmt.Sprintf("%d ÷ %d", r.idleConns, r.parallelism),
		Target: "≥ 1 (enough for the parallelism)", Before: "10 ÷ 16 (the SDK default)"}
	if r.idleConns >= r.parallelism && r.parallelism > 0 {
		idle.Verdict = verdictMet
	} else {
		idle.Verdict = verdictNotMet
	}
	rows = append(rows, idle)

	// phonenumbers.
	const pnFigure = "functions that load the phonenumbers metadata at init but never parse a number"
	if !r.ran["cold"] || len(r.functions) == 0 {
		rows = append(rows, notMeasured(pnFigure, "none", "—", "section cold skipped"))
	} else {
		var idle, links []string
		for _, f := range r.functions {
			if f.Links {
				links = append(links, f.Function)
				if !f.ParsesPhone {
					idle = append(idle, f.Function)
				}
			}
		}
		row := headRow{Figure: pnFigure, Target: "none", Before: "—", Verdict: verdictMet, Value: "none"}
		if len(idle) > 0 {
			row.Value, row.Verdict = strings.Join(idle, ", "), verdictNotMet
		}
		row.Value += fmt.Sprintf(" (%d of %d link it)", len(links), len(r.functions))
		rows = append(rows, row)
	}
	return rows
}

// loadColumn is one figure of every run of a load profile (runs without it are left out).
func loadColumn(runs []map[string]float64, key string) []float64 {
	var v []float64
	for _, m := range runs {
		if x, ok := m[key]; ok {
			v = append(v, x)
		}
	}
	return v
}

// benchRatio is a benchmark's time per op over another's of the same package, round by round:
// process CPU per op (cpu-ns/op) when both report it, since wall time on a shared machine also
// counts the time other processes hold the cores; ns/op otherwise.
func benchRatio(all []*benchResult, pkg, num, den string) (stat, bool) {
	var n, d *benchResult
	for _, b := range all {
		if !strings.HasSuffix(b.Pkg, pkg) {
			continue
		}
		switch b.Name {
		case num:
			n = b
		case den:
			d = b
		}
	}
	if n == nil || d == nil {
		return stat{}, false
	}
	for _, unit := range []string{"cpu-ns/op", "ns/op"} {
		if len(n.Samples[unit]) > 0 && len(d.Samples[unit]) > 0 {
			return ratioStat(n.Samples[unit], d.Samples[unit]), true
		}
	}
	return stat{}, false
}

// writeHeadline writes the headline table.
func writeHeadline(d *doc, rows []headRow) {
	d.p("## Issue 10's targets")
	d.p("")
	d.p("Each figure of issue 10 (point 3) from this run, min / median / max over its rounds; \"before\" is the " +
		"issue's own measurement when it was filed. A figure meets its target when its worst round does. Call " +
		"counts are counted on the real SDK clients against DynamoDB Local and fauxqs by the tests that assert " +
		"them (`TestDynamoDBCallsPerWebhook`, `TestDynamoDBCallsPerSend`); the sections below give the detail.")
	d.p("")
	d.p("| figure | min / median / max | target | before | verdict |")
	d.p("| --- | --- | --- | --- | --- |")
	for _, r := range rows {
		d.p("| %s | %s | %s | %s | %s |", r.Figure, r.Value, r.Target, r.Before, r.Verdict)
	}
	d.p("")
}

// writeCalls writes the calls section: every unit's calls by operation.
func writeCalls(d *doc, calls map[string][]testenv.CallReport, rounds int) {
	d.p("## Calls per unit of work")
	d.p("")
	d.p("`go test -run '^(TestDynamoDBCallsPerWebhook|TestDynamoDBCallsPerSend)$' -count %d` against the bench's own "+
		"local stack: each request the real DynamoDB and SQS clients send is counted (warm instance caches: a first "+
		"message or request fills them). Per unit of work, min / median / max over the rounds; operations from the "+
		"last round. The outbound test counts DynamoDB only: its queue ports are in-process, and the consumer receives "+
		"and acknowledges its messages through Lambda's event source.", rounds)
	d.p("")
	d.p("| unit of work | DynamoDB calls | of which reads | of which conditional writes | SQS calls | operations | other |")
	d.p("| --- | --- | --- | --- | --- | --- | --- |")
	units := make([]string, 0, len(calls))
	for u := range calls {
		units = append(units, u)
	}
	sort.Slice(units, func(i, j int) bool { return unitOrder(units[i]) < unitOrder(units[j]) })
	for _, u := range units {
		reps := calls[u]
		last := reps[len(reps)-1]
		cell := func(f func(testenv.CallReport) (int, bool)) string {
			if s, ok := perUnit(reps, f); ok {
				return s.String()
			}
			return "not counted"
		}
		ops := testenv.String(last.DDB)
		if len(last.SQS) > 0 {
			ops += "; SQS " + testenv.String(last.SQS)
		}
		var other []string
		for k, v := range last.Extra {
			if v == 0 || k == testenv.ExtraConditionalWrites {
				continue
			}
			other = append(other, fmt.Sprintf("%s %d per %d", k, v, last.Units))
		}
		sort.Strings(other)
		name := u
		if last.Units > 1 {
			name = fmt.Sprintf("%s (per change, %d per POST)", u, last.Units)
		}
		d.p("| %s | %s | %s | %s | %s | %s | %s |", name, cell(ddbCalls), cell(ddbReads), cell(conditionalWrites), cell(sqsCalls), ops, strings.Join(other, "; "))
	}
	d.p("")
}

var unitRank = []string{"inbound-text", "inbound-text-new-customer", "status", "post-100-changes", "outbound-free-form", "outbound-template"}

func unitOrder(u string) string {
	for i, v := range unitRank {
		if v == u {
			return fmt.Sprintf("%02d", i)
		}
	}
	return "99" + u
}
