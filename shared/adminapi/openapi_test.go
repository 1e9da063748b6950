package adminapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vErrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/aloro/wa-senders/shared/adminapi"
	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/enqueue"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/store"
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
	e := newStackEnv(t, func(o *adminapi.Options) { o.Enqueuer = enqueue.New(queue.New(sq), outURL) })
	ctx := context.Background()

	covered := map[string]bool{}
	// base is the API the next calls go to: e, then the pool's, then the onboarding one's.
	base := e.url
	call := func(op, method, path, body string, hdr map[string]string, validRequest bool, want int) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
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
		res.Body = io.NopCloser(bytes.NewReader(raw))
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

	// Without an onboarding service or a pool those routes answer 501.
	call("startOnboarding", http.MethodPost, "/onboardings", j(`{"code":"c","wabaId":"2801","businessId":"1801","type":"external"}`), nil, true, 501)
	call("listNumbers", http.MethodGet, "/numbers", "", nil, true, 501)

	// Platform numbers: the pool on DynamoDB Local, the carrier fake, the Graph fake.
	pe, _ := newPoolEnv(t)
	base = pe.url
	res = call("availableNumbers", http.MethodGet, "/numbers/available?country=RO&kind=mobile&limit=3", "", nil, true, 200)
	var offers struct {
		Numbers []struct {
			PhoneNumber string `json:"phoneNumber"`
		} `json:"numbers"`
	}
	if err := json.NewDecoder(res.Body).Decode(&offers); err != nil || len(offers.Numbers) < 2 {
		t.Fatalf("offers: %v %+v", err, offers)
	}
	numA, numB := offers.Numbers[0].PhoneNumber, offers.Numbers[1].PhoneNumber
	call("availableNumbers", http.MethodGet, "/numbers/available?country=ZZ", "", nil, true, 400)
	call("buyNumber", http.MethodPost, "/numbers", j(`{"requestId":"oa-buy-1","phoneNumber":"`+numA+`"}`), nil, true, 201)
	call("buyNumber", http.MethodPost, "/numbers", j(`{"requestId":"oa-buy-2","phoneNumber":"0721000001"}`), nil, true, 400)
	call("buyNumber", http.MethodPost, "/numbers", j(`{"requestId":"oa-buy-1","phoneNumber":"`+numB+`"}`), nil, true, 409)
	pe.waitNumber("/numbers/"+numA, "verified")
	call("getNumber", http.MethodGet, "/numbers/"+numA, "", nil, true, 200)
	call("getNumber", http.MethodGet, "/numbers/+40721999999", "", nil, true, 404)
	call("verifyNumber", http.MethodPost, "/numbers/"+numA+"/verification", j(`{}`), nil, true, 409)
	call("verifyNumber", http.MethodPost, "/numbers/"+numA+"/verification", j(`{"method":"fax"}`), nil, false, 400)
	call("verifyNumber", http.MethodPost, "/numbers/+40721999999/verification", j(`{"method":"sms"}`), nil, true, 404)
	claim := `{"businessId":"777000111","wabaId":"102290129340398","phoneNumberId":"106540352299001","displayName":"Lucky Shrub","assistants":["asst-1"],"pin":"246810"}`
	call("claimNumber", http.MethodPost, "/numbers/"+numA+"/claim", j(claim), nil, true, 200)
	call("claimNumber", http.MethodPost, "/numbers/"+numA+"/claim", j(`{"businessId":"777000222","wabaId":"102290129340399","phoneNumberId":"106540352299002","displayName":"Other"}`), nil, true, 409)
	call("claimNumber", http.MethodPost, "/numbers/"+numA+"/claim", j(`{"businessId":"1","wabaId":"2","phoneNumberId":"3","displayName":"x","pin":"12"}`), nil, false, 400)
	call("claimNumber", http.MethodPost, "/numbers/+40721999999/claim", j(`{"businessId":"1","wabaId":"2","phoneNumberId":"3","displayName":"x"}`), nil, true, 404)
	// A code Meta sends nowhere leaves the number verifying: starting over is allowed.
	pe.fake.SetCodeSender(nil)
	call("buyNumber", http.MethodPost, "/numbers", j(`{"requestId":"oa-buy-3","phoneNumber":"`+numB+`"}`), nil, true, 201)
	pe.waitNumber("/numbers/"+numB, "verifying")
	call("verifyNumber", http.MethodPost, "/numbers/"+numB+"/verification", j(`{"method":"voice"}`), nil, true, 202)
	call("listNumbers", http.MethodGet, "/numbers", "", nil, true, 200)

	// Onboardings on the credentials vault (local key) and the Graph fake's Embedded Signup.
	ob := newOnboardingAPI(t)
	base = ob.url
	b := graphfake.Business{ID: "1801", WABAID: "2801", PhoneNumberIDs: []string{"3801"}, VerifiedName: "Oapi Shop"}
	code := ob.fake.AddBusiness(b)
	call("startOnboarding", http.MethodPost, "/onboardings", j(`{"wabaId":"2801","businessId":"1801","type":"external"}`), nil, false, 400)
	res = call("startOnboarding", http.MethodPost, "/onboardings", j(`{"code":"`+code+`","wabaId":"2801","phoneNumberId":"3801","businessId":"1801","type":"external","displayName":"Oapi Shop","assistants":["asst-1"]}`), nil, true, 202)
	var started struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.NewDecoder(res.Body).Decode(&started); err != nil || started.ID == "" || started.Status != "done" {
		t.Fatalf("onboarding: %v %+v", err, started)
	}
	call("getOnboarding", http.MethodGet, "/onboardings/"+started.ID, "", nil, true, 200)
	call("getOnboarding", http.MethodGet, "/onboardings/nope", "", nil, true, 404)
	call("retryOnboarding", http.MethodPost, "/onboardings/"+started.ID+"/retry", "", nil, true, 202)
	call("retryOnboarding", http.MethodPost, "/onboardings/nope/retry", "", nil, true, 404)
	// A code Meta does not know fails the exchange: a retry cannot help.
	res = call("startOnboarding", http.MethodPost, "/onboardings", j(`{"code":"unknown-oapi-code","wabaId":"2802","businessId":"1802","type":"external"}`), nil, true, 202)
	var failed struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&failed); err != nil || failed.ID == "" {
		t.Fatalf("failed onboarding: %v", err)
	}
	call("retryOnboarding", http.MethodPost, "/onboardings/"+failed.ID+"/retry", "", nil, true, 409)
	call("setSenderPIN", http.MethodPost, "/senders/3801/pin", j(`{"pin":"135790"}`), nil, true, 200)
	call("setSenderPIN", http.MethodPost, "/senders/3801/pin", j(`{}`), nil, true, 200)
	call("setSenderPIN", http.MethodPost, "/senders/3801/pin", j(`{"pin":"12ab56"}`), nil, false, 400)
	call("setSenderPIN", http.MethodPost, "/senders/3899/pin", j(`{}`), nil, true, 404)
	tok, err := ob.graph.ExchangeCode(ctx, graphfake.DefaultAppID, graphfake.DefaultAppSecret, ob.fake.AddBusiness(b))
	if err != nil {
		t.Fatal(err)
	}
	call("putBusinessToken", http.MethodPut, "/businesses/1801/token", j(`{"token":"`+tok+`"}`), nil, true, 204)
	call("putBusinessToken", http.MethodPut, "/businesses/1801/token", j(`{"token":"not-a-token-Zx9"}`), nil, true, 400)
	call("putBusinessToken", http.MethodPut, "/businesses/1801/token", j(`{"token":""}`), nil, false, 400)
	if kept, _ := ob.vault.PIN(ctx, "3801"); kept == "" || kept == "135790" {
		t.Error("the generated PIN was not kept")
	}

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

