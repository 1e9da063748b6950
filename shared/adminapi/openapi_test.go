package adminapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vErrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/aloro/wa-senders/shared/adminapi"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/enqueue"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/testenv"
)

// specPath is the admin API's OpenAPI 3.1 document (linked from the README).
const specPath = "openapi/openapi.yaml"

func loadSpec(t *testing.T) (validator.Validator, libopenapi.Document) {
	t.Helper()
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", specPath, err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("document: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	return v, doc
}

// TestOpenAPIDocumentMatchesAnswers drives every documented operation against the real API
// (DynamoDB Local, fauxqs, the Graph fake) and validates each answer, and each well-formed
// request, against the document; an operation the test does not reach fails it, so a route
// added to the document must be exercised here.
func TestOpenAPIDocumentMatchesAnswers(t *testing.T) {
	t.Parallel()
	v, doc := loadSpec(t)
	sq := testenv.SQS(t)
	outURL, _, _ := testenv.Queues(t, sq)
	e := newEnv(t, func(o *adminapi.Options) { o.Enqueuer = enqueue.New(queue.New(sq), outURL) })
	ctx := context.Background()

	covered := map[string]bool{}
	call := func(op, method, path, body string, hdr map[string]string, validRequest bool, want int) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, e.url+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, val := range hdr {
			req.Header.Set(k, val)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, raw, want)
		}
		// The validator reads both bodies again.
		res.Body = io.NopCloser(bytes.NewReader(raw))
		vreq, _ := http.NewRequestWithContext(ctx, method, "http://127.0.0.1:8080"+path, strings.NewReader(body))
		vreq.Header = req.Header.Clone()
		var ok bool
		var verrs []string
		if validRequest {
			ok, verrs = wrap(v.ValidateHttpRequestResponse(vreq, res))
		} else {
			ok, verrs = wrap(v.ValidateHttpResponse(vreq, res))
		}
		if !ok {
			for _, ve := range verrs {
				t.Errorf("%s %s → %d: %s", method, path, res.StatusCode, ve)
			}
		}
		covered[op] = true
		return res
	}
	j := func(s string) string { return s }

	call("createSender", http.MethodPost, "/senders", j(`{"phoneNumber":"+40721234567","phoneNumberId":"1001","wabaId":"2001","type":"external","displayName":"Acme","assistants":["asst-1"]}`), nil, true, 201)
	call("createSender", http.MethodPost, "/senders", j(`{"phoneNumber":"0721","phoneNumberId":"1002","wabaId":"2001","type":"external","displayName":"Acme"}`), nil, true, 400)
	call("createSender", http.MethodPost, "/senders", j(`{"phoneNumber":"+40721234567","phoneNumberId":"1001","wabaId":"2001","type":"external","displayName":"Acme"}`), nil, true, 409)
	call("listSenders", http.MethodGet, "/senders?limit=1", "", nil, true, 200)
	call("listSenders", http.MethodGet, "/senders?cursor=bm9wZQ", "", nil, true, 400)
	res := call("getSender", http.MethodGet, "/senders/1001", "", nil, true, 200)
	tag := res.Header.Get("ETag")
	call("getSender", http.MethodGet, "/senders/9999", "", nil, true, 404)
	call("patchSender", http.MethodPatch, "/senders/1001", j(`{"displayName":"Acme Two"}`), map[string]string{"If-Match": tag}, true, 200)
	call("patchSender", http.MethodPatch, "/senders/1001", j(`{"displayName":"Acme Three"}`), map[string]string{"If-Match": tag}, true, 412)
	call("patchSender", http.MethodPatch, "/senders/1001", j(`{"status":"online"}`), nil, true, 409)
	call("startVerification", http.MethodPost, "/senders/1001/verification", j(`{"method":"sms"}`), nil, true, 200)
	call("confirmVerification", http.MethodPost, "/senders/1001/verification/confirm", j(`{"code":"000000"}`), nil, true, 400)
	call("confirmVerification", http.MethodPost, "/senders/1001/verification/confirm", j(`{"code":"`+testCode+`"}`), nil, true, 200)
	call("patchSender", http.MethodPatch, "/senders/1001", j(`{"displayName":"Acme Renamed"}`), nil, true, 200)
	call("getProfile", http.MethodGet, "/senders/1001/profile", "", nil, true, 200)
	call("patchProfile", http.MethodPatch, "/senders/1001/profile", j(`{"about":"Tyres and wheels","websites":["https://acme.example"],"vertical":"RETAIL"}`), nil, true, 200)
	call("patchProfile", http.MethodPatch, "/senders/1001/profile", j(`{"websites":["ftp://acme.example"]}`), nil, true, 400)
	call("getProfile", http.MethodGet, "/senders/9999/profile", "", nil, true, 404)
	call("getCustomer", http.MethodGet, "/senders/1001/customers/+16505551234", "", nil, true, 200)
	call("getCustomer", http.MethodGet, "/senders/1001/customers/nonsense", "", nil, true, 400)
	call("listTemplates", http.MethodGet, "/templates?wabaId=2001", "", nil, true, 200)
	call("postMessage", http.MethodPost, "/messages", j(`{"id":"req-oa1","senderId":"1001","to":"+16505551234","text":"hello"}`), nil, true, 202)
	call("postMessage", http.MethodPost, "/messages", j(`{"id":"req-oa2","senderId":"1001","to":"0721 234 567","text":"hello"}`), nil, true, 400)
	if _, err := e.store.UpdateRecord(ctx, "req-oa1", func(*outbound.Record) (*outbound.Record, error) {
		return &outbound.Record{ID: "req-oa1", SenderID: "1001", To: "+16505551234", Mode: outbound.ModeFreeform,
			Status: outbound.StatusSent, WAMID: "wamid.oa1", Attempts: 1, CreatedAt: e.now, UpdatedAt: e.now, StatusAt: e.now.Add(time.Second)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	call("getMessage", http.MethodGet, "/messages/req-oa1", "", nil, true, 200)
	call("getMessage", http.MethodGet, "/messages/req-none", "", nil, true, 404)
	call("deleteSender", http.MethodDelete, "/senders/1001", "", map[string]string{"If-Match": `"stale"`}, true, 412)
	call("deleteSender", http.MethodDelete, "/senders/1001", "", nil, true, 200)

	model, errs := doc.BuildV3Model()
	if errs != nil {
		t.Fatal(errs)
	}
	var missing []string
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			if !covered[op.OperationId] {
				missing = append(missing, fmt.Sprintf("%s %s (%s)", strings.ToUpper(method), path, op.OperationId))
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented operations not exercised: %v", missing)
	}
}

// wrap renders the validator's errors with their schema details.
func wrap(ok bool, errs []*vErrors.ValidationError) (bool, []string) {
	var out []string
	for _, e := range errs {
		s := e.Message + ": " + e.Reason
		for _, se := range e.SchemaValidationErrors {
			s += fmt.Sprintf(" [%s %s]", se.KeywordLocation, se.Reason)
		}
		out = append(out, s)
	}
	return ok, out
}
