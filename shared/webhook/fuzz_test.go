package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// FuzzPOST drives the handler with arbitrary bodies, signed (so that parsing and every effect
// path run) or carrying an arbitrary signature header, seeded from the sample events. Storage
// and queue are ports that do nothing: this is about the handler never panicking and answering
// only 200 (applied or parked) to a signed body and 401 to anything else. Run it with
// go test -fuzz FuzzPOST ./shared/webhook/.
func FuzzPOST(f *testing.F) {
	root := repoRoot(f)
	files, _ := filepath.Glob(filepath.Join(root, "events", "webhook", "*.json"))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if json.Unmarshal(raw, &ev) != nil || ev.Body == "" || ev.IsBase64Encoded {
			continue
		}
		f.Add([]byte(ev.Body), true, ev.Headers["x-hub-signature-256"])
	}
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"id":1,"changes":[{"field":"messages","value":{"messages":[{"id":"x","type":"text","timestamp":"1e3"}]}}]}]}`), true, "")
	h, err := webhook.New(webhook.Config{AppSecret: appSecret, VerifyToken: verifyToken, InboundQueueURL: "in", OutboundQueueURL: "out"},
		webhook.Deps{Store: nopStore{}, Queue: nopQueue{}, Now: func() time.Time { return fixtureTime }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, sign bool, header string) {
		if sign {
			header = whatsapp.Sign([]byte(appSecret), body)
		}
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		req.Header.Set(whatsapp.SignatureHeader, header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		valid := whatsapp.VerifySignature([]byte(appSecret), body, header) == nil
		switch {
		case valid && rec.Code != http.StatusOK:
			t.Fatalf("signed body answered %d", rec.Code)
		case !valid && rec.Code != http.StatusUnauthorized:
			t.Fatalf("unsigned body answered %d", rec.Code)
		}
	})
}

func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}
