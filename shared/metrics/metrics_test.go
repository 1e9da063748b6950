package metrics_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/metrics"
)

func TestFlushWritesOneEMFLine(t *testing.T) {
	t.Parallel()
	c := metrics.NewCounters()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.Inc(metrics.ForwardedMessages) }()
	}
	wg.Wait()
	c.Add(metrics.ParkedPayloads, 2)
	c.Add(metrics.UnknownFields, 0)

	var buf bytes.Buffer
	e := metrics.NewEmitter(&buf, "webhook")
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if err := e.Flush(c, at); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("want one line, got %d: %s", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal(lines[0], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Function":          "webhook",
		"ForwardedMessages": 50.0,
		"ParkedPayloads":    2.0,
		"_aws": map[string]any{
			"Timestamp": float64(at.UnixMilli()),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  metrics.Namespace,
				"Dimensions": []any{[]any{"Function"}},
				"Metrics": []any{
					map[string]any{"Name": "ForwardedMessages", "Unit": "Count"},
					map[string]any{"Name": "ParkedPayloads", "Unit": "Count"},
				},
			}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("EMF line (-want +got):\n%s", d)
	}
}

func TestFlushNothingWhenZero(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := metrics.NewEmitter(&buf, "webhook").Flush(metrics.NewCounters(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %q for zero counters", buf.String())
	}
	var nilCounters *metrics.Counters
	nilCounters.Inc("x") // must not panic
	if nilCounters.Get("x") != 0 {
		t.Fatal("nil counters counted")
	}
}

func TestReservedName(t *testing.T) {
	t.Parallel()
	if _, err := metrics.Line("f", map[string]int64{"_aws": 1}, time.Now()); err == nil {
		t.Fatal("reserved name accepted")
	}
}

// TestTakeResets: what Take returns is gone from the counters, and a count added after it lands
// in the next Take, never in both.
func TestTakeResets(t *testing.T) {
	c := metrics.NewCounters()
	c.Add("Sent", 2)
	first := c.Take()
	c.Inc("Sent")
	second := c.Take()
	if first["Sent"] != 2 || second["Sent"] != 1 || len(c.Take()) != 0 {
		t.Errorf("takes = %v, %v; want 2 then 1 then nothing", first, second)
	}
	var nilCounters *metrics.Counters
	if nilCounters.Take() != nil {
		t.Error("a nil *Counters took something")
	}
}

// TestLineIsJSONMarshal holds Line to the bytes json.Marshal gives the same document.
func TestLineIsJSONMarshal(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 12, 0, 0, 123e6, time.UTC)
	for _, tc := range []struct {
		function string
		counts   map[string]int64
	}{
		{"webhook", map[string]int64{metrics.ForwardedMessages: 1}},
		{"webhook", map[string]int64{metrics.ForwardedMessages: 60, metrics.DuplicateMessages: 2, metrics.UnknownFields: 0, metrics.NotApplied: -1}},
		{"outbound", map[string]int64{"Refused_131026": 3, "Sent": 1 << 40, "a": 1, "Zebra": 2, "_x": 4, "Éclair": 5}},
		{"odd <name> & \"quotes\"", map[string]int64{"tab\there": 1, "back\\slash": 2, "<b>": 3, "\u2028": 4, "bad\xff": 5}},
	} {
		got, err := metrics.Line(tc.function, tc.counts, at)
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceLine(t, tc.function, tc.counts, at); string(got) != string(want) {
			t.Errorf("Line(%q, %v):\n got %s\nwant %s", tc.function, tc.counts, got, want)
		}
	}
}

// referenceLine is the EMF document through json.Marshal.
func referenceLine(t *testing.T, function string, counts map[string]int64, at time.Time) []byte {
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string      `json:"Namespace"`
		Dimensions [][]string  `json:"Dimensions"`
		Metrics    []metricDef `json:"Metrics"`
	}
	type awsMeta struct {
		Timestamp         int64       `json:"Timestamp"`
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
	}
	var names []string
	for n, v := range counts {
		if v != 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	doc := map[string]any{"Function": function}
	var defs []metricDef
	for _, n := range names {
		defs = append(defs, metricDef{Name: n, Unit: "Count"})
		doc[n] = counts[n]
	}
	doc["_aws"] = awsMeta{Timestamp: at.UnixMilli(), CloudWatchMetrics: []directive{{
		Namespace: metrics.Namespace, Dimensions: [][]string{{"Function"}}, Metrics: defs}}}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return append(raw, '\n')
}
