package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Calls counts the requests an AWS SDK client sends through it, by operation (the operation
// named in the X-Amz-Target header, as the DynamoDB and SQS JSON protocols carry it), and the
// DynamoDB writes among them that carry a condition. Set it as the client's HTTP transport:
// every attempt is counted, retries included, since each is a request paid for.
type Calls struct {
	// Base sends the requests (http.DefaultTransport when nil).
	Base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
	cond int
}

// writeOps are the DynamoDB operations that write.
var writeOps = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "TransactWriteItems": true, "BatchWriteItem": true}

// RoundTrip counts r and sends it.
func (c *Calls) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	if op == "" {
		op = "unknown"
	}
	conditional := false
	if writeOps[op] && r.Body != nil {
		// The body is read once and handed on unchanged (the signature covers its bytes).
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		conditional = bytes.Contains(b, []byte(`"ConditionExpression"`))
	}
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
	if conditional {
		c.cond++
	}
	c.mu.Unlock()
	base := c.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// Reset returns the counts since the last Reset and starts again from zero.
func (c *Calls) Reset() map[string]int {
	out, _ := c.Take()
	return out
}

// Take returns the counts since the last Reset (or Take) and how many of the writes among them
// carried a ConditionExpression (a transaction counts once if any of its items does), and
// starts again from zero.
func (c *Calls) Take() (ops map[string]int, conditionalWrites int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, cond := c.n, c.cond
	if out == nil {
		out = map[string]int{}
	}
	c.n, c.cond = map[string]int{}, 0
	return out, cond
}

// CallReportMarker starts the log line of a CallReport (cmd/bench finds it in go test -v output).
const CallReportMarker = "calls-per-unit: "

// CallReport is what one unit of work cost in calls to AWS services, as a counting test
// measured it: DynamoDB and SQS calls by operation, for Units units of work (a 100-change POST
// is one POST and 100 changes). A nil map means the test did not count that service.
type CallReport struct {
	Unit  string         `json:"unit"`
	Units int            `json:"units"`
	DDB   map[string]int `json:"ddb"`
	SQS   map[string]int `json:"sqs"`
	// Extra holds named counts beyond the two services: ExtraConditionalWrites,
	// "sender-list-reads".
	Extra map[string]int `json:"extra,omitempty"`
}

// ExtraConditionalWrites names, in CallReport.Extra, the DynamoDB writes that carried a
// condition (Calls.Take).
const ExtraConditionalWrites = "conditional-writes"

// readOps are the DynamoDB operations that read.
var readOps = map[string]bool{"GetItem": true, "BatchGetItem": true, "Query": true, "Scan": true, "TransactGetItems": true}

// Total sums the counts of m.
func Total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Reads is how many of the DynamoDB calls read.
func (r CallReport) Reads() int {
	n := 0
	for op, v := range r.DDB {
		if readOps[op] {
			n += v
		}
	}
	return n
}

// String lists the operations of m in a stable order ("GetItem=1 PutItem=2").
func String(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+strconv.Itoa(v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// LogCallReport logs r as one line cmd/bench reads back with ParseCallReport: the figures of
// BENCHMARKS.md come from the very tests that assert them.
func LogCallReport(t testing.TB, r CallReport) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(CallReportMarker + string(b))
}

// ParseCallReport reads a CallReport from a line of go test -v output (or false when the line
// holds none).
func ParseCallReport(line string) (CallReport, bool) {
	var r CallReport
	_, rest, ok := strings.Cut(line, CallReportMarker)
	if !ok {
		return r, false
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &r); err != nil || r.Unit == "" {
		return r, false
	}
	return r, true
}
