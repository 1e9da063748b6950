// Package metrics emits counters in CloudWatch Embedded Metric Format (EMF): a function
// accumulates counts while it handles one request or invocation and flushes them as ONE JSON
// log line, which CloudWatch Logs turns into metrics without any API call on the hot path.
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric this project emits.
const Namespace = "WaSenders"

// Counter names used by the webhook.
const (
	ParkedPayloads      = "ParkedPayloads"
	UnknownFields       = "UnknownFields"
	UnknownMessageTypes = "UnknownMessageTypes"
	UnknownValues       = "UnknownValues"
	UnknownSenders      = "UnknownSenders"
	DuplicateMessages   = "DuplicateMessages"
	ForwardedMessages   = "ForwardedMessages"
	SignatureRejected   = "SignatureRejected"
	// NotApplied counts verified POSTs answered 500 (the change was not applied; Meta retries):
	// the failures the Lambda Errors metric never sees, because the function answered.
	NotApplied = "NotApplied"
)

// Counters accumulates counts for one request. It is safe for concurrent use: the webhook
// applies the changes of one POST in parallel.
type Counters struct {
	mu     sync.Mutex
	counts map[string]int64
}

// NewCounters returns an empty set of counters.
func NewCounters() *Counters { return &Counters{counts: map[string]int64{}} }

// Add adds n to the counter name. A nil *Counters ignores the call, so code paths that are
// run without metrics (tools, fuzzers) need no checks.
func (c *Counters) Add(name string, n int64) {
	if c == nil || n == 0 {
		return
	}
	c.mu.Lock()
	c.counts[name] += n
	c.mu.Unlock()
}

// Inc adds one to the counter name.
func (c *Counters) Inc(name string) { c.Add(name, 1) }

// Get returns the current value of name.
func (c *Counters) Get(name string) int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[name]
}

// Snapshot returns a copy of every counter.
func (c *Counters) Snapshot() map[string]int64 {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Take returns every counter and resets them all, atomically: counts added meanwhile land in
// the next Take, never in two or none.
func (c *Counters) Take() map[string]int64 {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = map[string]int64{}
	return out
}

// Emitter writes EMF lines for one function.
type Emitter struct {
	w        io.Writer
	function string
	mu       sync.Mutex
}

// NewEmitter returns an emitter writing to w (the writer the function's logger writes to, so
// the lines land in the same log stream) with the dimension Function=function.
func NewEmitter(w io.Writer, function string) *Emitter {
	return &Emitter{w: w, function: function}
}

// Flush writes the non-zero counters of c as one EMF line stamped at, and nothing when every
// counter is zero. A nil emitter or writer discards.
func (e *Emitter) Flush(c *Counters, at time.Time) error {
	if e == nil || e.w == nil {
		return nil
	}
	return e.FlushCounts(c.Snapshot(), at)
}

// FlushCounts writes the non-zero counts as one EMF line stamped at, and nothing when every
// count is zero. A nil emitter or writer discards.
func (e *Emitter) FlushCounts(counts map[string]int64, at time.Time) error {
	if e == nil || e.w == nil {
		return nil
	}
	line, err := Line(e.function, counts, at)
	if err != nil || line == nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// One Write per line keeps concurrent requests' lines whole.
	_, err = e.w.Write(line)
	return err
}

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

// Line renders counts as one EMF JSON line ending in a newline, or nil when no count is
// non-zero. Metric names are sorted so the output is deterministic.
func Line(function string, counts map[string]int64, at time.Time) ([]byte, error) {
	names := make([]string, 0, len(counts))
	for n, v := range counts {
		if v != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Sort(names)
	defs := make([]metricDef, len(names))
	doc := make(map[string]any, len(names)+2)
	for i, n := range names {
		if n == "_aws" || n == "Function" {
			return nil, fmt.Errorf("metrics: reserved metric name %q", n)
		}
		defs[i] = metricDef{Name: n, Unit: "Count"}
		doc[n] = counts[n]
	}
	doc["Function"] = function
	doc["_aws"] = awsMeta{
		Timestamp: at.UnixMilli(),
		CloudWatchMetrics: []directive{{
			Namespace:  Namespace,
			Dimensions: [][]string{{"Function"}},
			Metrics:    defs,
		}},
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("metrics: encode: %w", err)
	}
	return append(raw, '\n'), nil
}
