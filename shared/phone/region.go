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
