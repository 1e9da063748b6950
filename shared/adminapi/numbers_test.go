package adminapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/adminapi"
	"github.com/aloro/wa-senders/shared/carrier/twilio"
	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/numberpool"
)

// newPoolEnv is the admin API with platform numbers: the pool on DynamoDB Local, the carrier
// fake, the Graph fake sending codes through it, and the carrier webhook where the carrier posts.
func newPoolEnv(t *testing.T, mode ...numberpool.Mode) (*env, *carrierfake.Fake) {
	t.Helper()
	m := numberpool.ModePreVerified
	if len(mode) > 0 {
		m = mode[0]
	}
	cf := carrierfake.New(carrierfake.Options{})
	carrierSrv := httptest.NewServer(cf)
	t.Cleanup(carrierSrv.Close)
	hook := &swap{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	var pool *numberpool.Pool
	e := newEnv(t, func(o *adminapi.Options) {
		pool = numberpool.New(numberpool.Options{
			Store:          o.Store.(numberpool.Store),
			Carrier:        twilio.New(twilio.Options{BaseURL: carrierSrv.URL, AccountSID: cf.AccountSID(), AuthToken: cf.AuthToken()}),
			Graph:          o.Graph.(*graph.Client),
			BusinessID:     "555000111",
			Mode:           m,
			WebhookBaseURL: hookSrv.URL,
			Now:            o.Now,
		})
		o.Pool = pool
	})
	wh, err := numberpool.NewWebhook(pool, cf.AuthToken(), nil)
	if err != nil {
		t.Fatal(err)
	}
	hook.set(wh)
	e.fake.SetCodeSender(cf.SendCode)
	return e, cf
}

type swap struct{ h http.Handler }

func (s *swap) set(h http.Handler) { s.h = h }
func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.h == nil {
		http.NotFound(w, r)
		return
	}
	s.h.ServeHTTP(w, r)
}

