package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// callsOutput is go test -v output of the counting tests, two rounds.
const callsOutput = `=== RUN   TestDynamoDBCallsPerWebhook
    calls_test.go:107: calls-per-unit: {"unit":"inbound-text","units":1,"ddb":{"UpdateItem":1},"sqs":{"SendMessageBatch":1},"extra":{"sender-list-reads":0,"conditional-writes":1}}
    calls_test.go:107: calls-per-unit: {"unit":"status","units":1,"ddb":{"GetItem":1,"PutItem":1},"sqs":{},"extra":{"sender-list-reads":0,"conditional-writes":1}}
    calls_test.go:107: calls-per-unit: {"unit":"post-100-changes","units":100,"ddb":{"GetItem":40,"PutItem":147,"Query":1,"UpdateItem":60},"sqs":{"SendMessageBatch":6},"extra":{"sender-list-reads":1}}
    calls_test.go:107: calls-per-unit: {"unit":"inbound-text","units":1,"ddb":{"UpdateItem":1,"GetItem":1},"sqs":{"SendMessageBatch":1},"extra":{"conditional-writes":1}}
    calls_test.go:107: calls-per-unit: {"unit":"status","units":1,"ddb":{"UpdateItem":1},"sqs":{},"extra":{"conditional-writes":0}}
    calls_test.go:107: calls-per-unit: {"unit":"post-100-changes","units":100,"ddb":{"PutItem":200,"Query":2},"sqs":{"SendMessageBatch":6},"extra":{"sender-list-reads":2}}
--- PASS: TestDynamoDBCallsPerWebhook (1.07s)
    calls_test.go:159: calls-per-unit: {"unit":"outbound-free-form","units":1,"ddb":{"BatchGetItem":1,"PutItem":1,"TransactWriteItems":2},"sqs":null}
    calls_test.go:159: calls-per-unit: {"unit":"outbound-template","units":1,"ddb":{"BatchGetItem":2,"PutItem":1,"TransactWriteItems":4},"sqs":null}
    calls_test.go:159: calls-per-unit: {broken
`

func TestHeadlineTable(t *testing.T) {
	res := &results{
		ran:   map[string]bool{"calls": true, "go": true, "load": true, "cold": true},
		calls: parseCallReports(strings.NewReader(callsOutput)),
		load: map[string][]map[string]float64{"webhook": {
			{"webhook_messages_per_second_over_floor": 0.7},
			{"webhook_messages_per_second_over_floor": 0.5},
			{"webhook_messages_per_second_over_floor": 0.65},
		}},
		bench:       parseBench(strings.NewReader(sampleOutput)),
		idleConns:   64,
		parallelism: 16,
		functions: []linkFacts{{"WebhookFunction", true, true}, {"ReconcilerFunction", true, false},
			{"SendersFunction", false, false}},
	}
	if n := len(res.calls["inbound-text"]); n != 2 {
		t.Fatalf("%d inbound-text reports, want 2 (the broken line skipped)", n)
	}
	got := map[string]headRow{}
	for _, r := range headlineTable(res) {
		got[r.Figure] = r
	}
	for _, w := range []struct{ prefix, value, verdict string }{
		{"DynamoDB calls per inbound text message (returning", "1.00 / 1.50 / 2.00 (conditional writes 1.00 / 1.00 / 1.00)", verdictNotMet}, // median of two: their mean
		{"SQS calls per inbound text", "1.00 / 1.00 / 1.00", verdictMet},
		{"DynamoDB calls per inbound text message, new customer", "not measured (no report from the counting test)", verdictNotMeasured},
		{"DynamoDB calls per status", "1.00 / 1.50 / 2.00 (reads 0 / 0.50 / 1.00) (conditional writes 0 / 0.50 / 1.00)", verdictNotMet},
		{"DynamoDB calls per change", "2.02 / 2.25 / 2.48", verdictNoTarget},
		{"sender-list reads", "1.00 / 1.50 / 2.00", verdictNotMet},
		{"DynamoDB calls per outbound free-form", "4.00 / 4.00 / 4.00", verdictMet},
		{"DynamoDB calls per outbound template", "7.00 / 7.00 / 7.00", verdictNotMet},
		{"webhook throughput", "0.50 / 0.65 / 0.70", verdictMedianOnly},
		{"handler CPU", "2.50 / 2.50 / 2.50", verdictNotMet}, // 100000 ns / 40000 ns: the sample's one paired round
		{"idle connections", "64 ÷ 16", verdictMet},
		{"functions that load the phonenumbers", "ReconcilerFunction (2 of 3 link it)", verdictNotMet},
	} {
		var row *headRow
		for f, r := range got {
			if strings.HasPrefix(f, w.prefix) {
				row = &r
			}
		}
		if row == nil {
			t.Errorf("no headline %q", w.prefix)
			continue
		}
		if row.Value != w.value || row.Verdict != w.verdict {
			t.Errorf("%s: %q, %q; want %q, %q", w.prefix, row.Value, row.Verdict, w.value, w.verdict)
		}
	}
}

