package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name     string
		input    string
		wantOK   bool
		wantLast string
		contains []string
		absent   []string
	}{
		{
			name:     "all pass",
			input:    "testdata/pass.jsonl",
			wantOK:   true,
			wantLast: "1 passed, 0 failed, 0 skipped",
			contains: []string{"ok    example.com/tsfix/b"},
		},
		{
			// Recorded from a module with a failing test, a failing subtest, a skip, a build
			// failure, a panic and a package without tests.
			name:     "mixed",
			input:    "testdata/mixed.jsonl",
			wantOK:   false,
			wantLast: "4 passed, 4 failed, 1 skipped",
			contains: []string{
				"BUILD FAILED example.com/tsfix/c",
				"cannot use \"x\"",
				"--- FAIL TestFail",
				"boom: want 1, got 2",
				"--- FAIL TestSub/bad",
				"skip TestSkip: a_test.go:7: integration test: set WA_INTEGRATION=1",
				"panic: kaboom",
			},
			absent: []string{"tsfix/e", "--- FAIL TestPass"},
		},
		{
			name:     "empty input",
			input:    "",
			wantOK:   true,
			wantLast: "0 passed, 0 failed, 0 skipped",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []byte
			if tc.input != "" {
				var err error
				if in, err = os.ReadFile(tc.input); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			ok, err := summarize(bytes.NewReader(in), &out)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK {
				t.Errorf("ok = %v, want %v", ok, tc.wantOK)
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if last := lines[len(lines)-1]; last != tc.wantLast {
				t.Errorf("last line = %q, want %q", last, tc.wantLast)
			}
			for _, c := range tc.contains {
				if !strings.Contains(out.String(), c) {
					t.Errorf("output lacks %q:\n%s", c, out.String())
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out.String(), a) {
					t.Errorf("output has %q:\n%s", a, out.String())
				}
			}
		})
	}
}

func TestUnfinishedTestInFailedPackageCounts(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestHang"}
{"Action":"output","Package":"p","Test":"TestHang","Output":"panic: test timed out after 1s\n"}
{"Action":"fail","Package":"p","Elapsed":1}
vet: p/x.go:3: something
`
	var out bytes.Buffer
	ok, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Error("ok = true for a failed package")
	}
	for _, want := range []string{"--- FAIL TestHang", "timed out", "vet: p/x.go:3: something", "0 passed, 1 failed, 0 skipped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
