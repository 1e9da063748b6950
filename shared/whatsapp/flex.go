package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Meta is inconsistent about JSON types (timestamps are strings in messages and integers
// elsewhere, ids are sometimes unquoted numbers, limits are numbers or TIER_* names, some strings
// are null). The types in this file accept every shape seen, and turn hostile input (huge numbers,
// objects where a scalar belongs) into a clean error instead of a panic or a silent wrap-around.

// maxUnixSeconds is 9999-12-31T23:59:59Z: anything later is a unit mix-up (milliseconds) or garbage.
const maxUnixSeconds = 253402300799

// maxLimit bounds numeric messaging limits; real ones are at most 100,000 a day.
const maxLimit = 1 << 40

// FlexError reports a JSON value that a tolerant type could not interpret.
type FlexError struct {
	// Type is the Go type being decoded, e.g. "UnixTime".
	Type string
	// Value is the offending JSON, truncated to keep logs small.
	Value string
	// Reason says what was wrong ("out of range", "not a number", ...).
	Reason string
}

// Error implements error.
func (e *FlexError) Error() string {
	return fmt.Sprintf("whatsapp: cannot decode %s from %s: %s", e.Type, e.Value, e.Reason)
}

func flexErr(typ string, b []byte, reason string) error {
	v := b
	if len(v) > 40 {
		v = append(append([]byte(nil), v[:40]...), "..."...)
	}
	return &FlexError{Type: typ, Value: string(v), Reason: reason}
}

// scalarKind is the JSON kind of a value handed to UnmarshalJSON.
type scalarKind int

const (
	kindNull scalarKind = iota
	kindString
	kindNumber
	kindBool
	kindComposite // object or array
)

// scalar classifies a JSON value handed to UnmarshalJSON. For strings it returns the unquoted text.
func scalar(b []byte) (scalarKind, string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return kindNull, "", nil
	}
	switch b[0] {
	case 'n':
		return kindNull, "", nil
	case 't', 'f':
		return kindBool, string(b), nil
	case '{', '[':
		return kindComposite, "", nil
	case '"':
		s, err := unquote(b)
		return kindString, s, err
	default:
		return kindNumber, string(b), nil
	}
}

// unquote decodes a JSON string literal, with a copy-only fast path for the common case of no
// escapes (encoding/json has already validated the literal before calling UnmarshalJSON).
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), nil
		}
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", err
	}
	return s, nil
}

// parseWhole parses a decimal integer, also accepting a float form ("1.764e9", "2000.0"); a
// fractional part is truncated when truncate is set and refused otherwise. ok is false when s is
// not a number or does not fit in an int64.
func parseWhole(s string, truncate bool) (n int64, ok bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/2 || f < math.MinInt64/2 {
		return 0, false
	}
	if f != math.Trunc(f) && !truncate {
		return 0, false
	}
	return int64(f), true
}

// numberReason tells "a number, but too big" from "not a number" for error messages.
func numberReason(s string) string {
	if _, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return "out of range"
	}
	return "not a number"
}

// UnixTime is a point in time in whole Unix seconds. It decodes from a JSON string ("1764000000",
// as in messages and statuses), a number (as in entry.time and user_preferences), a float, or null
// (zero). Values outside year 0..9999 are an error, not a silent wrap-around.
type UnixTime int64

// UnmarshalJSON implements json.Unmarshaler.
func (t *UnixTime) UnmarshalJSON(b []byte) error {
	kind, s, err := scalar(b)
	if err != nil {
		return err
	}
	switch kind {
	case kindNull:
		*t = 0
		return nil
	case kindString:
		s = strings.TrimSpace(s)
		if s == "" {
			*t = 0
			return nil
		}
	case kindNumber:
	default:
		return flexErr("UnixTime", b, "not a number")
	}
	n, ok := parseWhole(s, true)
	if !ok {
		return flexErr("UnixTime", b, numberReason(s))
	}
	if n < 0 || n > maxUnixSeconds {
		return flexErr("UnixTime", b, "out of range")
	}
	*t = UnixTime(n)
	return nil
}

