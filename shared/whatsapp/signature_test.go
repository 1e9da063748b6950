package whatsapp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	secret := []byte("local-app-secret")
	// Meta signs its own escaping: the same text re-serialised differently must not verify.
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"text":"Caf\u00e9"}}]}]}`)
	good := Sign(secret, body)

	tests := []struct {
		name    string
		secret  []byte
		body    []byte
		header  string
		wantErr error
	}{
		{name: "valid", secret: secret, body: body, header: good},
		{name: "valid upper-case hex", secret: secret, body: body, header: "sha256=" + strings.ToUpper(good[len("sha256="):])},
		{name: "valid upper-case prefix", secret: secret, body: body, header: "SHA256=" + good[len("sha256="):]},
		{name: "valid surrounding space", secret: secret, body: body, header: "  " + good + " "},
		{name: "empty secret never skips", secret: nil, body: body, header: good, wantErr: ErrNoSecret},
		{name: "empty secret without header", secret: []byte{}, body: body, header: "", wantErr: ErrNoSecret},
		{name: "missing header", secret: secret, body: body, header: "", wantErr: ErrMissingSignature},
		{name: "blank header", secret: secret, body: body, header: "   ", wantErr: ErrMissingSignature},
		{name: "sha1 prefix", secret: secret, body: body, header: "sha1=" + good[len("sha256="):], wantErr: ErrMalformedSignature},
		{name: "no prefix", secret: secret, body: body, header: good[len("sha256="):], wantErr: ErrMalformedSignature},
		{name: "short hex", secret: secret, body: body, header: good[:len(good)-2], wantErr: ErrMalformedSignature},
		{name: "long hex", secret: secret, body: body, header: good + "00", wantErr: ErrMalformedSignature},
		{name: "not hex", secret: secret, body: body, header: "sha256=" + strings.Repeat("zz", 32), wantErr: ErrMalformedSignature},
		{name: "prefix only", secret: secret, body: body, header: "sha256=", wantErr: ErrMalformedSignature},
		{name: "wrong secret", secret: []byte("other"), body: body, header: good, wantErr: ErrBadSignature},
		{name: "re-serialised body", secret: secret, body: []byte(strings.Replace(string(body), `\u00e9`, "é", 1)), header: good, wantErr: ErrBadSignature},
		{name: "empty body", secret: secret, body: nil, header: good, wantErr: ErrBadSignature},
		{name: "all zero digest", secret: secret, body: body, header: "sha256=" + strings.Repeat("0", 64), wantErr: ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifySignature(tt.secret, tt.body, tt.header)
			v := NewVerifier(tt.secret)
			for i := range 3 { // its pooled HMAC is reused
				if verr := v.Verify(tt.body, tt.header); fmt.Sprint(verr) != fmt.Sprint(err) {
					t.Fatalf("Verifier.Verify() #%d = %v, VerifySignature() = %v", i, verr, err)
				}
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("VerifySignature() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifySignature() = %v, want %v", err, tt.wantErr)
			}
			for _, other := range []error{ErrNoSecret, ErrMissingSignature, ErrMalformedSignature, ErrBadSignature} {
				if other != tt.wantErr && errors.Is(err, other) {
					t.Errorf("error %v also matches %v; sentinels must be distinct", err, other)
				}
			}
		})
	}
}

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published test vector.
	got := Sign([]byte("key"), []byte("The quick brown fox jumps over the lazy dog"))
	want := "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	if got != want {
		t.Fatalf("Sign() = %s, want %s", got, want)
	}
}

func TestVerifyToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expected, got string
		want                bool
	}{
		{name: "match", expected: "local-verify-token", got: "local-verify-token", want: true},
		{name: "mismatch", expected: "local-verify-token", got: "local-verify-tokeN", want: false},
		{name: "prefix", expected: "local-verify-token", got: "local", want: false},
		{name: "empty got", expected: "local-verify-token", got: "", want: false},
		{name: "empty expected never matches", expected: "", got: "", want: false},
		{name: "empty expected with token", expected: "", got: "x", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := VerifyToken(tt.expected, tt.got); got != tt.want {
				t.Errorf("VerifyToken(%q, %q) = %v, want %v", tt.expected, tt.got, got, tt.want)
			}
		})
	}
}

func TestVerifyHandshake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, mode, token, expected string
		want                        bool
	}{
		{name: "ok", mode: "subscribe", token: "t", expected: "t", want: true},
		{name: "wrong mode", mode: "unsubscribe", token: "t", expected: "t"},
		{name: "no mode", mode: "", token: "t", expected: "t"},
		{name: "wrong token", mode: "subscribe", token: "u", expected: "t"},
		{name: "unset token", mode: "subscribe", token: "", expected: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := VerifyHandshake(tt.mode, tt.token, tt.expected); got != tt.want {
				t.Errorf("VerifyHandshake() = %v, want %v", got, tt.want)
			}
		})
	}
}
