package whatsapp

import (
	"errors"
	"fmt"

	"github.com/aloro/wa-senders/shared/phone"
)

// CustomerRef is a customer's identity as far as one message or status tells it. Since usernames
// (2026) the phone number is optional: key customers on UserID where present, with WaID as an
// optional attribute.
type CustomerRef struct {
	// UserID is the business-scoped user id (BSUID), e.g. "US.13491208655302741918".
	UserID string `json:"user_id,omitempty"`
	// WaID is the phone number digits, when Meta shared them.
	WaID string `json:"wa_id,omitempty"`
	// ParentUserID is the parent BSUID for linked portfolios ("US.ENT.…").
	ParentUserID string `json:"parent_user_id,omitempty"`
	ProfileName  string `json:"profile_name,omitempty"`
	Username     string `json:"username,omitempty"`
}

// ErrNoPhone is returned by CustomerRef.E164 when the customer's phone number was not shared.
var ErrNoPhone = errors.New("whatsapp: customer phone number not shared")

// IsZero reports whether no identity at all is known.
func (c CustomerRef) IsZero() bool { return c.UserID == "" && c.WaID == "" }

// E164 returns the customer's phone number in E.164, or ErrNoPhone when only a BSUID is known.
func (c CustomerRef) E164() (string, error) {
	if c.WaID == "" {
		return "", ErrNoPhone
	}
	e164, err := phone.FromWaID(c.WaID)
	if err != nil {
		return "", fmt.Errorf("customer wa_id: %w", err)
	}
	return e164, nil
}

// Customer returns the sender of m, combining from / from_user_id / from_parent_user_id with the
// matching entry of contacts (the value's contacts[]). from may hold either wa_id digits or, for
// username users without a recent exchange, the BSUID itself.
func (m *Message) Customer(contacts []Contact) CustomerRef {
	ref := CustomerRef{UserID: m.FromUserID, ParentUserID: m.FromParentUserID}
	ref.setEither(m.From)
	ref.fill(contacts)
	return ref
}

// Customer returns the recipient of the outbound message s, combining recipient_id /
// recipient_user_id / recipient_parent_user_id with the matching entry of contacts (statuses carry
// their own s.Contacts since 2026; failed statuses carry none). For group messages
// (RecipientType "group") RecipientID is the group, not a customer.
func (s *Status) Customer(contacts []Contact) CustomerRef {
	ref := CustomerRef{UserID: s.RecipientUserID, ParentUserID: s.RecipientParentUserID}
	ref.setEither(s.RecipientID)
	ref.fill(s.Contacts)
	ref.fill(contacts)
	return ref
}

// setEither files an identifier that may be wa_id digits or a BSUID.
func (c *CustomerRef) setEither(id string) {
	switch {
	case IsWaID(id):
		c.WaID = id
	case IsBSUID(id) && c.UserID == "":
		c.UserID = id
	}
}

// fill completes c from the contact that matches it. A contact matches on user_id or wa_id; a
// contact with no ids at all matches when it is the only one.
func (c *CustomerRef) fill(contacts []Contact) {
	var match *Contact
	for i := range contacts {
		k := &contacts[i]
		if c.UserID != "" && k.UserID == c.UserID || c.WaID != "" && k.WaID == c.WaID {
			match = k
			break
		}
	}
	if match == nil && len(contacts) == 1 && contacts[0].UserID == "" && contacts[0].WaID == "" {
		match = &contacts[0]
	}
	if match == nil {
		return
	}
	setIfEmpty(&c.UserID, match.UserID)
	setIfEmpty(&c.WaID, match.WaID)
	setIfEmpty(&c.ParentUserID, match.ParentUserID)
	setIfEmpty(&c.ProfileName, match.Profile.Name)
	setIfEmpty(&c.Username, match.Profile.Username)
}

func setIfEmpty(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// IsWaID reports whether s looks like wa_id digits (1 to 20 digits, no "+").
func IsWaID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsBSUID reports whether s looks like a business-scoped user id: a two-letter upper-case
// country code, ".", then dot-separated alphanumeric segments ("US.13491208655302741918",
// parent ids "US.ENT.11815799212886844830"), at most 128 characters after the country code
// plus room for the ENT segment.
func IsBSUID(s string) bool {
	if len(s) < 4 || len(s) > 3+4+128 || s[2] != '.' || !isUpper(s[0]) || !isUpper(s[1]) {
		return false
	}
	rest := s[3:]
	prevDot := true
	for i := 0; i < len(rest); i++ {
		ch := rest[i]
		switch {
		case ch == '.':
			if prevDot {
				return false
			}
			prevDot = true
		case ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z':
			prevDot = false
		default:
			return false
		}
	}
	return !prevDot
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// DisplayE164 returns the business number of the metadata in E.164. display_phone_number is
// usually bare digits but sometimes formatted ("+250 788 123 200").
func (md Metadata) DisplayE164() (string, error) {
	e164, err := phone.Display(md.DisplayPhoneNumber)
	if err != nil {
		return "", fmt.Errorf("display_phone_number: %w", err)
	}
	return e164, nil
}