func (e *env) waitNumber(path, state string) response {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.must(http.StatusOK, http.MethodGet, path, nil)
		if r.str("state") == state {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: state %q (%s), want %s", path, r.str("state"), r.str("reason"), state)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestPlatformNumberToOnline: browse, buy, hands-free SMS verification, claim by a business,
// sender created and registered → online; deleting the sender returns the number to the pool.
func TestPlatformNumberToOnline(t *testing.T) {
	e, cf := newPoolEnv(t)
	avail := e.must(http.StatusOK, http.MethodGet, "/numbers/available?country=RO&kind=mobile", nil)
	list, _ := avail.body["numbers"].([]any)
	if len(list) == 0 {
		t.Fatalf("nothing available: %s", avail.raw)
	}
	first, _ := list[0].(map[string]any)
	num, _ := first["phoneNumber"].(string)
	if first["source"] != "carrier" || !strings.HasPrefix(num, "+40") {
		t.Fatalf("offer: %v", first)
	}
	buy := map[string]any{"requestId": "buy-1", "phoneNumber": num}
	e.must(http.StatusCreated, http.MethodPost, "/numbers", buy)
	e.must(http.StatusCreated, http.MethodPost, "/numbers", buy) // idempotent
	if n := len(cf.Purchases()); n != 1 {
		t.Fatalf("%d purchases, want 1", n)
	}
	e.waitNumber("/numbers/"+num, "verified")
	avail = e.must(http.StatusOK, http.MethodGet, "/numbers/available?country=RO", nil)
	list, _ = avail.body["numbers"].([]any)
	if f, _ := list[0].(map[string]any); f["phoneNumber"] != num || f["source"] != "pool" {
		t.Fatalf("our verified number is not offered first: %v", list[0])
	}

	claim := map[string]any{"businessId": "777000111", "wabaId": "102290129340398", "phoneNumberId": "106540352299001",
		"displayName": "Lucky Shrub", "assistants": []string{"asst-1"}, "pin": "246810"}
	r := e.must(http.StatusOK, http.MethodPost, "/numbers/"+num+"/claim", claim)
	if r.str("status") != "online" || r.str("type") != "platform" || r.str("phoneNumber") != num {
		t.Fatalf("claimed sender: %s", r.raw)
	}
	if reg := e.graphRequests("register"); len(reg) != 1 || reg[0].PhoneNumberID != "106540352299001" {
		t.Fatalf("register calls: %+v", reg)
	}
	e.must(http.StatusOK, http.MethodPost, "/numbers/"+num+"/claim", claim) // a retry changes nothing
	n := e.must(http.StatusOK, http.MethodGet, "/numbers/"+num, nil)
	if n.str("state") != "claimed" || n.str("claimedBy") != "777000111" || n.str("phoneNumberId") != "106540352299001" {
		t.Fatalf("pool number: %s", n.raw)
	}
	other := map[string]any{"businessId": "777000222", "wabaId": "102290129340399", "phoneNumberId": "106540352299002",
		"displayName": "Other"}
	e.mustErr(http.StatusConflict, "claimed", http.MethodPost, "/numbers/"+num+"/claim", other)

	if del := e.must(http.StatusOK, http.MethodDelete, "/senders/106540352299001", nil); del.body["deregistered"] != true {
		t.Fatalf("delete: %s", del.raw)
	}
	if dr := e.graphRequests("deregister"); len(dr) != 1 || dr[0].PhoneNumberID != "106540352299001" {
		t.Fatalf("deregister calls: %+v", dr)
	}
	n = e.must(http.StatusOK, http.MethodGet, "/numbers/"+num, nil)
	if n.str("state") != "unverified" || n.str("returnedAt") == "" || n.str("claimedBy") != "" {
		t.Fatalf("after delete: %s", n.raw)
	}
	pool := e.must(http.StatusOK, http.MethodGet, "/numbers", nil)
	if nums, _ := pool.body["numbers"].([]any); len(nums) != 1 {
		t.Fatalf("pool: %s", pool.raw)
	}
	if strings.Contains(e.allBodies(), "246810") {
		t.Fatal("the PIN came back in an answer")
	}
	if strings.Contains(e.logs.String(), "246810") || strings.Contains(e.logs.String(), num) {
		t.Fatal("a PIN or a phone number was logged")
	}
}

func TestNumbersBadInput(t *testing.T) {
	e, cf := newPoolEnv(t)
	cases := []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{http.MethodGet, "/numbers/available?country=ZZ", nil, 400, "invalid_request"},
		{http.MethodGet, "/numbers/available?country=RO&kind=tollfree", nil, 400, "invalid_request"},
		{http.MethodGet, "/numbers/available?country=RO&x=1", nil, 400, "invalid_request"},
		{http.MethodPost, "/numbers", map[string]any{"phoneNumber": "+40721000001"}, 400, "invalid_request"},
		{http.MethodPost, "/numbers", map[string]any{"requestId": "r", "phoneNumber": "0721000001"}, 400, "invalid_phone"},
		{http.MethodGet, "/numbers/+40721999999", nil, 404, "number_not_found"},
		{http.MethodPost, "/numbers/+40721999999/verification", map[string]any{}, 404, "number_not_found"},
		{http.MethodPost, "/numbers/+40721000001/verification", map[string]any{"method": "fax"}, 400, "invalid_request"},
		{http.MethodPost, "/numbers/+40721999999/claim", map[string]any{"businessId": "1", "wabaId": "2", "phoneNumberId": "3", "displayName": "x"}, 404, "number_not_found"},
		{http.MethodPost, "/numbers/+40721000001/claim", map[string]any{"businessId": "1", "wabaId": "2", "phoneNumberId": "3", "displayName": "x", "pin": "12"}, 400, "invalid_request"},
		{http.MethodDelete, "/numbers", nil, 405, "method_not_allowed"},
	}
	for _, c := range cases {
		e.mustErr(c.status, c.code, c.method, c.path, c.body)
	}
	// The carrier refuses: nothing bought, 409 with the reason, the same on retry.
	cf.AddFault(carrierfake.Fault{Op: "buy", Status: 400, Code: 21422})
	buy := map[string]any{"requestId": "r-x", "phoneNumber": "+40721000002"}
	e.mustErr(http.StatusConflict, "purchase_failed", http.MethodPost, "/numbers", buy)
	e.mustErr(http.StatusConflict, "purchase_failed", http.MethodPost, "/numbers", buy)
	e.mustErr(http.StatusConflict, "request_reused", http.MethodPost, "/numbers", map[string]any{"requestId": "r-x", "phoneNumber": "+40721000003"})
	if len(cf.Purchases()) != 0 {
		t.Fatal("bought something")
	}
	// Not yet verified: claim refused.
	e.fake.SetCodeSender(nil)
	e.must(http.StatusCreated, http.MethodPost, "/numbers", map[string]any{"requestId": "r-y", "phoneNumber": "+40721000004"})
	e.mustErr(http.StatusConflict, "wrong_state", http.MethodPost, "/numbers/+40721000004/claim",
		map[string]any{"businessId": "1", "wabaId": "2", "phoneNumberId": "3", "displayName": "x"})
}

func TestNumbersWithoutPool(t *testing.T) {
	e := newEnv(t)
	e.mustErr(http.StatusNotImplemented, "not_configured", http.MethodGet, "/numbers", nil)
}

// TestWABAModeClaim: without Solution Partner status the bought number waits unverified; the
// claim adds it to the business's WABA and verifies it (202), and the claim called again once
// it is verified creates the sender and registers it.
func TestWABAModeClaim(t *testing.T) {
	e, _ := newPoolEnv(t, numberpool.ModeWABA)
	const num = "+40721000005"
	if r := e.must(http.StatusCreated, http.MethodPost, "/numbers", map[string]any{"requestId": "w-1", "phoneNumber": num}); r.str("state") != "unverified" {
		t.Fatalf("bought: %s", r.raw)
	}
	claim := map[string]any{"businessId": "777000111", "wabaId": "102290129340398", "displayName": "Lucky Shrub", "assistants": []string{"asst-1"}}
	r := e.do(http.MethodPost, "/numbers/"+num+"/claim", claim)
	if r.status == http.StatusAccepted {
		n := e.waitNumber("/numbers/"+num, "claimed")
		if n.str("phoneNumberId") == "" {
			t.Fatalf("claimed without a phone number id: %s", n.raw)
		}
		r = e.must(http.StatusOK, http.MethodPost, "/numbers/"+num+"/claim", claim)
	}
	if r.status != http.StatusOK || r.str("status") != "online" || r.str("type") != "platform" {
		t.Fatalf("claim: %d %s", r.status, r.raw)
	}
	if add := e.graphRequests("phone_numbers"); len(add) != 1 {
		t.Fatalf("POST /{waba}/phone_numbers calls: %d", len(add))
	}
}