func TestHeadlineTableSkippedSections(t *testing.T) {
	for _, r := range headlineTable(&results{ran: map[string]bool{}}) {
		if strings.HasPrefix(r.Figure, "idle connections") {
			continue
		}
		if r.Verdict != verdictNotMeasured || !strings.Contains(r.Value, "skipped") {
			t.Errorf("%s: %q %q with every section skipped", r.Figure, r.Value, r.Verdict)
		}
	}
}

func TestJudge(t *testing.T) {
	for _, c := range []struct {
		s      stat
		bound  float64
		atMost bool
		want   string
	}{
		{stat{1, 1, 1}, 1, true, verdictMet},
		{stat{1, 1, 2}, 1, true, verdictMedianOnly},
		{stat{1, 2, 2}, 1, true, verdictNotMet},
		{stat{0.6, 0.7, 0.8}, 0.6, false, verdictMet},
		{stat{0.5, 0.7, 0.8}, 0.6, false, verdictMedianOnly},
		{stat{0.3, 0.4, 0.8}, 0.6, false, verdictNotMet},
	} {
		if got := judge(c.s, c.bound, c.atMost); got != c.want {
			t.Errorf("judge(%v, %v, %v) = %q, want %q", c.s, c.bound, c.atMost, got, c.want)
		}
	}
}

func TestParsesPhone(t *testing.T) {
	nm := `  4a1b20 T github.com/nyaruka/phonenumbers.init.0
  4a1c00 T github.com/nyaruka/phonenumbers.GetRegionCodeForNumber
`
	if parsesPhone(nm) {
		t.Error("no parse function, but parsesPhone")
	}
	if !parsesPhone(nm + "  4a2000 T github.com/nyaruka/phonenumbers.parseHelper\n") {
		t.Error("parseHelper present, but not parsesPhone")
	}
	if !parsesPhone(nm + "  4a2000 T github.com/nyaruka/phonenumbers.ParseToNumber\n") {
		t.Error("ParseToNumber present, but not parsesPhone")
	}
}

func TestSettings(t *testing.T) {
	s, err := parseSettings([]string{"-only", "calls,load", "-skip", "load", "-rie-port", "18712"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !s.sections["calls"] || len(s.sections) != 1 || s.riePort != 18712 {
		t.Errorf("sections %v, rie port %d", s.sections, s.riePort)
	}
	if s, _ := parseSettings(nil, io.Discard); len(s.sections) != len(allSections) || s.loadDDB != 18100 {
		t.Errorf("defaults: %v, load ddb port %d", s.sections, s.loadDDB)
	}
	if _, err := parseSettings([]string{"-only", "gobench"}, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown section") {
		t.Errorf("unknown section: %v", err)
	}
	if _, err := parseSettings([]string{"-count", "0"}, io.Discard); err == nil {
		t.Error("-count 0 accepted")
	}
	if _, err := parseSettings([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestWriteCalls(t *testing.T) {
	var d doc
	writeCalls(&d, parseCallReports(strings.NewReader(callsOutput)), 2)
	out := d.String()
	for _, want := range []string{
		"| inbound-text | 1.00 / 1.50 / 2.00 | 0 / 0.50 / 1.00 | 1.00 / 1.00 / 1.00 | 1.00 / 1.00 / 1.00 | GetItem=1 UpdateItem=1; SQS SendMessageBatch=1 |  |",
		"| post-100-changes (per change, 100 per POST) |",
		"sender-list-reads 2 per 100",
		"| outbound-free-form | 4.00 / 4.00 / 4.00 | 1.00 / 1.00 / 1.00 | not counted | not counted |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("calls section lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "| inbound-text |"), strings.Index(out, "| outbound-free-form |"); i < 0 || j < i {
		t.Errorf("units out of order:\n%s", out)
	}
}
