package phone

import (
	"errors"
	"testing"
)

func TestParseE164(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want, reason string
	}{
		{name: "romanian mobile", in: "+40721234567", want: "+40721234567"},
		{name: "us number", in: "+16505551234", want: "+16505551234"},
		{name: "national format refused", in: "0721 234 567", reason: "not_e164"},
		{name: "us formatted refused", in: "(123) 456-7890", reason: "not_e164"},
		{name: "spaces refused", in: "+40 721 234 567", reason: "not_e164"},
		{name: "empty", in: "", reason: "empty"},
		{name: "no plus", in: "40721234567", reason: "not_e164"},
		{name: "too short", in: "+4072", reason: "invalid"},
		{name: "unknown country", in: "+99912345678", reason: "unparseable"},
		{name: "huge", in: "+" + string(make([]byte, 100)), reason: "not_e164"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseE164(tc.in)
			if tc.reason == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ParseE164(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseE164(%q) err = %v; want *Error", tc.in, err)
			}
			if pe.Reason != tc.reason && !(tc.reason == "unparseable" && pe.Reason == "invalid") {
				t.Fatalf("reason = %q; want %q", pe.Reason, tc.reason)
			}
			if pe.Hint == "" {
				t.Fatal("no hint")
			}
		})
	}
}

func TestFromWaIDAndDisplay(t *testing.T) {
	t.Parallel()
	if got, err := FromWaID("16505551234"); err != nil || got != "+16505551234" {
		t.Fatalf("FromWaID = %q, %v", got, err)
	}
	if _, err := FromWaID("US.1234"); err == nil {
		t.Fatal("BSUID accepted as wa_id")
	}
	if got, err := Display("+250 788 123 200"); err != nil || got != "+250788123200" {
		t.Fatalf("Display = %q, %v", got, err)
	}
	if got, err := Display("15550783881"); err != nil || got != "+15550783881" {
		t.Fatalf("Display = %q, %v", got, err)
	}
	if _, err := ParseRecipient("0721234567"); err == nil {
		t.Fatal("national number accepted as recipient")
	}
	if got, err := ParseRecipient("40721234567"); err != nil || got != "+40721234567" {
		t.Fatalf("ParseRecipient = %q, %v", got, err)
	}
	if WaID("+40721234567") != "40721234567" {
		t.Fatal("WaID")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"+40721234567", "0721 234 567", "(123) 456-7890", "", "+", "US.123", "+1\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fn := range []func(string) (string, error){ParseE164, FromWaID, Display, ParseRecipient} {
			got, err := fn(s)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error not ErrInvalid: %v", err)
				}
				continue
			}
			// A result is canonical: parsing it again yields itself.
			again, err := FromWaID(got)
			if err != nil || again != got {
				t.Fatalf("%q -> %q not canonical (%q, %v)", s, got, again, err)
			}
		}
	})
}

// TestLegacyWaIDForms: WhatsApp's legacy ids of Mexican and Brazilian mobiles are the customer
// of the canonical number whichever parser reads them; numbers valid as written are untouched.
func TestLegacyWaIDForms(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"mexico 521", "5215512345678", "+525512345678"},
		{"mexico canonical", "525512345678", "+525512345678"},
		{"brazil without the ninth digit", "551187654321", "+5511987654321"},
		{"brazil rio without the ninth digit", "552187654321", "+5521987654321"},
		{"brazil canonical mobile", "5511987654321", "+5511987654321"},
		{"brazil landline kept", "551133334444", "+551133334444"},
	}
	parsers := map[string]func(string) (string, error){
		"FromWaID": FromWaID, "ParseRecipient": ParseRecipient, "Display": Display,
		"ParseE164": func(s string) (string, error) { return ParseE164("+" + s) },
	}
	for _, tc := range cases {
		for pname, parse := range parsers {
			t.Run(tc.name+"/"+pname, func(t *testing.T) {
				t.Parallel()
				if got, err := parse(tc.in); err != nil || got != tc.want {
					t.Fatalf("%s(%q) = %q, %v; want %q", pname, tc.in, got, err, tc.want)
				}
			})
		}
	}
}
