package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// benchPackages lists the packages of the module whose tests declare benchmarks.
func benchPackages(ctx context.Context, repo string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-f", "{{.ImportPath}}|{{.Dir}}", "./...")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err == nil && bytes.Contains(b, []byte("\nfunc Benchmark")) {
				pkgs = append(pkgs, path)
				break
			}
		}
	}
	return pkgs, nil
}

// benchResult is one benchmark's samples, by unit ("ns/op", "B/op", "sends/s", …).
type benchResult struct {
	Pkg, Name string
	Samples   map[string][]float64
	order     int
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

// parseBench reads `go test -bench` output.
func parseBench(r io.Reader) []*benchResult {
	byKey := map[string]*benchResult{}
	var out []*benchResult
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := pkg + " " + m[1]
		br := byKey[key]
		if br == nil {
			br = &benchResult{Pkg: pkg, Name: m[1], Samples: map[string][]float64{}, order: len(out)}
			byKey[key] = br
			out = append(out, br)
		}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			br.Samples[f[i+1]] = append(br.Samples[f[i+1]], v)
		}
	}
	return out
}

// stat is min / median / max.
type stat struct{ Min, Med, Max float64 }

func statOf(v []float64) stat {
	if len(v) == 0 {
		return stat{}
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{s[0], med, s[len(s)-1]}
}

// ratioStat divides a's samples by b's, run by run (the i-th sample of each comes from the
// same -count round), and summarises the ratios.
func ratioStat(a, b []float64) stat {
	n := min(len(a), len(b))
	var r []float64
	for i := range n {
		if b[i] != 0 {
			r = append(r, a[i]/b[i])
		}
	}
	return statOf(r)
}

// floorPairs pairs each benchmark with the floor measured next to it in the same package: a
// benchmark whose name contains "Floor" is the floor of every benchmark of its package (not a
// floor itself) whose name ends with what follows "Floor" or, for a sub-benchmark, with the
// floor's last path element ("BenchmarkFloorX/text" and "BenchmarkFloorText" are both floors
// of "BenchmarkPOSTText" and "BenchmarkHandlerOnly/text").
func floorPairs(all []*benchResult) [][2]*benchResult {
	var pairs [][2]*benchResult
	for _, f := range all {
		i := strings.Index(f.Name, "Floor")
		if i < 0 {
			continue
		}
		sub := strings.ToLower(f.Name[i+len("Floor"):])
		if j := strings.LastIndexByte(f.Name, '/'); j >= 0 {
			sub = strings.ToLower(f.Name[j+1:])
		}
		if sub == "" {
			continue
		}
		for _, b := range all {
			if b.Pkg != f.Pkg || strings.Contains(b.Name, "Floor") {
				continue
			}
			// A whole word of the name: after a "/" or starting with a capital.
			if k := len(b.Name) - len(sub); k > 0 && strings.HasSuffix(strings.ToLower(b.Name), sub) &&
				(b.Name[k-1] == '/' || isUpper(b.Name[k])) {
				pairs = append(pairs, [2]*benchResult{b, f})
			}
		}
	}
	return pairs
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func (s stat) String() string {
	return fmtNum(s.Min) + " / " + fmtNum(s.Med) + " / " + fmtNum(s.Max)
}

// headline is one figure the webhook's targets are stated in: a benchmark's metric, or its
// ratio to another benchmark of the same package measured in the same rounds. invert turns a
// ratio of times into one of rates.
type headline struct {
	label, target string
	pkg           string
	num, numUnit  string
	den           string // "" for a plain metric
	invert        bool
}

var headlines = []headline{
	{label: "webhook throughput ÷ raw conditional writes (one POST, one write at a time)", target: "≥ 0.6 is judged under load (top table)",
		pkg: "shared/webhook", num: "BenchmarkPOSTText", numUnit: "ns/op", den: "BenchmarkFloorConditionalWrite", invert: true},
	{label: "handler CPU (no I/O) ÷ HMAC + generic decode, one text message", target: "≤ 1.5",
		pkg: "shared/webhook", num: "BenchmarkHandlerOnly/text", numUnit: "cpu-ns/op", den: "BenchmarkFloorText"},
	{label: "DynamoDB calls per text message, returning customer (warm instance)", target: "1",
		pkg: "shared/webhook", num: "BenchmarkPOSTText", numUnit: "ddb-req/msg"},
	{label: "SQS calls per text message", target: "1",
		pkg: "shared/webhook", num: "BenchmarkPOSTText", numUnit: "sqs-req/op"},
	{label: "DynamoDB calls per text message, new customer (alias both ways)", target: "",
		pkg: "shared/webhook", num: "BenchmarkPOSTTextNewCustomer", numUnit: "ddb-req/msg"},
	{label: "DynamoDB calls per status of a message we sent (biz_opaque_callback_data)", target: "1",
		pkg: "shared/webhook", num: "BenchmarkPOSTStatus", numUnit: "ddb-req/msg"},
	{label: "DynamoDB calls per message of a 100-change POST (60 messages, 30 statuses, 10 management)", target: "",
		pkg: "shared/webhook", num: "BenchmarkPOSTBatch100", numUnit: "ddb-req/msg"},
}

// headlineRows computes the headlines found in results: label, figure (min / median / max), target.
func headlineRows(results []*benchResult) [][3]string {
	find := func(pkg, name string) *benchResult {
		for _, r := range results {
			if r.Name == name && strings.HasSuffix(r.Pkg, pkg) {
				return r
			}
		}
		return nil
	}
	var rows [][3]string
	for _, h := range headlines {
		n := find(h.pkg, h.num)
		if n == nil || len(n.Samples[h.numUnit]) == 0 {
			continue
		}
		if h.den == "" {
			rows = append(rows, [3]string{h.label, statOf(n.Samples[h.numUnit]).String(), h.target})
			continue
		}
		d := find(h.pkg, h.den)
		if d == nil || len(d.Samples[h.numUnit]) == 0 {
			continue
		}
		a, b := n.Samples[h.numUnit], d.Samples[h.numUnit]
		if h.invert {
			a, b = b, a
		}
		rows = append(rows, [3]string{h.label, ratioStat(a, b).String(), h.target})
	}
	return rows
}