// Time returns t as a UTC time.Time; the zero UnixTime gives the zero time.Time.
func (t UnixTime) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0).UTC()
}

// IsZero reports whether the timestamp was absent or null.
func (t UnixTime) IsZero() bool { return t == 0 }

// FlexInt is an integer that may arrive as a JSON number or a numeric string; null is zero.
// Values that do not fit in an int64 are an error.
type FlexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *FlexInt) UnmarshalJSON(b []byte) error {
	kind, s, err := scalar(b)
	if err != nil {
		return err
	}
	switch kind {
	case kindNull:
		*n = 0
		return nil
	case kindString:
		s = strings.TrimSpace(s)
		if s == "" {
			*n = 0
			return nil
		}
	case kindNumber:
	default:
		return flexErr("FlexInt", b, "not a number")
	}
	v, ok := parseWhole(s, false)
	if !ok {
		return flexErr("FlexInt", b, "not an integer in range")
	}
	*n = FlexInt(v)
	return nil
}

// ID is an identifier that Meta sends as a string but sometimes as an unquoted number (template
// ids, WABA ids in some partner payloads). Numbers keep their literal digits, so no precision is
// lost to float64. null is the empty ID.
type ID string

// UnmarshalJSON implements json.Unmarshaler.
func (id *ID) UnmarshalJSON(b []byte) error {
	kind, s, err := scalar(b)
	if err != nil {
		return err
	}
	switch kind {
	case kindNull:
		*id = ""
	case kindString, kindNumber:
		*id = ID(s)
	default:
		return flexErr("ID", b, "not a string or number")
	}
	return nil
}

// String returns the id text.
func (id ID) String() string { return string(id) }

// NullString is a string that may be null (rejection_reason, template reason) or, tolerantly, a
// bare number or boolean, which keeps its literal text. Objects and arrays are an error.
type NullString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *NullString) UnmarshalJSON(b []byte) error {
	kind, v, err := scalar(b)
	if err != nil {
		return err
	}
	if kind == kindComposite {
		return flexErr("NullString", b, "not a string")
	}
	*s = NullString(v)
	return nil
}

// String returns the text ("" for null).
func (s NullString) String() string { return string(s) }

// StringList is a list of strings that may arrive as a single string (waba_ban_state is a string
// in current payloads and an array in older documentation). null is an empty list.
type StringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *StringList) UnmarshalJSON(b []byte) error {
	kind, s, err := scalar(b)
	if err != nil {
		return err
	}
	switch kind {
	case kindNull:
		*l = nil
	case kindString:
		*l = StringList{s}
	case kindComposite:
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return flexErr("StringList", b, "not a string or list of strings")
		}
		*l = list
	default:
		return flexErr("StringList", b, "not a string or list of strings")
	}
	return nil
}

// First returns the first element, or "" when empty.
func (l StringList) First() string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// Expiration is an optional deadline (restriction_info.expiration) that Meta sends as Unix
// seconds or as an ISO 8601 string; null, "", absent and 0 all mean "no expiration".
type Expiration struct {
	// Time is the deadline in UTC; zero when there is none.
	Time time.Time
}

// expirationLayouts are the ISO 8601 forms seen from Graph endpoints ("+0000" without a colon
// is Graph's own format).
var expirationLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// UnmarshalJSON implements json.Unmarshaler.
func (e *Expiration) UnmarshalJSON(b []byte) error {
	kind, s, err := scalar(b)
	if err != nil {
		return err
	}
	switch kind {
	case kindNull:
		e.Time = time.Time{}
		return nil
	case kindString:
		s = strings.TrimSpace(s)
		if s == "" {
			e.Time = time.Time{}
			return nil
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			for _, layout := range expirationLayouts {
				if t, err := time.Parse(layout, s); err == nil {
					e.Time = t.UTC()
					return nil
				}
			}
			return flexErr("Expiration", b, "not Unix seconds or an ISO 8601 time")
		}
	case kindNumber:
	default:
		return flexErr("Expiration", b, "not Unix seconds or an ISO 8601 time")
	}
	var t UnixTime
	if err := t.UnmarshalJSON([]byte(s)); err != nil {
		return flexErr("Expiration", b, numberReason(s))
	}
	e.Time = t.Time()
	return nil
}

