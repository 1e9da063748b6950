package adminapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/sender"
)

func TestCreateSender(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	r := e.create("1001", "+40721234567")
	want := map[string]any{
		"id": "1001", "phoneNumber": "+40721234567", "wabaId": "2001", "type": "external",
		"displayName": "Acme Shop", "status": "pending", "qualityRating": "new",
		"messagingLimit": "", "dailyLimit": float64(250), "throughputLevel": "", "limitLabel": "~250",
	}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r.body[k], v)
		}
	}
	if a, _ := r.body["assistants"].([]any); len(a) != 1 || a[0] != "asst-1" {
		t.Errorf("assistants = %v", r.body["assistants"])
	}
	if h := history(r); len(h) != 1 || h[0]["to"] != "pending" || h[0]["source"] != "operator" {
		t.Errorf("statusHistory = %v", h)
	}
	if r.header.Get("Location") != "/senders/1001" {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}

	// One sender per number, one per phone_number_id.
	e.mustErr(http.StatusConflict, "phone_taken", http.MethodPost, "/senders", createBody("1002", "+40721234567"))
	e.mustErr(http.StatusConflict, "sender_exists", http.MethodPost, "/senders", createBody("1001", "+40721234568"))

	// The portfolio's tier, when Meta told one, sets the limit.
	if _, err := e.store.SetPortfolioTier(context.Background(), "biz:3001", "TIER_10K", e.now); err != nil {
		t.Fatal(err)
	}
	b := createBody("1003", "+40721234569")
	b["businessId"] = "3001"
	r = e.must(http.StatusCreated, http.MethodPost, "/senders", b)
	if r.body["messagingLimit"] != "TIER_10K" || r.body["dailyLimit"] != float64(10000) {
		t.Errorf("portfolio limit not applied: %s", r.raw)
	}
}

func TestCreateSenderValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	with := func(k string, v any) map[string]any {
		b := createBody("1001", "+40721234567")
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	tests := []struct {
		name string
		body any
		code string
	}{
		{"national number", with("phoneNumber", "0721 234 567"), "invalid_phone"},
		{"formatted US number", with("phoneNumber", "(123) 456-7890"), "invalid_phone"},
		{"missing number", with("phoneNumber", nil), "invalid_phone"},
		{"not a real number", with("phoneNumber", "+999123"), "invalid_phone"},
		{"missing phoneNumberId", with("phoneNumberId", nil), "invalid_request"},
		{"non-numeric phoneNumberId", with("phoneNumberId", "abc/def"), "invalid_request"},
		{"missing wabaId", with("wabaId", nil), "invalid_request"},
		{"bad type", with("type", "shared"), "invalid_request"},
		{"missing displayName", with("displayName", "  "), "invalid_request"},
		{"blank assistant", with("assistants", []string{""}), "invalid_request"},
		{"unknown field", with("colour", "blue"), "invalid_request"},
		{"snake_case field", with("phone_number_id", "1"), "invalid_request"},
		{"wrong type", with("assistants", "asst-1"), "invalid_request"},
		{"not JSON", "{not json", "invalid_request"},
		{"empty body", "", "invalid_request"},
		{"array body", "[]", "invalid_request"},
		{"two objects", `{"type":"external"} {}`, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.mustErr(http.StatusBadRequest, tc.code, http.MethodPost, "/senders", tc.body)
			if tc.code == "invalid_phone" && !strings.Contains(r.errMessage(), "E.164") {
				t.Errorf("phone error without the E.164 hint: %s", r.errMessage())
			}
		})
	}
	big := createBody("1001", "+40721234567")
	big["displayName"] = strings.Repeat("x", 300<<10)
	e.mustErr(http.StatusRequestEntityTooLarge, "payload_too_large", http.MethodPost, "/senders", big)
	// Nothing was created by any of them.
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodGet, "/senders/1001", nil)
}

func TestGetListPatchDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234561")
	e.create("1002", "+40721234562")
	b := createBody("1003", "+40721234563")
	b["assistants"] = []string{"asst-2"}
	e.must(http.StatusCreated, http.MethodPost, "/senders", b)

	r := e.must(http.StatusOK, http.MethodGet, "/senders/1002", nil)
	if r.str("id") != "1002" || r.str("phoneNumber") != "+40721234562" {
		t.Fatalf("get = %s", r.raw)
	}
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodGet, "/senders/9999", nil)

	// Pagination walks every sender exactly once.
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		path := "/senders?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.must(http.StatusOK, http.MethodGet, path, nil)
		list, _ := r.body["senders"].([]any)
		if len(list) > 2 {
			t.Fatalf("page of %d > limit 2", len(list))
		}
		for _, x := range list {
			id := x.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
		}
		cursor = r.str("nextCursor")
		if cursor == "" {
			break
		}
	}
	if len(seen) != 3 {
		t.Fatalf("listed %v, want 3 senders", seen)
	}

	r = e.must(http.StatusOK, http.MethodGet, "/senders?assistant=asst-2", nil)
	if list, _ := r.body["senders"].([]any); len(list) != 1 || list[0].(map[string]any)["id"] != "1003" {
		t.Errorf("filter by assistant = %s", r.raw)
	}
	r = e.must(http.StatusOK, http.MethodGet, "/senders?status=online", nil)
	if list, _ := r.body["senders"].([]any); len(list) != 0 {
		t.Errorf("filter by status online = %s", r.raw)
	}
	r = e.must(http.StatusOK, http.MethodGet, "/senders?status=pending&limit=100", nil)
	if list, _ := r.body["senders"].([]any); len(list) != 3 {
		t.Errorf("filter by status pending = %s", r.raw)
	}
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodGet, "/senders?status=asleep", nil)
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodGet, "/senders?limit=0", nil)
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodGet, "/senders?limit=101", nil)
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodGet, "/senders?page=2", nil)
	e.mustErr(http.StatusBadRequest, "invalid_cursor", http.MethodGet, "/senders?cursor=bm9wZQ", nil)

	// PATCH: fields, refused transitions.
	r = e.must(http.StatusOK, http.MethodPatch, "/senders/1001", map[string]any{"displayName": "Acme 2", "assistants": []string{"a", "b", "a"}})
	if r.str("displayName") != "Acme 2" || len(r.body["assistants"].([]any)) != 2 {
		t.Errorf("patch = %s", r.raw)
	}
	r = e.mustErr(http.StatusConflict, "transition_refused", http.MethodPatch, "/senders/1001", map[string]any{"status": "online"})
	if !strings.Contains(r.errMessage(), "pending") {
		t.Errorf("refusal does not say why: %s", r.errMessage())
	}
	e.mustErr(http.StatusConflict, "transition_refused", http.MethodPatch, "/senders/1001", map[string]any{"status": "offline"})
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPatch, "/senders/1001", map[string]any{"status": "suspended"})
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPatch, "/senders/1001", map[string]any{})
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPatch, "/senders/1001", map[string]any{"qualityRating": "high"})
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodPatch, "/senders/9999", map[string]any{"displayName": "x"})

	// Operator online/offline on a registered sender.
	setStatus(t, e, "1002", sender.StatusOnline)
	r = e.must(http.StatusOK, http.MethodPatch, "/senders/1002", map[string]any{"status": "offline"})
	if r.str("status") != "offline" {
		t.Fatalf("status = %s", r.str("status"))
	}
	h := history(r)
	if last := h[len(h)-1]; last["from"] != "online" || last["to"] != "offline" || last["source"] != "operator" {
		t.Errorf("history = %v", h)
	}
	e.must(http.StatusOK, http.MethodPatch, "/senders/1002", map[string]any{"status": "online"})

	// DELETE deregisters at Meta and archives; the number is free again.
	r = e.must(http.StatusOK, http.MethodDelete, "/senders/1002", nil)
	if r.body["archived"] != true || r.body["deregistered"] != true {
		t.Errorf("delete = %s", r.raw)
	}
	if reqs := e.graphRequests("deregister"); len(reqs) != 1 || reqs[0].PhoneNumberID != "1002" {
		t.Errorf("deregister calls = %+v", reqs)
	}
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodGet, "/senders/1002", nil)
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodDelete, "/senders/1002", nil)
	e.create("1004", "+40721234562")
}

func TestDeleteGraphFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")
	// A sender never registered (here: a mistyped phoneNumberId) is deleted without asking Meta.
	e.create("1009", "+40721234569")
	r := e.must(http.StatusOK, http.MethodDelete, "/senders/1009", nil)
	if r.body["deregistered"] != false || len(e.graphRequests("deregister")) != 0 {
		t.Errorf("delete of a pending sender = %s, deregister calls %d", r.raw, len(e.graphRequests("deregister")))
	}
	setStatus(t, e, "1001", sender.StatusOnline)
	scriptErr(t, e, "*/deregister", 131000)
	r = e.mustErr(http.StatusBadGateway, "graph_error", http.MethodDelete, "/senders/1001", nil)
	if !strings.Contains(r.errMessage(), "131000") {
		t.Errorf("502 without Meta's code: %s", r.errMessage())
	}
	// Nothing archived when Meta failed.
	e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil)
	// A number Meta does not know at all, or not as registered, is archived anyway.
	e.create("1010", "+40721234560")
	setStatus(t, e, "1010", sender.StatusOffline)
	if err := e.fake.Script(graphfake.Script{Path: "*/deregister", ErrorCode: 100, ErrorSubcode: 33}); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusOK, http.MethodDelete, "/senders/1010", nil)
	scriptErr(t, e, "*/deregister", 133010)
	r = e.must(http.StatusOK, http.MethodDelete, "/senders/1001", nil)
	if r.body["deregistered"] != false {
		t.Errorf("delete = %s", r.raw)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustErr(http.StatusNotFound, "not_found", http.MethodGet, "/nope", nil)
	e.mustErr(http.StatusNotFound, "not_found", http.MethodGet, "/senders/1/unknown", nil)
	r := e.mustErr(http.StatusMethodNotAllowed, "method_not_allowed", http.MethodPut, "/senders", nil)
	if r.header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow = %q", r.header.Get("Allow"))
	}
	e.mustErr(http.StatusMethodNotAllowed, "method_not_allowed", http.MethodGet, "/senders/1/verification", nil)
	// A stage prefix in front of the route is ignored.
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodGet, "/prod/senders/9999", nil)
	// Content types other than JSON are refused.
	e.mustErr(http.StatusUnsupportedMediaType, "unsupported_media_type", http.MethodPost, "/senders",
		rawBody{"text/plain", `{"phoneNumber":"+40721234567"}`})
}

// setStatus forces a stored sender's status (as if set up earlier).
func setStatus(t *testing.T, e *env, id string, st sender.Status) {
	t.Helper()
	if _, err := e.store.UpdateSender(context.Background(), id, func(s *sender.Sender) (*sender.Sender, error) {
		s.Status = st
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
}
