package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Bad input over real HTTP against the webhook and the admin API as composed for Lambda and
// `make run`: oversized bodies, wrong content types, deeply nested JSON, invalid UTF-8, huge
// numbers and missing fields each get a clear 4xx or, for a correctly signed webhook (which Meta
// would otherwise retry for days), a 200 with the payload parked; nothing crashes.

// nested returns depth levels of JSON arrays around 1.
func nested(depth int) string {
	return strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
}

func TestWebhookBadInput(t *testing.T) {
	e := newE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const waba, pnid = "102290129340398", "106540352242922"
	msg := func(inner string) []byte {
		return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"40721234567","phone_number_id":"` + pnid + `"},"contacts":[{"profile":{"name":"A"},"wa_id":"447400123456"}],"messages":[` + inner + `]}}]}]}`)
	}
	big := bytes.Repeat([]byte("x"), 4<<20+1)
	cases := []struct {
		name string
		body []byte
		ct   string
		// parked: a signed body that cannot be used must be kept in a parking record.
		parked bool
		// either: forwarded as a message or parked are both fine (Meta's JSON decoders differ on it).
		either bool
	}{
		{name: "form body, wrong content type", body: []byte("object=whatsapp_business_account&entry=1"), ct: "application/x-www-form-urlencoded", parked: true},
		{name: "not JSON, text/plain", body: []byte("hello there"), ct: "text/plain", parked: true},
		{name: "empty object", body: []byte(`{}`), ct: "application/json", parked: true},
		{name: "wrong object", body: []byte(`{"object":"page","entry":[]}`), ct: "application/json", parked: true},
		{name: "deeply nested JSON", body: []byte(`{"object":"whatsapp_business_account","entry":` + nested(100000) + `}`), ct: "application/json", parked: true},
		{name: "nested inside a change", body: []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `","changes":[{"field":"messages","value":` + nested(20000) + `}]}]}`), ct: "application/json", parked: true},
		{name: "huge numbers", body: []byte(`{"object":"whatsapp_business_account","entry":[{"id":1e400,"time":1e999,"changes":[{"field":"business_capability_update","value":{"max_daily_conversations_per_business":1e308}}]}]}`), ct: "application/json", parked: true},
		{name: "huge timestamp in a message", body: msg(`{"from":"447400123456","id":"wamid.BAD1","timestamp":"99999999999999999999999","type":"text","text":{"body":"hi"}}`), ct: "application/json", parked: true},
		{name: "message without id", body: msg(`{"from":"447400123456","timestamp":"1764000000","type":"text","text":{"body":"hi"}}`), ct: "application/json", parked: true},
		{name: "invalid UTF-8 in a text", body: msg("{\"from\":\"447400123456\",\"id\":\"wamid.BAD2\",\"timestamp\":\"1764000000\",\"type\":\"text\",\"text\":{\"body\":\"caf\xff\xfe\"}}"), ct: "application/json", either: true},
		{name: "entry without changes", body: []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `"}]}`), ct: "application/json", either: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Unsigned or badly signed: 401, whatever the body.
			if st, _ := e.do(http.MethodPost, "/webhook", tc.ct, tc.body, nil); st != http.StatusUnauthorized {
				t.Errorf("unsigned: %d, want 401", st)
			}
			if st, _ := e.do(http.MethodPost, "/webhook", tc.ct, tc.body, map[string]string{whatsapp.SignatureHeader: "sha256=" + strings.Repeat("0", 64)}); st != http.StatusUnauthorized {
				t.Errorf("badly signed: %d, want 401", st)
			}
			// Signed: acknowledged (200) and kept, never a 4xx Meta would retry for days.
			st, b := e.postSigned(tc.body, tc.ct)
			if st != http.StatusOK {
				t.Fatalf("signed: %d %s, want 200", st, b)
			}
			switch {
			case tc.parked && !e.parked(ctx, tc.body):
				t.Errorf("signed but unusable payload answered 200 without a parking record")
			case tc.either && !e.parked(ctx, tc.body) && !strings.Contains(strings.Join(e.inboundBodies(ctx), "\n"), "wamid.BAD2") && !strings.Contains(tc.name, "without changes"):
				t.Errorf("signed payload neither forwarded nor parked")
			}
			e.alive()
		})
	}

	t.Run("oversized body", func(t *testing.T) {
		for _, sig := range []string{"", whatsapp.Sign([]byte(e2eAppSecret), big)} {
			h := map[string]string{}
			if sig != "" {
				h[whatsapp.SignatureHeader] = sig
			}
			if st, _ := e.do(http.MethodPost, "/webhook", "application/json", big, h); st != http.StatusRequestEntityTooLarge {
				t.Errorf("oversized (signed=%v): %d, want 413", sig != "", st)
			}
		}
		e.alive()
	})
	t.Run("malformed signature headers", func(t *testing.T) {
		body := msg(`{"from":"447400123456","id":"wamid.BAD3","timestamp":"1764000000","type":"text","text":{"body":"hi"}}`)
		for _, h := range []string{"sha256=", "sha256=zz", "md5=" + strings.Repeat("a", 64), strings.Repeat("a", 10000), "sha256=" + strings.Repeat("A", 63) + "\t"} {
			if st, _ := e.do(http.MethodPost, "/webhook", "application/json", body, map[string]string{whatsapp.SignatureHeader: h}); st != http.StatusUnauthorized {
				t.Errorf("signature %.20q: %d, want 401", h, st)
			}
		}
	})
	t.Run("handshake", func(t *testing.T) {
		for _, q := range []string{
			"",
			"hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong",
			"hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=" + e2eVerifyToken,
			"hub.mode=subscribe&hub.verify_token=" + e2eVerifyToken,
			"hub.mode=subscribe&hub.challenge=" + strings.Repeat("9", 5000) + "&hub.verify_token=" + e2eVerifyToken,
			"hub.mode=subscribe&hub.challenge=1&hub.verify_token=%ff%fe",
		} {
			if st, _ := e.do(http.MethodGet, "/webhook?"+q, "", nil, nil); st != http.StatusForbidden {
				t.Errorf("GET ?%.60s: %d, want 403", q, st)
			}
		}
		if st, _ := e.do(http.MethodPut, "/webhook", "application/json", []byte(`{}`), nil); st != http.StatusMethodNotAllowed {
			t.Errorf("PUT: %d, want 405", st)
		}
	})
}

