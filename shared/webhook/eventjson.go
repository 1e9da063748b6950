package webhook

import (
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// encodeEvent renders an inbound event exactly as marshalASCII does (TestEncodeEventIsMarshalASCII
// and its fuzz target hold the two together), without reflection for the flat parts: the event
// is encoded once per message on the webhook's hot path. Nested Meta objects (context, referral,
// errors, location, contacts, order, raw) go through json.Marshal; a time json.Marshal would
// refuse sends the whole event through marshalASCII, errors included.
func encodeEvent(ev *InboundEvent) ([]byte, error) {
	if b, ok := appendEvent(make([]byte, 0, 512), ev); ok {
		return b, nil
	}
	// A copy, so that ev itself need not live on the heap.
	slow := *ev
	return marshalASCII(&slow)
}

func appendEvent(b []byte, ev *InboundEvent) ([]byte, bool) {
	ok := true
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(ev.Version), 10)
	b = appendField(b, "wamid", ev.WAMID)
	b = appendField(b, "waba_id", ev.WABAID)
	b = append(b, `,"sender":{"phone_number_id":`...)
	b = appendASCIIString(b, ev.Sender.PhoneNumberID)
	b = appendOmit(b, "phone", ev.Sender.Phone)
	b = append(b, `,"known":`...)
	b = strconv.AppendBool(b, ev.Sender.Known)
	b = append(b, `},"customer":{`...)
	n := len(b)
	c := &ev.Customer
	for _, f := range [...]struct{ k, v string }{{"user_id", c.UserID}, {"parent_user_id", c.ParentUserID},
		{"phone", c.Phone}, {"wa_id", c.WaID}, {"profile_name", c.ProfileName}, {"username", c.Username}} {
		if f.v == "" {
			continue
		}
		if len(b) > n {
			b = append(b, ',')
		}
		b = appendASCIIString(b, f.k)
		b = append(b, ':')
		b = appendASCIIString(b, f.v)
	}
	b = append(b, '}')
	b = appendField(b, "type", ev.Type)
	b = append(b, `,"content":`...)
	if b, ok = appendContent(b, ev); !ok {
		return nil, false
	}
	b = append(b, `,"timestamp":`...)
	if b, ok = appendTime(b, ev.Timestamp); !ok {
		return nil, false
	}
	if ev.Context != nil {
		if b, ok = appendMarshal(b, "context", ev.Context); !ok {
			return nil, false
		}
	}
	if ev.Referral != nil {
		if b, ok = appendMarshal(b, "referral", ev.Referral); !ok {
			return nil, false
		}
	}
	b = appendOmit(b, "group_id", ev.GroupID)
	if len(ev.Errors) > 0 {
		if b, ok = appendMarshal(b, "errors", ev.Errors); !ok {
			return nil, false
		}
	}
	if w := ev.Window; w != nil {
		b = append(b, `,"window":{"expires_at":`...)
		if b, ok = appendTime(b, w.ExpiresAt); !ok {
			return nil, false
		}
		b = append(b, `,"free_entry":`...)
		b = strconv.AppendBool(b, w.FreeEntry)
		b = append(b, '}')
	}
	if ev.StopKeyword {
		b = append(b, `,"stop_keyword":true`...)
	}
	if len(ev.Raw) > 0 {
		if b, ok = appendMarshal(b, "raw", ev.Raw); !ok {
			return nil, false
		}
	}
	if ev.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	b = append(b, `,"received_at":`...)
	if b, ok = appendTime(b, ev.ReceivedAt); !ok {
		return nil, false
	}
	return append(b, '}'), true
}

func appendContent(b []byte, ev *InboundEvent) ([]byte, bool) {
	c := &ev.Content
	ok := true
	b = append(b, `{"kind":`...)
	b = appendASCIIString(b, c.Kind)
	b = appendOmit(b, "subtype", c.Subtype)
	b = append(b, `,"supported":`...)
	b = strconv.AppendBool(b, c.Supported)
	for _, f := range [...]struct{ k, v string }{{"text", c.Text}, {"caption", c.Caption}, {"media_id", c.MediaID},
		{"mime_type", c.MimeType}, {"sha256", c.SHA256}, {"filename", c.Filename}, {"link", c.Link}} {
		b = appendOmit(b, f.k, f.v)
	}
	if c.Voice {
		b = append(b, `,"voice":true`...)
	}
	if c.Animated {
		b = append(b, `,"animated":true`...)
	}
	if c.Location != nil {
		if b, ok = appendMarshal(b, "location", c.Location); !ok {
			return nil, false
		}
	}
	if len(c.Contacts) > 0 {
		if b, ok = appendMarshal(b, "contacts", c.Contacts); !ok {
			return nil, false
		}
	}
	if c.Order != nil {
		if b, ok = appendMarshal(b, "order", c.Order); !ok {
			return nil, false
		}
	}
	for _, f := range [...]struct{ k, v string }{{"reply_id", c.ReplyID}, {"description", c.Description},
		{"flow_name", c.FlowName}, {"flow_response_json", c.FlowResponseJSON}, {"emoji", c.Emoji},
		{"target_message_id", c.TargetMessageID}} {
		b = appendOmit(b, f.k, f.v)
	}
	return append(b, '}'), true
}

// appendField appends ,"k":v.
func appendField(b []byte, k, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	return appendASCIIString(b, v)
}

// appendOmit appends ,"k":v unless v is empty (omitempty).
func appendOmit(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	return appendField(b, k, v)
}

// appendMarshal appends ,"k": and v through json.Marshal, made ASCII.
func appendMarshal(b []byte, k string, v any) ([]byte, bool) {
	raw, err := marshalASCII(v)
	if err != nil {
		return nil, false
	}
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	return append(b, raw...), true
}

// appendTime appends t as time.Time's MarshalJSON does; ok is false where MarshalJSON fails
// (a year outside 0..9999, an offset of a day or more).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, false
	}
	if _, off := t.Zone(); off <= -24*60*60 || off >= 24*60*60 {
		return nil, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendASCIIString appends s as a JSON string the way json.Marshal writes it (HTML characters
// and control characters escaped, invalid UTF-8 as U+FFFD) and marshalASCII then escapes it
// (every character outside ASCII as \uXXXX, surrogate pairs above U+FFFF).
func appendASCIIString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	esc := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = esc(b, rune(c))
			}
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			b = esc(esc(b, r1), r2)
		} else {
			b = esc(b, r) // invalid UTF-8 decodes as U+FFFD, which json.Marshal writes too
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
