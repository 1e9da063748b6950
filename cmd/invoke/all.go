package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aloro/wa-senders/shared/stack"
)

// expectation is the outcome an event file must produce.
type expectation struct {
	statusCode *int // HTTP response statusCode
	failures   *int // len(batchItemFailures) of an SQS batch response
	// ok alone: the function returned without error.
}

func (x expectation) String() string {
	switch {
	case x.statusCode != nil:
		return fmt.Sprintf("statusCode %d", *x.statusCode)
	case x.failures != nil:
		return fmt.Sprintf("%d batchItemFailures", *x.failures)
	}
	return "ok"
}

// parseExpectation reads one value of the expectations file; sqs says whether the event is an
// SQS batch, which decides what a bare number means.
func parseExpectation(raw json.RawMessage, sqs bool) (expectation, error) {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		if sqs {
			return expectation{failures: &n}, nil
		}
		return expectation{statusCode: &n}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "ok" {
			return expectation{}, nil
		}
		return expectation{}, fmt.Errorf("want a number, \"ok\" or an object, got %q", s)
	}
	var ok map[string]bool
	if json.Unmarshal(raw, &ok) == nil && len(ok) == 1 && ok["ok"] {
		return expectation{}, nil // {"ok": true}: the function returned without error
	}
	var obj map[string]int
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		return expectation{}, fmt.Errorf(`want a number, "ok", {"ok": true}, {"statusCode": n} or {"batchItemFailures": n}, got %s`, raw)
	}
	for k, v := range obj {
		switch k {
		case "statusCode":
			return expectation{statusCode: &v}, nil
		case "batchItemFailures":
			return expectation{failures: &v}, nil
		}
		return expectation{}, fmt.Errorf("unknown expectation key %q", k)
	}
	return expectation{}, nil
}

// isSQSBatch reports whether an event is an SQS event source batch.
func isSQSBatch(event []byte) bool {
	var e struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	return json.Unmarshal(event, &e) == nil && len(e.Records) > 0 && e.Records[0].EventSource == "aws:sqs"
}

// check compares a response with an expectation; "" means it matches.
func check(x expectation, r result) string {
	if r.funcErr != nil {
		return r.funcErr.Error()
	}
	switch {
	case x.statusCode != nil:
		var resp struct {
			StatusCode *int `json:"statusCode"`
		}
		if json.Unmarshal(r.body, &resp) != nil || resp.StatusCode == nil {
			return "response has no statusCode: " + abbreviate(r.body)
		}
		if *resp.StatusCode != *x.statusCode {
			return fmt.Sprintf("statusCode %d, want %d: %s", *resp.StatusCode, *x.statusCode, abbreviate(r.body))
		}
	case x.failures != nil:
		var resp struct {
			BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
		}
		// A null response reports no failures, as Lambda reads it.
		if err := json.Unmarshal(r.body, &resp); err != nil {
			return "response is not an SQS batch response: " + abbreviate(r.body)
		}
		if len(resp.BatchItemFailures) != *x.failures {
			return fmt.Sprintf("%d batchItemFailures, want %d: %s", len(resp.BatchItemFailures), *x.failures, abbreviate(r.body))
		}
	}
	return ""
}

