package whatsapp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addFixtureSeeds seeds a fuzzer with every payload fixture.
func addFixtureSeeds(f *testing.F, add func(body []byte)) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(body)
	}
}

// FuzzParseNotification parses and decodes every change of arbitrary bodies: it must never panic,
// and every error must be the typed one.
func FuzzParseNotification(f *testing.F) {
	addFixtureSeeds(f, func(body []byte) { f.Add(body) })
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"id":1e400,"time":"x","changes":[{"field":"messages","value":null}]}]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"business_capability_update","value":{"max_daily_conversations_per_business":-1e308}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := ParseNotification(body)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("untyped parse error: %v", err)
			}
			return
		}
		for _, e := range n.Entry {
			for _, c := range e.Changes {
				v, err := c.Decode()
				if err != nil {
					var de *DecodeError
					if !errors.As(err, &de) {
						t.Fatalf("untyped decode error: %v", err)
					}
					continue
				}
				exercise(v)
			}
		}
	})
}

// exercise calls the helpers a handler would call on a decoded value.
func exercise(v any) {
	switch v := v.(type) {
	case *MessagesValue:
		_, _ = v.Metadata.DisplayE164()
		for i := range v.Messages {
			m := &v.Messages[i]
			_ = m.Content()
			_ = m.HasFreeEntryReferral()
			_ = m.IsReply()
			_, _ = m.Customer(v.Contacts).E164()
		}
		for i := range v.Statuses {
			_, _ = v.Statuses[i].Customer(v.Contacts).E164()
		}
	case *PhoneNumberQualityUpdate:
		v.Limit().Limit()
		v.OldLimit.Limit()
	case *BusinessCapabilityUpdate:
		v.Limit().Limit()
	case *AccountUpdate:
		if v.BanInfo != nil {
			_ = v.BanInfo.State()
		}
		for _, r := range v.RestrictionInfo {
			_ = r.Expiration.IsSet()
		}
	}
}

// FuzzVerifySignature checks that verification never panics, only returns the sentinels, accepts
// exactly the signature Sign produces (modulo case and surrounding space), and never verifies
// without a secret.
func FuzzVerifySignature(f *testing.F) {
	secret := []byte("local-app-secret")
	addFixtureSeeds(f, func(body []byte) { f.Add(secret, body, Sign(secret, body)) })
	f.Add([]byte{}, []byte("{}"), Sign(nil, []byte("{}")))
	f.Add([]byte("k"), []byte("{}"), "sha256=")
	f.Add([]byte("k"), []byte("{}"), "SHA256="+strings.Repeat("A", 64))
	f.Add([]byte("k"), []byte(nil), "sha256=zz")
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		err := VerifySignature(secret, body, header)
		if verr := NewVerifier(secret).Verify(body, header); fmt.Sprint(verr) != fmt.Sprint(err) {
			t.Fatalf("Verifier.Verify() = %v, VerifySignature() = %v", verr, err)
		}
		if err != nil && !errors.Is(err, ErrNoSecret) && !errors.Is(err, ErrMissingSignature) &&
			!errors.Is(err, ErrMalformedSignature) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(secret) == 0 {
			if !errors.Is(err, ErrNoSecret) {
				t.Fatalf("empty secret gave %v", err)
			}
			return
		}
		want := Sign(secret, body)
		if err == nil && !strings.EqualFold(strings.TrimSpace(header), want) {
			t.Fatalf("header %q verified but Sign gives %q", header, want)
		}
		if err := VerifySignature(secret, body, want); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
	})
}

// FuzzFlexTypes feeds arbitrary JSON values to every tolerant type.
func FuzzFlexTypes(f *testing.F) {
	for _, s := range []string{`"1764000000"`, `1764000000`, `1e400`, `-1`, `"TIER_1K"`, `"UNLIMITED"`, `null`,
		`"2025-12-01T16:00:00+0000"`, `{"previous":"US.1","current":"US.2"}`, `["DISABLE"]`, `"TIER_99999999999999999999K"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, _ = decodeField[UnixTime](raw)
		_, _ = decodeField[FlexInt](raw)
		_, _ = decodeField[ID](raw)
		_, _ = decodeField[NullString](raw)
		_, _ = decodeField[StringList](raw)
		_, _ = decodeField[Expiration](raw)
		_, _ = decodeField[UserIDChange](raw)
		if tier, err := decodeField[Tier](raw); err == nil {
			n, unl, known := tier.Limit()
			if n < 0 || unl && n != 0 || !known && (n != 0 || unl) {
				t.Fatalf("%q: Limit() = %d, %v, %v", raw, n, unl, known)
			}
		}
		_, _, _ = Tier(raw).Limit()
	})
}
