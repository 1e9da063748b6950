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
	"strconv"
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
	if c == nil {
		return nil
	}
	c.mu.Lock()
	line, err := Line(e.function, c.counts, at)
	c.mu.Unlock()
	return e.write(line, err)
}

// FlushCounts writes the non-zero counts as one EMF line stamped at, and nothing when every
// count is zero. A nil emitter or writer discards.
func (e *Emitter) FlushCounts(counts map[string]int64, at time.Time) error {
	if e == nil || e.w == nil {
		return nil
	}
	return e.write(Line(e.function, counts, at))
}

// write writes one rendered line, if any.
func (e *Emitter) write(line []byte, err error) error {
	if err != nil || line == nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// One Write per line keeps concurrent requests' lines whole.
	_, err = e.w.Write(line)
	return err
}

// Line renders counts as one EMF JSON line ending in a newline, or nil when no count is
// non-zero. Metric names are sorted so the output is deterministic.
func Line(function string, counts map[string]int64, at time.Time) ([]byte, error) {
	var room [16]string // a POST counts a few metrics: no allocation for the names
	names := room[:0]
	for n, v := range counts {
		if v == 0 {
			continue
		}
		if n == "_aws" || n == "Function" {
			return nil, fmt.Errorf("metrics: reserved metric name %q", n)
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil, nil
	}
	// Written by hand, once per POST on the webhook's hot path: the bytes are those json.Marshal
	// gives the document (keys sorted; TestLineIsJSONMarshal holds the two together).
	names = append(names, "Function", "_aws")
	slices.Sort(names)
	b := make([]byte, 0, 256+64*len(names))
	b = append(b, '{')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
		b = append(b, ':')
		switch n {
		case "Function":
			b = appendString(b, function)
		case "_aws":
			b = append(b, `{"Timestamp":`...)
			b = strconv.AppendInt(b, at.UnixMilli(), 10)
			b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
			b = appendString(b, Namespace)
			b = append(b, `,"Dimensions":[["Function"]],"Metrics":[`...)
			k := 0
			for _, m := range names {
				if m == "Function" || m == "_aws" {
					continue
				}
				if k > 0 {
					b = append(b, ',')
				}
				k++
				b = append(b, `{"Name":`...)
				b = appendString(b, m)
				b = append(b, `,"Unit":"Count"}`...)
			}
			b = append(b, `]}]}`...)
		default:
			b = strconv.AppendInt(b, counts[n], 10)
		}
	}
	return append(b, '}', '\n'), nil
}

// appendString appends s as json.Marshal encodes it: plain when it needs no escape (metric and
// function names), through json.Marshal otherwise.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
