package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// latencies collects durations; safe for concurrent use. Runs are bounded (thousands of
// samples), so keeping them all is cheaper than a histogram and exact.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d)
	l.mu.Unlock()
}

// summary is a latency distribution.
type summary struct {
	N             int
	P50, P99, Max time.Duration
}

func (l *latencies) summary() summary {
	l.mu.Lock()
	s := slices.Clone(l.all)
	l.mu.Unlock()
	if len(s) == 0 {
		return summary{}
	}
	slices.Sort(s)
	return summary{N: len(s), P50: percentile(s, 50), P99: percentile(s, 99), Max: s[len(s)-1]}
}

// percentile of sorted s (nearest rank).
func percentile(s []time.Duration, p int) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1]
}

func (s summary) String() string {
	if s.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s p99 %s max %s (n=%d)", ms(s.P50), ms(s.P99), ms(s.Max), s.N)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// counters is a concurrent map of named counts (answers by status, errors by kind).
type counters struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counters) add(name string, n int64) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	c.m[name] += n
	c.mu.Unlock()
}

func (c *counters) get(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

func (c *counters) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.m {
		n += v
	}
	return n
}

func (c *counters) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c.m[k]))
	}
	return strings.Join(parts, " ")
}

// metrics are the run's live figures, read by the progress line and the report.
type metrics struct {
	// Webhook POSTs: attempts, accepted (200) and the answers by status (or transport error).
	webhookAttempts atomic.Int64
	webhookAccepted atomic.Int64
	webhookMessages atomic.Int64 // inbound messages in accepted POSTs (duplicates included)
	webhookAnswers  counters
	webhookLatency  latencies // every answered attempt
	webhookGaveUp   atomic.Int64

	// Outbound requests enqueued (accepted by the queue or the admin API).
	enqueued       atomic.Int64
	enqueueErrors  counters
	enqueueLatency latencies

	// Admin API calls besides enqueueing.
	adminErrors counters

	// Sends the fake recorded (polled), and the end-to-end latency enqueue → send.
	sends       atomic.Int64
	sendLatency latencies
}

// rate is n per second over d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
