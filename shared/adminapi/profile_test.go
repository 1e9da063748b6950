package adminapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/sender"
)

// online registers sender 1001 through the fake.
func (e *env) online() {
	e.t.Helper()
	e.create("1001", "+40721234567")
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
}

// TestDisplayNameRequestedAtMeta: renaming a registered sender asks Meta (new_display_name) and
// shows pending, keeping the current name until phone_number_name_update decides; a sender not
// registered yet is renamed here only.
func TestDisplayNameRequestedAtMeta(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.online()
	r := e.must(http.StatusOK, http.MethodPatch, "/senders/1001", map[string]any{"displayName": "Acme Tyres"})
	if r.str("displayName") != "Acme Shop" || r.str("displayNameStatus") != sender.NamePendingReview || r.str("requestedDisplayName") != "Acme Tyres" {
		t.Fatalf("after a rename: %s", r.raw)
	}
	if got := e.fake.DisplayNameRequest("1001"); got != "Acme Tyres" {
		t.Fatalf("Meta was asked for %q", got)
	}
	// The same request again does not ask Meta twice.
	e.must(http.StatusOK, http.MethodPatch, "/senders/1001", map[string]any{"displayName": "Acme Tyres"})
	if n := len(e.graphRequests("")); n == 0 {
		t.Fatal("no node requests recorded")
	}
	asks := 0
	for _, q := range e.fake.Requests() {
		if q.Edge == "" && strings.Contains(string(q.Body), "new_display_name") {
			asks++
		}
	}
	if asks != 1 {
		t.Fatalf("Meta asked %d times", asks)
	}
	// Meta refuses: 502, nothing pending recorded for a new name.
	scriptErr(t, e, "1001", 100)
	e.mustErr(http.StatusBadGateway, "graph_error", http.MethodPatch, "/senders/1001", map[string]any{"displayName": "Other Name"})
	if r := e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil); r.str("requestedDisplayName") != "Acme Tyres" {
		t.Fatalf("a refused request changed the sender: %s", r.raw)
	}

	// Not registered yet: the name is ours.
	e.create("1002", "+40721234568")
	r = e.must(http.StatusOK, http.MethodPatch, "/senders/1002", map[string]any{"displayName": "Second Shop"})
	if r.str("displayName") != "Second Shop" || r.str("displayNameStatus") != "" {
		t.Fatalf("pending sender rename: %s", r.raw)
	}
	if got := e.fake.DisplayNameRequest("1002"); got != "" {
		t.Fatalf("Meta asked for a number not registered: %q", got)
	}
}

// TestBusinessProfile: GET and PATCH /senders/{id}/profile go through
// /{phone_number_id}/whatsapp_business_profile; bad values are refused before Meta.
func TestBusinessProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.online()
	r := e.must(http.StatusOK, http.MethodPatch, "/senders/1001/profile", map[string]any{
		"about": "Tyres and wheels", "description": "Family business since 1990.\nOpen Sundays.",
		"email": "help@acme.example", "websites": []string{"https://acme.example"}, "vertical": "AUTO",
		"profilePictureHandle": "4::aW1hZ2UvanBlZw==:ARb",
	})
	if r.str("about") != "Tyres and wheels" || r.str("vertical") != "AUTO" || r.str("profilePictureUrl") == "" {
		t.Fatalf("profile: %s", r.raw)
	}
	stored, _ := e.fake.Profile("1001")
	if stored["email"] != "help@acme.example" {
		t.Fatalf("Meta holds %v", stored)
	}
	r = e.must(http.StatusOK, http.MethodGet, "/senders/1001/profile", nil)
	if r.str("description") != "Family business since 1990.\nOpen Sundays." {
		t.Fatalf("GET profile: %s", r.raw)
	}
	for name, body := range map[string]map[string]any{
		"about too long":   {"about": strings.Repeat("a", 140)},
		"about empty":      {"about": ""},
		"three websites":   {"websites": []string{"https://a.example", "https://b.example", "https://c.example"}},
		"not a URL":        {"websites": []string{"acme.example"}},
		"bad email":        {"email": "not-an-email"},
		"unknown vertical": {"vertical": "SPACESHIPS"},
		"bidi in address":  {"address": "Main St \u202e1"},
		"nothing":          {},
		"unknown field":    {"slogan": "x"},
	} {
		t.Run(name, func(t *testing.T) {
			e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPatch, "/senders/1001/profile", body)
		})
	}
	// Meta failing: 502, and the GET too.
	scriptErr(t, e, "*/whatsapp_business_profile", 131000)
	e.mustErr(http.StatusBadGateway, "graph_error", http.MethodPatch, "/senders/1001/profile", map[string]any{"about": "New"})
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodGet, "/senders/9999/profile", nil)
}

// TestDisplayNameAnswerLost: Meta took the request but its answer was lost (502): nothing is
// recorded; the operator's retry asks again and records the pending change.
func TestDisplayNameAnswerLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.online()
	if err := e.fake.Script(graphfake.Script{Path: "1001", Method: http.MethodPost, LoseAnswer: true}); err != nil {
		t.Fatal(err)
	}
	e.mustErr(http.StatusBadGateway, "graph_error", http.MethodPatch, "/senders/1001", map[string]any{"displayName": "Acme Tyres"})
	if r := e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil); r.str("requestedDisplayName") != "" {
		t.Fatalf("recorded without an answer: %s", r.raw)
	}
	r := e.must(http.StatusOK, http.MethodPatch, "/senders/1001", map[string]any{"displayName": "Acme Tyres"})
	if r.str("displayNameStatus") != sender.NamePendingReview || e.fake.DisplayNameRequest("1001") != "Acme Tyres" {
		t.Fatalf("retry: %s", r.raw)
	}
}
