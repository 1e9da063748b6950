package carrierfake_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/carrier/twilio"
	"github.com/aloro/wa-senders/shared/carrierfake"
)

// TestRemoteCodeSenderDeliversSigned: a code sent through the control API arrives at the
// number's webhook as an SMS (or a call, then its transcription), signed as Twilio signs.
func TestRemoteCodeSenderDeliversSigned(t *testing.T) {
	t.Parallel()
	f := carrierfake.New(carrierfake.Options{})
	fakeSrv := httptest.NewServer(f)
	t.Cleanup(fakeSrv.Close)
	var mu sync.Mutex
	var got []url.Values
	var hookURL string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		p, _ := url.ParseQuery(string(raw))
		if err := carrier.VerifySignature(f.AuthToken(), hookURL+r.URL.Path, p, r.Header.Get(carrier.SignatureHeader)); err != nil {
			t.Errorf("%s: %v", r.URL.Path, err)
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if r.URL.Path == "/carrier/voice" {
			_, _ = io.WriteString(w, `<Response><Record transcribe="true" transcribeCallback="/carrier/voice/transcription"/></Response>`)
			return
		}
		_, _ = io.WriteString(w, `<Response/>`)
	}))
	t.Cleanup(hook.Close)
	hookURL = hook.URL
	tw := twilio.New(twilio.Options{BaseURL: fakeSrv.URL, AccountSID: f.AccountSID(), AuthToken: f.AuthToken()})
	ctx := context.Background()
	if _, err := tw.Buy(ctx, "+40721000001", carrier.Hooks{SMSURL: hook.URL + "/carrier/sms", VoiceURL: hook.URL + "/carrier/voice"}, ""); err != nil {
		t.Fatal(err)
	}
	send := carrierfake.RemoteCodeSender(fakeSrv.URL, nil)
	if err := send(ctx, "+40721000001", "SMS", "123456"); err != nil {
		t.Fatal(err)
	}
	if err := send(ctx, "+40721000001", "VOICE", "654321"); err != nil {
		t.Fatal(err)
	}
	if err := send(ctx, "+40721999999", "SMS", "123456"); err == nil {
		t.Fatal("a number not bought got a code")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d webhooks, want sms, call, transcription", len(got))
	}
	if c, ok := carrier.ExtractCode(got[0].Get("Body")); !ok || c != "123456" {
		t.Errorf("sms body has %q", c)
	}
	if got[1].Get("CallSid") == "" || !strings.Contains(got[2].Get("TranscriptionText"), "six five four") {
		t.Errorf("call %v, transcription %v", got[1], got[2])
	}
	if c, ok := carrier.ExtractCode(got[2].Get("TranscriptionText")); !ok || c != "654321" {
		t.Errorf("transcription has %q", c)
	}
}
