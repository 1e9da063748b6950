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
