package outbound

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
)

// TestDecodeExplains checks what a caller is told: the field, a machine-readable reason and a
// hint, and that the request id survives an error elsewhere (so the refusal can be recorded).
func TestDecodeExplains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body          string
		field, reason, hint string
		id                  string
	}{
		{name: "national recipient", body: `{"id":"r1","from":"+40721234567","to":"0721 234 567","text":"x"}`,
			field: "to", reason: "not_e164", hint: "+40721234567", id: "r1"},
		{name: "national sender", body: `{"id":"r2","from":"0721 234 567","to":"+40721234567","text":"x"}`,
			field: "from", reason: "not_e164", hint: "E.164", id: "r2"},
		{name: "number outside any plan", body: `{"id":"r3","from":"+40721234567","to":"+40012345678","text":"x"}`,
			field: "to", reason: "invalid_phone", id: "r3"},
		{name: "BSUID", body: `{"id":"r4","from":"+40721234567","toUserId":"13491208655302741918","text":"x"}`,
			field: "toUserId", reason: "pattern", hint: "ISO country code", id: "r4"},
		{name: "unknown field", body: `{"id":"r5","from":"+40721234567","to":"+40721234567","text":"x","prio":1}`,
			field: "prio", reason: "unknown_field", id: "r5"},
		{name: "wrong type", body: `{"id":"r6","from":"+40721234567","to":"+40721234567","text":["x"]}`,
			field: "text", reason: "invalid_type", id: "r6"},
		{name: "template category", body: `{"id":"r7","senderId":"1","to":"+40721234567","template":{"name":"t","language":"en","category":"promo"}}`,
			field: "template.category", reason: "enum", hint: "marketing, utility, authentication", id: "r7"},
		{name: "no id", body: `{"from":"+40721234567","to":"+40721234567","text":"x"}`, field: "id", reason: "required"},
		{name: "bad id is not kept", body: `{"id":"a b","from":"+40721234567","to":"+40721234567","text":"x"}`, field: "id", reason: "pattern"},
		{name: "not JSON", body: `{"id":"r8",`, reason: "invalid_json"},
		{name: "trailing data", body: `{"id":"r9","senderId":"1","to":"+40721234567","text":"x"} {}`, reason: "invalid_json"},
		// Refused, not silently changed (U+FFFD, last key wins).
		{name: "invalid UTF-8", body: "{\"id\":\"r10\",\"senderId\":\"1\",\"to\":\"+40721234567\",\"text\":\"caf\xe9\"}", reason: "invalid_utf8", id: "r10"},
		{name: "lone high surrogate", body: `{"id":"r11","senderId":"1","to":"+40721234567","text":"a\ud83d b"}`, reason: "lone_surrogate", id: "r11"},
		{name: "lone low surrogate", body: `{"id":"r12","senderId":"1","to":"+40721234567","text":"\ude00"}`, reason: "lone_surrogate", id: "r12"},
		{name: "duplicate key", body: `{"id":"r13","senderId":"1","to":"+40721234567","text":"x","text":"y"}`, field: "text", reason: "duplicate_key", id: "r13"},
		{name: "duplicate nested key", body: `{"id":"r14","senderId":"1","to":"+40721234567","template":{"name":"t","language":"en","name":"u"}}`,
			field: "template.name", reason: "duplicate_key", id: "r14"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := Decode([]byte(tc.body))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Decode error = %v, want a *ValidationError", err)
			}
			if ve.Field != tc.field || ve.Reason != tc.reason {
				t.Errorf("field %q reason %q, want %q %q (%v)", ve.Field, ve.Reason, tc.field, tc.reason, err)
			}
			if !strings.Contains(ve.Hint, tc.hint) {
				t.Errorf("hint %q does not mention %q", ve.Hint, tc.hint)
			}
			if req.ID != tc.id {
				t.Errorf("request id %q, want %q", req.ID, tc.id)
			}
		})
	}
}

func TestGroupID(t *testing.T) {
	t.Parallel()
	a := GroupID(Request{From: "+40721234567", To: "+447911123456"})
	if b := GroupID(Request{From: "+40721234567", To: "447911123456"}); a != b {
		t.Errorf("E.164 and wa_id digits give different groups: %q %q", a, b)
	}
	if a != "+40721234567|+447911123456" {
		t.Errorf("group = %q", a)
	}
	if g := GroupID(Request{SenderID: "106", To: "+447911123456", ToUserID: "GB.1"}); g != "106|+447911123456" {
		t.Errorf("to wins over toUserId: %q", g)
	}
	long := GroupID(Request{SenderID: "1065403522429221", ToUserID: "US." + strings.Repeat("a", 128)})
	if len(long) > 128 || !strings.HasPrefix(long, "h:") {
		t.Errorf("long group %q (%d)", long, len(long))
	}
	if RequeueDedupeID("r1", decideNow) == DedupeID(Request{ID: "r1"}) {
		t.Error("a requeue must not be deduplicated against the first enqueue")
	}
}

func TestTemplateFallback(t *testing.T) {
	t.Parallel()
	req := Request{ID: strings.Repeat("x", MaxIDLength), SenderID: "1", To: "+40721234567", Text: "hi",
		Template: &Template{Name: "t", Language: "en"}}
	fb, ok := TemplateFallback(Record{ID: req.ID, Mode: ModeFreeform, Request: &req})
	if !ok || !fb.ForceTemplate || Validate(fb) != nil || fb.ID == req.ID {
		t.Fatalf("fallback = %+v, %v (validate: %v)", fb, ok, Validate(fb))
	}
	if _, ok := TemplateFallback(Record{ID: "a", Mode: ModeFreeform, Request: &req, FallbackID: "a:t"}); ok {
		t.Error("a second fallback was offered")
	}
	if _, ok := TemplateFallback(Record{ID: "a", Mode: ModeTemplate, Request: &req}); ok {
		t.Error("a template was offered a template fallback")
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		class    graph.Class
		receive  int
		min, max time.Duration
	}{
		{graph.ClassPairRate, 1, time.Second, time.Second},
		{graph.ClassPairRate, 3, 16 * time.Second, 16 * time.Second},
		{graph.ClassThroughput, 1, time.Second, 1200 * time.Millisecond},
		{graph.ClassThroughput, 4, 2 * time.Minute, 144 * time.Second},
		{graph.ClassNetwork, 30, time.Hour, 72 * time.Minute},
		{graph.ClassMaintenance, 1, time.Minute, 72 * time.Second},
		{graph.ClassCallRate, 2, time.Minute, 72 * time.Second},
	}
	for _, tc := range tests {
		for range 20 {
			if d := DefaultBackoff(tc.class, tc.receive); d < tc.min || d > tc.max {
				t.Errorf("%s receive %d: %v not in [%v, %v]", tc.class, tc.receive, d, tc.min, tc.max)
			}
		}
	}
}

// TestDecodeKeepsValidText: surrogate pairs, escaped quotes and repeated keys in different
// objects are fine.
func TestDecodeKeepsValidText(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"id":"ok1","senderId":"1","to":"+40721234567","text":"smile \ud83d\ude00 \"quoted\" \\u0041"}`,
		`{"id":"ok2","senderId":"1","to":"+40721234567","text":"x","template":{"name":"t","language":"en","components":[{"type":"body"},{"type":"body"}]}}`,
		"{\"id\":\"ok3\",\"senderId\":\"1\",\"to\":\"+40721234567\",\"text\":\"café ✓\"}",
	} {
		if _, err := Decode([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}