// TestOpenAPIDocumentCoversEndpoints fails when the handler serves an operation (from the table
// it routes on) that the document lacks, or the document names one the handler does not serve.
func TestOpenAPIDocumentCoversEndpoints(t *testing.T) {
	t.Parallel()
	_, doc := loadSpec(t)
	model, errs := doc.BuildV3Model()
	if errs != nil {
		t.Fatal(errs)
	}
	documented := map[string]bool{}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, ep := range adminapi.Endpoints() {
		served[ep.Method+" "+ep.Pattern] = true
	}
	if !served["GET /senders"] || !served["POST /numbers/{e164}/claim"] {
		t.Fatalf("Endpoints() misses routes the handler serves: %v", served)
	}
	var undocumented, unserved []string
	for k := range served {
		if !documented[k] {
			undocumented = append(undocumented, k)
		}
	}
	for k := range documented {
		if !served[k] {
			unserved = append(unserved, k)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unserved)
	if len(undocumented) > 0 {
		t.Errorf("served but not in %s: %v", specPath, undocumented)
	}
	if len(unserved) > 0 {
		t.Errorf("in %s but not served: %v", specPath, unserved)
	}
}

// onboardingAPI is the admin API with onboarding: the credentials vault on a local key, the
// Graph client resolving business tokens through it, the Graph fake's Embedded Signup.
type onboardingAPI struct {
	url   string
	fake  *graphfake.Fake
	graph *graph.Client
	vault *credentials.Vault
}

func newOnboardingAPI(t *testing.T) *onboardingAPI {
	t.Helper()
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	st := store.New(ddb, testenv.Table(t, ddb), nil)
	fake, fakeURL := graphfake.ServeNew(t, graphfake.Options{VerifyCode: testCode})
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*11 + 3)
	}
	cfg := config.Config{GraphBaseURL: fakeURL, GraphVersion: config.DefaultGraphVersion,
		Secrets: config.Secrets{AccessToken: graphfake.DefaultToken, AppID: graphfake.DefaultAppID, AppSecret: graphfake.DefaultAppSecret,
			CredentialsLocalKey: base64.StdEncoding.EncodeToString(key)}}
	vault, err := app.NewVault(cfg, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := app.NewGraphFor(cfg, vault)
	svc, err := app.Onboarding(app.Deps{Config: cfg, Store: st, Graph: g, Vault: vault, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(adminapi.New(adminapi.Options{Store: st, Graph: g, PINs: vault, Onboarding: svc, RegisterBackoff: -1}))
	t.Cleanup(srv.Close)
	return &onboardingAPI{url: srv.URL, fake: fake, graph: g, vault: vault}
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
