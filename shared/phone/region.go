package phone

import (
	"fmt"

	"github.com/nyaruka/phonenumbers"
)

// Region returns the ISO 3166-1 country ("RO") of an E.164 number, or an error when the
// numbering plan names none.
func Region(e164 string) (string, error) {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "", &Error{Input: e164, Reason: "unparseable", Hint: e164Hint}
	}
	r := phonenumbers.GetRegionCodeForNumber(n)
	if r == "" || r == "ZZ" {
		return "", fmt.Errorf("no country for this number: %w", ErrInvalid)
	}
	return r, nil
}

// IsRegion reports whether s is a two-letter region phonenumbers knows ("RO", "US").
func IsRegion(s string) bool {
	return len(s) == 2 && phonenumbers.GetCountryCodeForRegion(s) != 0
}

// Split returns the country calling code ("40") and the national significant number
// ("721234567") of an E.164 number.
func Split(e164 string) (cc, national string, err error) {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "", "", &Error{Input: e164, Reason: "unparseable", Hint: e164Hint}
	}
	return fmt.Sprint(n.GetCountryCode()), phonenumbers.GetNationalSignificantNumber(n), nil
}
