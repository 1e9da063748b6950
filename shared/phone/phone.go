// Package phone validates and normalises phone numbers with nyaruka/phonenumbers.
//
// Senders and recipients are stored in E.164 ("+40721234567"). Meta's payloads carry wa_ids,
// which are the same digits without the "+", except for WhatsApp's legacy forms of Mexican
// ("521…") and Brazilian (12 digits, no ninth digit) mobiles, which every parser here turns into
// the canonical number so one customer has one key whichever form arrives. Anything national ("0721 234 567") or formatted
// ("(123) 456-7890") is refused with a hint rather than guessed at: guessing a country for a
// business number is how messages end up at the wrong person.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is wrapped by every validation failure, so callers can map it to a 400 or a rejection.
var ErrInvalid = errors.New("invalid phone number")

// Error describes why a number was refused and how to write it instead.
type Error struct {
	Input string
	// Reason is a short machine-friendly cause: "empty", "not_e164", "unparseable", "invalid".
	Reason string
	// Hint tells the caller what to send instead.
	Hint string
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("invalid phone number (%s)", e.Reason)
	}
	return fmt.Sprintf("invalid phone number (%s): %s", e.Reason, e.Hint)
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *Error) Unwrap() error { return ErrInvalid }

const e164Hint = "use E.164: a plus sign, the country code and the number, digits only, e.g. +40721234567"

// maxInputLen bounds the work done on hostile input before the parser sees it.
const maxInputLen = 64

// ParseE164 accepts only strict E.164 ("+" then 8–15 digits, no spaces or punctuation) that
// phonenumbers considers a valid number, and returns it in canonical E.164.
func ParseE164(s string) (string, error) {
	if s == "" {
		return "", &Error{Input: s, Reason: "empty", Hint: e164Hint}
	}
	if len(s) > maxInputLen || !strings.HasPrefix(s, "+") || !allDigits(s[1:]) {
		return "", &Error{Input: s, Reason: "not_e164", Hint: e164Hint}
	}
	return parse(s, true)
}

// FromWaID turns Meta's wa_id digits ("40721234567") into E.164. It also accepts E.164 itself.
// It is lenient (a possible number is enough) because Meta wrote it, and Meta's own test numbers
// (+1 555 …) are not valid in any numbering plan.
func FromWaID(s string) (string, error) {
	if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	if s == "" || len(s) > maxInputLen || !allDigits(s) {
		return "", &Error{Input: s, Reason: "not_e164", Hint: "use wa_id digits (country code and number) or E.164"}
	}
	return parse("+"+s, false)
}

// ParseRecipient accepts what an internal caller may send as a recipient: strict E.164, or wa_id
// digits that form a valid number.
func ParseRecipient(s string) (string, error) {
	if strings.HasPrefix(s, "+") {
		return ParseE164(s)
	}
	if s == "" || len(s) > maxInputLen || !allDigits(s) {
		return "", &Error{Input: s, Reason: "not_e164", Hint: e164Hint + " (or wa_id digits such as 40721234567)"}
	}
	return parse("+"+s, true)
}

// WaID returns the wa_id form (digits, no "+") of an E.164 number.
func WaID(e164 string) string { return strings.TrimPrefix(e164, "+") }

// Display parses Meta's display_phone_number, which is usually bare digits but sometimes
// formatted ("+250 788 123 200"), into E.164. It is lenient because Meta, not a user, wrote it.
func Display(s string) (string, error) {
	if len(s) > maxInputLen {
		return "", &Error{Input: s, Reason: "not_e164", Hint: e164Hint}
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '+' || r == '(' || r == ')' || r == '.':
		default:
			return "", &Error{Input: s, Reason: "not_e164", Hint: e164Hint}
		}
	}
	if b.Len() == 0 {
		return "", &Error{Input: s, Reason: "empty", Hint: e164Hint}
	}
	return parse("+"+b.String(), false)
}

// parse checks s ("+" and digits) with phonenumbers. strict requires a valid number in its
// country's plan; otherwise a possible number (right length for the country) is enough.
func parse(s string, strict bool) (string, error) {
	num, err := phonenumbers.Parse(s, "")
	if err != nil {
		return "", &Error{Input: s, Reason: "unparseable", Hint: e164Hint}
	}
	if !phonenumbers.IsValidNumber(num) {
		if canon, ok := legacyMobile(num); ok {
			// A legacy wa_id form of a valid mobile number: one customer, one canonical key.
			return phonenumbers.Format(canon, phonenumbers.E164), nil
		}
	}
	if strict && !phonenumbers.IsValidNumber(num) || !strict && !phonenumbers.IsPossibleNumber(num) {
		return "", &Error{Input: s, Reason: "invalid", Hint: "the number does not exist in its country's numbering plan; check the country code and digits"}
	}
	if !strict {
		// Meta's digits are the customer's identity there: keep them verbatim.
		return s, nil
	}
	out := phonenumbers.Format(num, phonenumbers.E164)
	if out != s {
		// The library dropped a national prefix ("+82 0…"); accept only a stable canonical form.
		if again, err := phonenumbers.Parse(out, ""); err != nil || phonenumbers.Format(again, phonenumbers.E164) != out || !phonenumbers.IsValidNumber(again) {
			return "", &Error{Input: s, Reason: "invalid", Hint: e164Hint}
		}
	}
	return out, nil
}

// Country codes whose mobile numbers WhatsApp may still carry in a legacy form.
const (
	countryMexico = 52
	countryBrazil = 55
)

// legacyMobile turns WhatsApp's legacy wa_id forms into the valid mobile number they stand for:
// Mexico's "521" + 10 digits (the mobile prefix "1" dropped from the plan in 2019) and Brazil's
// 12-digit ids without the ninth digit of mobile numbers (area code + 8 digits). Only a number
// that is invalid as written and valid (a mobile in Brazil) once rewritten is changed.
func legacyMobile(num *phonenumbers.PhoneNumber) (*phonenumbers.PhoneNumber, bool) {
	national := phonenumbers.GetNationalSignificantNumber(num)
	var rewritten string
	switch num.GetCountryCode() {
	case countryMexico:
		if len(national) != 11 || national[0] != '1' {
			return nil, false
		}
		rewritten = "+52" + national[1:]
	case countryBrazil:
		if len(national) != 10 || national[2] < '6' {
			return nil, false
		}
		rewritten = "+55" + national[:2] + "9" + national[2:]
	default:
		return nil, false
	}
	canon, err := phonenumbers.Parse(rewritten, "")
	if err != nil || !phonenumbers.IsValidNumber(canon) {
		return nil, false
	}
	if num.GetCountryCode() == countryBrazil && phonenumbers.GetNumberType(canon) != phonenumbers.MOBILE {
		return nil, false
	}
	return canon, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
