package metrics_test

import (
	"bytes"
	"encoding/json"
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