func TestAdminAPIBadInput(t *testing.T) {
	e := newE2E(t)
	const valid = `{"phoneNumber":"+40721234567","phoneNumberId":"106540352242922","wabaId":"102290129340398","type":"external","displayName":"Bad Input"}`
	mustStatus(t, e, http.StatusCreated, http.MethodPost, "/senders", valid)
	cases := []struct {
		name, method, path, ct string
		body                   []byte
		want                   int
	}{
		{"oversized sender", http.MethodPost, "/senders", "application/json", append([]byte(`{"displayName":"`), append(bytes.Repeat([]byte("x"), 300<<10), []byte(`"}`)...)...), http.StatusRequestEntityTooLarge},
		{"oversized message", http.MethodPost, "/messages", "application/json", append([]byte(`{"id":"a","text":"`), append(bytes.Repeat([]byte("x"), 300<<10), []byte(`"}`)...)...), http.StatusRequestEntityTooLarge},
		{"text/plain sender", http.MethodPost, "/senders", "text/plain", []byte(valid), http.StatusUnsupportedMediaType},
		{"form message", http.MethodPost, "/messages", "application/x-www-form-urlencoded", []byte("id=a&text=b"), http.StatusUnsupportedMediaType},
		{"not JSON", http.MethodPost, "/senders", "application/json", []byte("{not json"), http.StatusBadRequest},
		{"JSON array", http.MethodPost, "/senders", "application/json", []byte(`[1,2]`), http.StatusBadRequest},
		{"deeply nested sender", http.MethodPost, "/senders", "application/json", []byte(`{"assistants":` + nested(100000) + `}`), http.StatusBadRequest},
		{"deeply nested message", http.MethodPost, "/messages", "application/json", []byte(`{"id":"n1","senderId":"1","to":"+40721234567","template":{"name":"t","language":"en_US","components":` + nested(50000) + `}}`), http.StatusBadRequest},
		{"invalid UTF-8 display name", http.MethodPost, "/senders", "application/json", []byte("{\"phoneNumber\":\"+40721234568\",\"phoneNumberId\":\"106540352242923\",\"wabaId\":\"102290129340398\",\"type\":\"external\",\"displayName\":\"caf\xff\xfe\"}"), http.StatusBadRequest},
		{"invalid UTF-8 message text", http.MethodPost, "/messages", "application/json", []byte("{\"id\":\"u1\",\"senderId\":\"106540352242922\",\"to\":\"+447400123456\",\"text\":\"caf\xff\"}"), http.StatusBadRequest},
		{"huge number id", http.MethodPost, "/senders", "application/json", []byte(`{"phoneNumber":"+40721234569","phoneNumberId":1e400,"wabaId":"102290129340398","type":"external","displayName":"x"}`), http.StatusBadRequest},
		{"huge number in message", http.MethodPost, "/messages", "application/json", []byte(`{"id":"h1","senderId":"106540352242922","to":40721234567e300,"text":"x"}`), http.StatusBadRequest},
		{"missing fields sender", http.MethodPost, "/senders", "application/json", []byte(`{}`), http.StatusBadRequest},
		{"missing fields message", http.MethodPost, "/messages", "application/json", []byte(`{"id":"m1"}`), http.StatusBadRequest},
		{"national number", http.MethodPost, "/senders", "application/json", []byte(`{"phoneNumber":"0721 234 567","phoneNumberId":"106540352242924","wabaId":"102290129340398","type":"external","displayName":"x"}`), http.StatusBadRequest},
		{"unknown field", http.MethodPost, "/messages", "application/json", []byte(`{"id":"k1","senderId":"106540352242922","to":"+447400123456","text":"x","bcc":"+40721234567"}`), http.StatusBadRequest},
		{"bad verification code", http.MethodPost, "/senders/106540352242922/verification/confirm", "application/json", []byte(`{"code":"12ab"}`), http.StatusBadRequest},
		{"unknown route", http.MethodGet, "/senders/1/2/3/4/5", "", nil, http.StatusNotFound},
		{"unknown sender", http.MethodGet, "/senders/999999999999999", "", nil, http.StatusNotFound},
		{"method not allowed", http.MethodPut, "/senders", "application/json", []byte(valid), http.StatusMethodNotAllowed},
		{"huge path segment", http.MethodGet, "/senders/" + strings.Repeat("9", 4000), "", nil, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b := e.do(tc.method, tc.path, tc.ct, tc.body, nil)
			ok := st == tc.want ||
				tc.want == http.StatusBadRequest && st == http.StatusUnprocessableEntity ||
				tc.want == http.StatusNotFound && st == http.StatusBadRequest
			if !ok {
				t.Errorf("%s %.80s: %d %.300s, want %d", tc.method, tc.path, st, b, tc.want)
			}
			var env struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(b, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
				t.Errorf("error body is not {\"error\":{\"code\",\"message\"}}: %.300s", b)
			}
			e.alive()
		})
	}
}
