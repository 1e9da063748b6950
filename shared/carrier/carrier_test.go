package carrier

import (
	"errors"
	"net/url"
	"testing"
)

func TestExtractCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, text, want string
		ok               bool
	}{
		{"sms hyphen", "<#> Your WhatsApp Business code 123-456. Don't share it.", "123456", true},
		{"sms plain", "Your code is 654321", "654321", true},
		{"sms spaced", "code: 111 222", "111222", true},
		{"voice words", "Your verification code is one two three four five six.", "123456", true},
		{"voice words repeated", "Your code is nine eight seven six five four. Again, nine eight seven six five four.", "987654", true},
		{"voice numerals", "Your code is 9 8 7 6 5 4 once again 9 8 7 6 5 4", "987654", true},
		{"voice run twice", "code 4 0 4 0 4 0 4 0 4 0 4 0", "404040", true},
		{"voice mixed", "zero oh 1 two 3 four", "001234", true},
		{"repeat disagrees", "123456123457", "", false},
		{"too short", "your code is 12345", "", false},
		{"too long", "call 0721234567 now", "", false},
		{"no digits", "hello there", "", false},
		{"empty", "", "", false},
		{"broken by slash", "123/456", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ExtractCode(c.text)
			if got != c.want || ok != c.ok {
				t.Fatalf("ExtractCode(%q) = %q, %v; want %q, %v", c.text, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	params := url.Values{"To": {"+40721000001"}, "Body": {"code 123-456"}, "MessageSid": {"SM1"}, "AccountSid": {"AC1"}}
	const u = "https://api.example.com/carrier/sms"
	sig := Sign("token", u, params)
	if err := VerifySignature("token", u, params, sig); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}
	tampered := url.Values{}
	for k, v := range params {
		tampered[k] = v
	}
	tampered.Set("Body", "code 999-999")
	cases := []struct {
		name, token, url, header string
		params                   url.Values
		want                     error
	}{
		{"no token", "", u, sig, params, ErrNoSecret},
		{"no header", "token", u, "", params, ErrMissingSignature},
		{"other token", "other", u, sig, params, ErrBadSignature},
		{"other url", "token", u + "?x=1", sig, params, ErrBadSignature},
		{"tampered body", "token", u, sig, tampered, ErrBadSignature},
	}
	for _, c := range cases {
		if err := VerifySignature(c.token, c.url, c.params, c.header); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// TestSignKnownVector pins the algorithm: the string signed is the URL then the parameters
// sorted by name, name before value, with no separators.
func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	got := Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", url.Values{
		"Digits": {"1234"}, "To": {"+18005551212"}, "From": {"+14158675310"}, "Caller": {"+14158675310"},
		"CallSid": {"CA1234567890ABCDE"},
	})
	// Computed independently: printf '%s' 'https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675310Digits1234From+14158675310To+18005551212' | openssl dgst -sha1 -hmac 12345 -binary | base64
	const want = "GvWf1cFY/Q7PnoempGyD5oXAezc="
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestParseInbound(t *testing.T) {
	t.Parallel()
	sms, err := ParseInbound(InboundSMS, url.Values{"MessageSid": {"SM1"}, "To": {"+1"}, "Body": {"b"}})
	if err != nil || sms.ID != "SM1" || sms.Text != "b" {
		t.Fatalf("sms: %+v %v", sms, err)
	}
	tr, err := ParseInbound(InboundTranscription, url.Values{"CallSid": {"CA1"}, "To": {"+1"},
		"TranscriptionText": {"one"}, "TranscriptionStatus": {"completed"}})
	if err != nil || tr.ID != "CA1" || tr.Status != "completed" {
		t.Fatalf("transcription: %+v %v", tr, err)
	}
	for _, c := range []struct {
		kind string
		p    url.Values
	}{{InboundSMS, url.Values{"To": {"+1"}}}, {InboundCall, url.Values{"CallSid": {"CA1"}}}, {"fax", url.Values{"To": {"+1"}}}} {
		if _, err := ParseInbound(c.kind, c.p); !errors.Is(err, ErrNotInbound) {
			t.Errorf("%s %v: got %v, want ErrNotInbound", c.kind, c.p, err)
		}
	}
}
