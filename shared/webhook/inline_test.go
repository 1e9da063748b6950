package webhook_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// stackStore records, for every RecordInbound, whether it ran on the goroutine that called
// ServeHTTP (inline) or on one the handler started.
type stackStore struct {
	nopStore
	mu     sync.Mutex
	inline []bool
}

func (s *stackStore) RecordInbound(context.Context, webhook.InboundMessage) (bool, error) {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	onCaller := false
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "webhook.(*Handler).ServeHTTP") {
			onCaller = true
		}
		if !more {
			break
		}
	}
	s.mu.Lock()
	s.inline = append(s.inline, onCaller)
	s.mu.Unlock()
	return false, nil
}

// TestOneMessagePOSTRunsInline: a POST of one message is applied on the request's goroutine
// (no goroutine, no channel); a POST of several fans out.
func TestOneMessagePOSTRunsInline(t *testing.T) {
	t.Parallel()
	two := strings.Replace(string(textBody(1, "40721234567", 1764000000)), `"messages":[`,
		`"messages":[`+textMessage(2, "40721234568", 1764000000)+`,`, 1)
	for _, tc := range []struct {
		name string
		body []byte
		want []bool
	}{
		{"one text message", textBody(1, "40721234567", 1764000000), []bool{true}},
		{"two messages", []byte(two), []bool{false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := &stackStore{}
			h, err := webhook.New(webhook.Config{AppSecret: appSecret, VerifyToken: verifyToken, InboundQueueURL: "in", OutboundQueueURL: "out"},
				webhook.Deps{Store: st, Queue: nopQueue{}, Now: func() time.Time { return fixtureTime }})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(tc.body))
			req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(appSecret), tc.body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("answered %d", rec.Code)
			}
			if len(st.inline) != len(tc.want) {
				t.Fatalf("%d messages recorded, want %d", len(st.inline), len(tc.want))
			}
			for i, got := range st.inline {
				if got != tc.want[i] {
					t.Errorf("message %d recorded inline = %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}
