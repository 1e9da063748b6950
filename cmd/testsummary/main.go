// Command testsummary reads `go test -json` on stdin and writes a readable report: one line per
// package, the full output of every failed test (and of packages that failed outside a test or
// did not build), the skipped tests with their reason, and as the very last line
//
//	N passed, N failed, N skipped
//
// Subtests count like tests. It exits 1 when anything failed or did not build.
//
//	go test -json ./... | go run ./cmd/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	ok, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail events
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

type testState struct {
	output   strings.Builder
	finished bool
}

type pkgState struct {
	output   strings.Builder // output outside any test
	tests    map[string]*testState
	result   string // pass, fail, skip
	elapsed  float64
	noTests  bool
	failedIn []string // failed tests, in order
	skipped  []string
}

type summary struct {
	pkgs     map[string]*pkgState
	order    []string
	builds   map[string]*strings.Builder // build output by import path
	buildBad []string
	passed   int
	failed   int
	skipped  int
	stray    []string // non-JSON lines
}

func (s *summary) pkg(name string) *pkgState {
	p, ok := s.pkgs[name]
	if !ok {
		p = &pkgState{tests: map[string]*testState{}}
		s.pkgs[name] = p
		s.order = append(s.order, name)
	}
	return p
}

// summarize reads the stream and writes the report; ok is false when anything failed.
func summarize(r io.Reader, w io.Writer) (ok bool, err error) {
	s := &summary{pkgs: map[string]*pkgState{}, builds: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// go vet findings and some build errors arrive as plain text.
			s.stray = append(s.stray, string(line))
			continue
		}
		s.add(e)
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read go test output: %w", err)
	}
	return s.report(w), nil
}

func (s *summary) add(e event) {
	switch e.Action {
	case "build-output":
		b, ok := s.builds[e.ImportPath]
		if !ok {
			b = &strings.Builder{}
			s.builds[e.ImportPath] = b
		}
		b.WriteString(e.Output)
		return
	case "build-fail":
		s.buildBad = append(s.buildBad, e.ImportPath)
		return
	}
	if e.Package == "" {
		return
	}
	p := s.pkg(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			if strings.HasPrefix(e.Output, "?   \t") || strings.Contains(e.Output, "[no test files]") {
				p.noTests = true
			}
			p.output.WriteString(e.Output)
		case "pass", "fail", "skip":
			p.result, p.elapsed = e.Action, e.Elapsed
		}
		return
	}
	t, ok := p.tests[e.Test]
	if !ok {
		t = &testState{}
		p.tests[e.Test] = t
	}
	switch e.Action {
	case "output":
		t.output.WriteString(e.Output)
	case "pass":
		t.finished = true
		s.passed++
	case "fail":
		t.finished = true
		s.failed++
		p.failedIn = append(p.failedIn, e.Test)
	case "skip":
		t.finished = true
		s.skipped++
		p.skipped = append(p.skipped, e.Test)
	}
}

func (s *summary) report(w io.Writer) bool {
	ok := true
	for _, line := range s.stray {
		fmt.Fprintln(w, line)
	}
	sort.Strings(s.buildBad)
	for _, path := range s.buildBad {
		ok = false
		fmt.Fprintf(w, "\nBUILD FAILED %s\n", path)
		if b := s.builds[path]; b != nil {
			fmt.Fprint(w, indent(b.String()))
		}
	}
	for _, name := range s.order {
		p := s.pkgs[name]
		// Tests still running when the package failed (panic, timeout) never finish: they failed.
		var unfinished []string
		for tn, t := range p.tests {
			if !t.finished && p.result == "fail" {
				unfinished = append(unfinished, tn)
			}
		}
		sort.Strings(unfinished)
		for _, tn := range unfinished {
			s.failed++
			p.failedIn = append(p.failedIn, tn)
		}
		switch {
		case p.result == "fail":
			ok = false
			fmt.Fprintf(w, "FAIL  %s (%.1fs)\n", name, p.elapsed)
		case p.noTests:
			continue
		case p.result == "":
			ok = false
			fmt.Fprintf(w, "FAIL  %s (no result: did the test binary crash?)\n", name)
		default:
			fmt.Fprintf(w, "ok    %s (%.1fs)\n", name, p.elapsed)
		}
		for _, tn := range p.skipped {
			if reason := skipReason(p.tests[tn].output.String()); reason != "" {
				fmt.Fprintf(w, "  skip %s: %s\n", tn, reason)
			} else {
				fmt.Fprintf(w, "  skip %s\n", tn)
			}
		}
		for _, tn := range p.failedIn {
			fmt.Fprintf(w, "  --- FAIL %s\n", tn)
			fmt.Fprint(w, indent(p.tests[tn].output.String()))
		}
		if p.result == "fail" && len(p.failedIn) == 0 {
			// Failed outside any test: TestMain, init, a build error in the test files.
			fmt.Fprint(w, indent(p.output.String()))
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	return ok && s.failed == 0
}

// skipReason finds the t.Skip message in a skipped test's output.
func skipReason(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		lines = append(lines, t)
	}
	return strings.Join(lines, " ")
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "      " + strings.ReplaceAll(s, "\n", "\n      ") + "\n"
}
