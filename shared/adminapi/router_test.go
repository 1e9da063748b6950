package adminapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aloro/wa-senders/shared/adminapi"
)

// TestRouterTable: the routing table answers each route's own methods (behind any stage
// prefix), 405 with Allow for the others, and 404 off the table. Onboarding and the pool are
// not configured, so their routes answer 501 once matched.
func TestRouterTable(t *testing.T) {
	t.Parallel()
	h := adminapi.New(adminapi.Options{})
	cases := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodGet, "/prod/businesses/1801/token", 405, "method_not_allowed", "PUT"},
		{http.MethodPut, "/prod/businesses/1801/token", 501, "not_configured", ""},
		{http.MethodPost, "/senders/1001/pin", 501, "not_configured", ""},
		{http.MethodGet, "/senders/1001/pin", 405, "method_not_allowed", "POST"},
		{http.MethodDelete, "/numbers", 405, "method_not_allowed", "GET, POST"},
		{http.MethodGet, "/numbers/available", 501, "not_configured", ""},
		{http.MethodPost, "/numbers/available", 405, "method_not_allowed", "GET"},
		{http.MethodGet, "/numbers/+40721000001", 501, "not_configured", ""},
		{http.MethodPost, "/onboardings/onb_1/retry", 501, "not_configured", ""},
		{http.MethodPut, "/senders/1001", 405, "method_not_allowed", "GET, PATCH, DELETE"},
		{http.MethodGet, "/senders/1001/nothing", 404, "not_found", ""},
		{http.MethodGet, "/onboardings//retry", 404, "not_found", ""},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != c.status || body.Error.Code != c.code || rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s = %d %q Allow %q, want %d %q Allow %q", c.method, c.path, rec.Code, body.Error.Code,
				rec.Header().Get("Allow"), c.status, c.code, c.allow)
		}
	}
}