// MarshalJSON writes RFC 3339, or null when there is no expiration.
func (e Expiration) MarshalJSON() ([]byte, error) {
	if e.Time.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(e.Time.UTC().Format(time.RFC3339))
}

// IsSet reports whether there is a deadline.
func (e Expiration) IsSet() bool { return !e.Time.IsZero() }

// Tier is a messaging limit, normalised to a stable name: "TIER_50", "TIER_250", "TIER_2K",
// "TIER_10K", "TIER_100K", "TIER_UNLIMITED", "TIER_NOT_SET", or an unknown name kept verbatim
// (upper-cased) so that new tiers are reported rather than rejected.
//
// It decodes every shape Meta has used: TIER_* names (legacy TIER_1K becomes TIER_2K, its
// replacement since 2025-10-07), numbers (250, 1000, 2000, 10000, 100000; -1 is unlimited),
// numeric strings, and "UNLIMITED". Other whole numbers become "TIER_<n>" or "TIER_<n>K".
// The empty Tier means the field was absent or null.
type Tier string

// Known tiers. Tier1K is not listed: it is decoded as Tier2K.
const (
	TierNone      Tier = ""
	TierNotSet    Tier = "TIER_NOT_SET"
	Tier50        Tier = "TIER_50"
	Tier250       Tier = "TIER_250"
	Tier2K        Tier = "TIER_2K"
	Tier10K       Tier = "TIER_10K"
	Tier100K      Tier = "TIER_100K"
	TierUnlimited Tier = "TIER_UNLIMITED"
)

// UnmarshalJSON implements json.Unmarshaler.
func (t *Tier) UnmarshalJSON(b []byte) error {
	kind, s, err := scalar(b)
	if err != nil {
		return err
	}
	switch kind {
	case kindNull:
		*t = TierNone
		return nil
	case kindNumber:
		return t.fromNumber(b, s)
	case kindString:
		s = strings.ToUpper(strings.TrimSpace(s))
		switch {
		case s == "":
			*t = TierNone
		case s == "UNLIMITED":
			*t = TierUnlimited
		case s == "TIER_1K":
			*t = Tier2K
		case s[0] == '-' || s[0] >= '0' && s[0] <= '9':
			return t.fromNumber(b, s)
		default:
			*t = Tier(s)
		}
		return nil
	default:
		return flexErr("Tier", b, "not a tier name or number")
	}
}

func (t *Tier) fromNumber(b []byte, s string) error {
	n, ok := parseWhole(s, false)
	if !ok {
		return flexErr("Tier", b, "not an integer in range")
	}
	switch {
	case n == -1:
		*t = TierUnlimited
	case n < 0 || n > maxLimit:
		return flexErr("Tier", b, "out of range")
	case n == 1000:
		*t = Tier2K // legacy 1K tier
	case n >= 1000 && n%1000 == 0:
		*t = Tier("TIER_" + strconv.FormatInt(n/1000, 10) + "K")
	default:
		*t = Tier("TIER_" + strconv.FormatInt(n, 10))
	}
	return nil
}

// String returns the stable name ("" when absent).
func (t Tier) String() string { return string(t) }

// Limit interprets the tier. unlimited is true for TIER_UNLIMITED; otherwise n is the daily limit
// of business-initiated conversations. known is false when the tier carries no limit we can read:
// absent, TIER_NOT_SET, or an unrecognised name.
func (t Tier) Limit() (n int, unlimited bool, known bool) {
	switch t {
	case TierUnlimited:
		return 0, true, true
	case TierNone, TierNotSet:
		return 0, false, false
	}
	s, ok := strings.CutPrefix(string(t), "TIER_")
	if !ok || s == "" {
		return 0, false, false
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'K':
		mult, s = 1000, s[:len(s)-1]
	case 'M':
		mult, s = 1000000, s[:len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > maxLimit/mult {
		return 0, false, false
	}
	return int(v * mult), false, true
}
