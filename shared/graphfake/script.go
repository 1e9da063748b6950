package graphfake

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// Path patterns for Script.Path. A pattern is a path.Match glob over the request path without its
// version ("{id}/{edge}" or "{id}"); a leading "/" and a leading version segment are ignored, so
// "/v24.0/123/messages", "123/messages" and "*/messages" all work. Empty matches everything.
const (
	PathMessages    = "*/messages"
	PathRequestCode = "*/request_code"
	PathVerifyCode  = "*/verify_code"
	PathRegister    = "*/register"
	PathDeregister  = "*/deregister"
	PathNode        = "*" // GET /{id}?fields=… (and POST /{id})
)

// Script is one scripted answer, consumed in order (first match wins) before the default
// behaviour. What it answers:
//   - Drop: the connection is closed without an answer (after Delay);
//   - LoseAnswer: the default behaviour runs, then the connection is closed without an answer;
//   - Body: that body with Status (default 200);
//   - ErrorCode: Meta's error body for the code, with Status (default StatusForCode);
//   - Status only: that status with an empty body;
//   - Delay only: the default behaviour, late.
type Script struct {
	// Path is a pattern (see PathMessages); empty matches every Graph request.
	Path string `json:"path,omitempty"`
	// Method restricts the match ("POST", "GET"); empty matches any.
	Method string `json:"method,omitempty"`
	// PhoneNumberID restricts the match to one sending number / node.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// Recipient restricts the match to sends whose `to` (compared as digits) or `recipient` equals it.
	Recipient string `json:"recipient,omitempty"`

	Status       int    `json:"status,omitempty"`
	Body         string `json:"body,omitempty"`
	ErrorCode    int    `json:"error_code,omitempty"`
	ErrorSubcode int    `json:"error_subcode,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	ErrorDetails string `json:"error_details,omitempty"`
	// Delay holds the answer back; in JSON a duration string ("150ms") or a number of milliseconds.
	Delay time.Duration `json:"-"`
	// Drop hijacks the connection and resets it without acting: the client sees a transport error.
	Drop bool `json:"drop,omitempty"`
	// LoseAnswer runs the default behaviour (a send is accepted and recorded) and then resets the
	// connection instead of answering: Meta acted, the client saw a transport error. This is the
	// case that makes a blind retry send twice.
	LoseAnswer bool `json:"lose_answer,omitempty"`
	// Times is how many requests this script answers: 0 means once, -1 until cleared.
	Times int `json:"times,omitempty"`
}

// MarshalJSON writes Delay as a duration string.
func (s Script) MarshalJSON() ([]byte, error) {
	type plain Script
	out := struct {
		plain
		Delay string `json:"delay,omitempty"`
	}{plain: plain(s)}
	if s.Delay > 0 {
		out.Delay = s.Delay.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads Delay as a duration string or a number of milliseconds.
func (s *Script) UnmarshalJSON(b []byte) error {
	type plain Script
	var in struct {
		plain
		Delay json.RawMessage `json:"delay,omitempty"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*s = Script(in.plain)
	d, err := parseDelay(in.Delay)
	if err != nil {
		return err
	}
	s.Delay = d
	return nil
}

// parseDelay accepts "150ms" or 150 (milliseconds).
func parseDelay(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		d, err := time.ParseDuration(str)
		if err != nil {
			return 0, fmt.Errorf("delay %q: %w", str, err)
		}
		return d, nil
	}
	var ms float64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return 0, fmt.Errorf("delay: want a duration string or milliseconds: %w", err)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// answers reports whether the script decides the answer itself (rather than only delaying).
func (s Script) answers() bool {
	return s.Drop || s.LoseAnswer || s.Body != "" || s.ErrorCode != 0 || s.Status != 0
}

// scriptEntry is a queued script with its remaining uses.
type scriptEntry struct {
	Script
	pattern string
	left    int // -1 = unlimited
}

var versionSegment = regexp.MustCompile(`^v\d+(\.\d+)?$`)

// normalisePattern strips a leading "/" and version segment from a Script.Path.
func normalisePattern(p string) string {
	p = strings.TrimPrefix(p, "/")
	if first, rest, ok := strings.Cut(p, "/"); ok && versionSegment.MatchString(first) {
		p = rest
	}
	return p
}

func newEntry(s Script) (*scriptEntry, error) {
	e := &scriptEntry{Script: s, pattern: normalisePattern(s.Path), left: s.Times}
	if s.Times == 0 {
		e.left = 1
	}
	if s.Times < -1 {
		return nil, fmt.Errorf("script times %d: want -1 (forever), 0 (once) or a count", s.Times)
	}
	if _, err := path.Match(e.pattern, ""); err != nil {
		return nil, fmt.Errorf("script path %q: %w", s.Path, err)
	}
	if s.Status != 0 && (s.Status < 100 || s.Status > 599) {
		return nil, fmt.Errorf("script status %d out of range", s.Status)
	}
	return e, nil
}

// match reports whether e applies to the request.
func (e *scriptEntry) match(r *call) bool {
	if e.left == 0 {
		return false
	}
	if e.Method != "" && !strings.EqualFold(e.Method, r.method) {
		return false
	}
	if e.PhoneNumberID != "" && e.PhoneNumberID != r.id {
		return false
	}
	if e.pattern != "" {
		if ok, _ := path.Match(e.pattern, r.route); !ok {
			return false
		}
	}
	if e.Recipient != "" {
		if r.recipient != e.Recipient && (r.toDigits == "" || r.toDigits != digitsOnly(e.Recipient)) {
			return false
		}
	}
	return true
}

func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
