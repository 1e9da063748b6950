package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCallsCountsByOperation(t *testing.T) {
	var bodies []string // the requests are sequential
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
	}))
	defer srv.Close()
	c := &Calls{}
	hc := &http.Client{Transport: c}
	for i, target := range []string{"DynamoDB_20120810.PutItem", "DynamoDB_20120810.PutItem", "AmazonSQS.SendMessage", ""} {
		body := `{"TableName":"t"}`
		if i == 1 {
			body = `{"TableName":"t","ConditionExpression":"attribute_not_exists(pk)"}`
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ops, cond := c.Take()
	if got := String(ops); got != "PutItem=2 SendMessage=1 unknown=1" || cond != 1 {
		t.Errorf("counts %q, %d conditional writes; want 1", got, cond)
	}
	if len(bodies) != 4 || !strings.Contains(bodies[1], "ConditionExpression") {
		t.Errorf("bodies reached the server as %q", bodies)
	}
	if got := c.Reset(); len(got) != 0 {
		t.Errorf("after Reset: %v", got)
	}
}

func TestCallReportRoundTrip(t *testing.T) {
	in := CallReport{Unit: "status", Units: 1, DDB: map[string]int{"GetItem": 1, "UpdateItem": 1}, SQS: map[string]int{}}
	var line string
	rec := &recorder{TB: t, log: func(s string) { line = s }}
	LogCallReport(rec, in)
	got, ok := ParseCallReport("    calls_test.go:12: " + line)
	if !ok || got.Unit != "status" || Total(got.DDB) != 2 || got.Reads() != 1 {
		t.Fatalf("parsed %+v (%v) from %q", got, ok, line)
	}
	if _, ok := ParseCallReport("--- PASS: TestX (0.01s)"); ok {
		t.Error("a line without the marker parsed")
	}
	if _, ok := ParseCallReport(CallReportMarker + "{not json"); ok {
		t.Error("a broken report parsed")
	}
}

// recorder captures what LogCallReport logs.
type recorder struct {
	testing.TB
	log func(string)
}

func (r *recorder) Log(args ...any) { r.log(args[0].(string)) }
func (r *recorder) Helper()         {}
