package whatsapp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

var benchSecret = []byte("local-app-secret")

// benchHandle is the work the webhook handler does per POST: verify, parse, decode every change.
func benchHandle(b *testing.B, body []byte, sig string) {
	if err := VerifySignature(benchSecret, body, sig); err != nil {
		b.Fatal(err)
	}
	n, err := ParseNotification(body)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			if _, err := c.Decode(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func compactFixture(b *testing.B, name string) []byte {
	raw, err := os.ReadFile(payloadDir + "/" + name + ".json")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil { // Meta sends compact JSON
		b.Fatal(err)
	}
	return buf.Bytes()
}

// batchBody builds one notification with n changes alternating statuses and inbound texts.
func batchBody(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		if i%2 == 0 {
			fmt.Fprintf(&sb, `{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI%06d","status":"delivered","timestamp":"%d","recipient_id":"16505551234","recipient_user_id":"US.13491208655302741918","biz_opaque_callback_data":"req_%06d","contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234","user_id":"US.13491208655302741918"}]}]},"field":"messages"}`, i, 1764000000+i, i)
		} else {
			fmt.Fprintf(&sb, `{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234","user_id":"US.13491208655302741918"}],"messages":[{"from":"16505551234","from_user_id":"US.13491208655302741918","id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQz%06d","timestamp":"%d","type":"text","text":{"body":"Hi! Do you deliver to Cluj on Sundays? Caf\u00e9 \u2615"}}]},"field":"messages"}`, i, 1764000000+i)
		}
	}
	sb.WriteString(`]}]}`)
	return []byte(sb.String())
}

// BenchmarkParseText: one inbound text message, end to end (HMAC + parse + decode).
func BenchmarkParseText(b *testing.B) {
	body := compactFixture(b, "messages_text")
	sig := Sign(benchSecret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		benchHandle(b, body, sig)
	}
}

// BenchmarkDecodeText: one inbound text message through DecodeNotification, the handler's one
// typed pass (HMAC + decode).
func BenchmarkDecodeText(b *testing.B) {
	body := compactFixture(b, "messages_text")
	sig := Sign(benchSecret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifySignature(benchSecret, body, sig); err != nil {
			b.Fatal(err)
		}
		n, err := DecodeNotification(body)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range n.Entry {
			for _, c := range e.Changes {
				if _, err := c.Decode(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkParseBatch100: one POST aggregating 100 changes.
func BenchmarkParseBatch100(b *testing.B) {
	body := batchBody(100)
	sig := Sign(benchSecret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		benchHandle(b, body, sig)
	}
}

// BenchmarkFloorHMACPlusMapDecode is the floor to compare against: HMAC of the body plus an
// untyped encoding/json decode into map[string]any.
func BenchmarkFloorHMACPlusMapDecode(b *testing.B) {
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"text", compactFixture(b, "messages_text")},
		{"batch100", batchBody(100)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				m := hmac.New(sha256.New, benchSecret)
				m.Write(tc.body)
				_ = m.Sum(nil)
				var v map[string]any
				if err := json.Unmarshal(tc.body, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestBatchBodyDecodes(t *testing.T) {
	t.Parallel()
	body := batchBody(100)
	n, err := ParseNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(n.Entry[0].Changes); got != 100 {
		t.Fatalf("changes = %d", got)
	}
	for _, c := range n.Entry[0].Changes {
		if _, err := c.Decode(); err != nil {
			t.Fatal(err)
		}
	}
}