func abbreviate(b []byte) string {
	s := string(bytes.TrimSpace(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// eventCase is one event file to invoke.
type eventCase struct {
	rel    string // path relative to the events directory, slash-separated
	event  []byte
	expect expectation
}

// expectFile is the per-folder expectations file: events/<folder>/expect.json maps each event
// file name of that folder to its expected outcome.
const expectFile = "expect.json"

// loadExpectations reads expectPath when given, else every <dir>/<folder>/expect.json, keyed by
// the event's path relative to dir.
func loadExpectations(dir, expectPath string) (map[string]json.RawMessage, error) {
	read := func(path, prefix string, into map[string]json.RawMessage) error {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read expectations: %w", err)
		}
		var listed map[string]json.RawMessage
		if err := json.Unmarshal(raw, &listed); err != nil {
			return fmt.Errorf("%s: want a JSON object of event path → expectation: %w", path, err)
		}
		for k, v := range listed {
			into[prefix+k] = v
		}
		return nil
	}
	listed := map[string]json.RawMessage{}
	if expectPath != "" {
		return listed, read(expectPath, "", listed)
	}
	folders, err := filepath.Glob(filepath.Join(dir, "*", expectFile))
	if err != nil {
		return nil, err
	}
	if len(folders) == 0 {
		return nil, fmt.Errorf("no %s in the folders of %s", expectFile, dir)
	}
	for _, f := range folders {
		if err := read(f, filepath.Base(filepath.Dir(f))+"/", listed); err != nil {
			return nil, err
		}
	}
	return listed, nil
}

// loadCases reads the expectations and the events directory, and fails on any event not
// listed, any listed file missing, and any bad value.
func loadCases(dir, expectPath string) ([]eventCase, error) {
	listed, err := loadExpectations(dir, expectPath)
	if err != nil {
		return nil, err
	}
	expectAbs, _ := filepath.Abs(expectPath)
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		if abs, _ := filepath.Abs(p); abs == expectAbs || d.Name() == expectFile {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	sort.Strings(files)
	var problems []error
	var cases []eventCase
	seen := map[string]bool{}
	for _, rel := range files {
		seen[rel] = true
		rawX, ok := listed[rel]
		if !ok {
			problems = append(problems, fmt.Errorf("%s is not listed in its %s", rel, expectFile))
			continue
		}
		event, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, fmt.Errorf("read event: %w", err)
		}
		if !json.Valid(event) {
			problems = append(problems, fmt.Errorf("%s is not JSON", rel))
			continue
		}
		x, err := parseExpectation(rawX, isSQSBatch(event))
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", rel, err))
			continue
		}
		cases = append(cases, eventCase{rel: rel, event: event, expect: x})
	}
	for _, rel := range sortedKeys(listed) {
		if !seen[rel] {
			problems = append(problems, fmt.Errorf("%s is listed but there is no such event file", rel))
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return cases, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// runAll is -all: one emulator per function, every event checked.
func runAll(ctx context.Context, o options, stdout, stderr io.Writer) error {
	cases, err := loadCases(o.all, o.expect)
	if err != nil {
		return err
	}
	tmpl, envFile, err := loadInputs(o, stderr)
	if err != nil {
		return err
	}
	byFolder := map[string][]eventCase{}
	for _, c := range cases {
		folder, _, ok := strings.Cut(c.rel, "/")
		if !ok {
			return fmt.Errorf("%s: event files sit in a folder named for their function (for example webhook/)", c.rel)
		}
		byFolder[folder] = append(byFolder[folder], c)
	}
	folderFn := map[string]string{}
	for _, f := range tmpl.Functions {
		folderFn[f.Folder] = f.LogicalID
	}
	for _, folder := range sortedKeys(byFolder) {
		if folderFn[folder] == "" {
			return fmt.Errorf("events in %s/: no function in the template has code folder %q", folder, folder)
		}
	}
	if err := ensureRIE(ctx, o, stderr); err != nil {
		return err
	}

	failed := 0
	for _, folder := range sortedKeys(byFolder) {
		n, err := runFolder(ctx, o, tmpl, envFile, folderFn[folder], byFolder[folder], stdout, stderr)
		if err != nil {
			return err
		}
		failed += n
	}
	fmt.Fprintf(stdout, "%d events, %d failed\n", len(cases), failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d events did not meet their expectation", failed, len(cases))
	}
	return nil
}

// runFolder invokes one function's events under a single emulator and returns how many failed.
func runFolder(ctx context.Context, o options, tmpl *stack.Template, envFile stack.EnvFile, logicalID string,
	cases []eventCase, stdout, stderr io.Writer) (int, error) {
	t, err := prepare(ctx, o, tmpl, envFile, logicalID, stderr)
	if err != nil {
		return 0, err
	}
	emu, err := startEmulator(ctx, o, t, stderr)
	if err != nil {
		return 0, err
	}
	defer emu.stop()
	failed := 0
	for _, c := range cases {
		r, err := emu.invoke(ctx, c.event)
		msg := ""
		if err != nil {
			msg = err.Error()
		} else {
			msg = check(c.expect, r)
		}
		if msg != "" {
			failed++
			fmt.Fprintf(stdout, "FAIL %-40s %s: %s\n", c.rel, logicalID, msg)
			continue
		}
		fmt.Fprintf(stdout, "ok   %-40s %s: %s\n", c.rel, logicalID, c.expect)
	}
	return failed, nil
}
