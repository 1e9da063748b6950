package whatsapp

import (
	"encoding/json"
	"unicode/utf8"
)

// decodeTextFast decodes the commonest body, customer text messages in a messages change, by
// hand and without reflection; ok is false for anything else, and DecodeNotification then takes
// the encoding/json path. It accepts only a strict subset of JSON: the keys below spelled exactly
// and each at most once (encoding/json also matches keys in another case and lets a repeated key
// merge or overwrite), no null, no empty array, no number where a string belongs, only type
// "text" messages, and no key it does not know. Within that subset it gives exactly what the
// encoding/json path gives (FuzzDecodeNotification holds DecodeNotification to the two-step
// decode).
func decodeTextFast(body []byte) (n *Notification, ok bool) {
	d := fastDecoder{b: body, one: &fastOne{}}
	var object string
	var entries []Entry
	var seen uint8
	ok = d.object(func(key string) bool {
		switch key {
		case "object":
			if !firstTime(&seen, 1) {
				return false
			}
			var ok bool
			object, ok = d.str()
			return ok
		case "entry":
			if !firstTime(&seen, 2) {
				return false
			}
			var ok bool
			entries, ok = d.entries()
			return ok
		}
		return false
	})
	if !ok || seen != 3 || object != ObjectWhatsAppBusinessAccount {
		return nil, false
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, false
	}
	d.one.n = Notification{Object: object, Entry: entries}
	return &d.one.n, true
}

// fastOne holds the first of everything a body has: the usual POST, one entry of one change of
// one message from one contact, then costs one allocation for its structure.
type fastOne struct {
	n                                         Notification
	e                                         [1]Entry
	c                                         [1]Change
	v                                         MessagesValue
	ct                                        [1]Contact
	m                                         [1]Message
	t                                         Text
	eUsed, cUsed, vUsed, ctUsed, mUsed, tUsed bool
}

// first returns arr[:0:1] the first time (*used false), nil after.
func first[T any](arr *[1]T, used *bool) []T {
	if *used {
		return nil
	}
	*used = true
	return arr[:0:1]
}

// firstPtr returns p the first time (*used false), a new T after.
func firstPtr[T any](p *T, used *bool) *T {
	if *used {
		return new(T)
	}
	*used = true
	return p
}

// fastDecoder reads body from i on. Strings without escapes are substrings of s, one copy of
// the body made on first use, so that a message costs one allocation for all its text.
type fastDecoder struct {
	b   []byte
	s   string
	i   int
	one *fastOne
}

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// punct skips white space and then c.
func (d *fastDecoder) punct(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object reads an object, calling member for each key with the cursor before its value;
// member reads the value.
func (d *fastDecoder) object(member func(key string) bool) bool {
	if !d.punct('{') {
		return false
	}
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.punct(':') || !member(key) {
			return false
		}
		d.ws()
		if d.i >= len(d.b) {
			return false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// array reads a non-empty array, calling elem for each element with the cursor before it.
func (d *fastDecoder) array(elem func() bool) bool {
	if !d.punct('[') {
		return false
	}
	for {
		if !elem() {
			return false
		}
		d.ws()
		if d.i >= len(d.b) {
			return false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string. One with escapes is unquoted by encoding/json, as the other path does.
func (d *fastDecoder) str() (string, bool) {
	if !d.punct('"') {
		return "", false
	}
	start := d.i
	escaped, high := false, false
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			end := d.i
			d.i++
			if escaped {
				var s string
				if err := json.Unmarshal(d.b[start-1:d.i], &s); err != nil {
					return "", false
				}
				return s, true
			}
			if high && !utf8.Valid(d.b[start:end]) {
				// encoding/json replaces invalid bytes; leave that to it.
				return "", false
			}
			if d.s == "" {
				d.s = string(d.b)
			}
			return d.s[start:end], true
		case c == '\\':
			escaped = true
			d.i += 2
			continue
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			high = true
		}
		d.i++
	}
	return "", false
}

// unixTime reads a UnixTime given as a string of digits (messages) or an integer (entry.time),
// in range; anything else, even what UnixTime accepts, is left to the other path.
func (d *fastDecoder) unixTime() (UnixTime, bool) {
	d.ws()
	if d.i >= len(d.b) {
		return 0, false
	}
	quoted := d.b[d.i] == '"'
	if quoted {
		d.i++
	}
	start := d.i
	var n int64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		n = n*10 + int64(d.b[d.i]-'0')
		d.i++
		if d.i-start > 12 {
			return 0, false
		}
	}
	digits := d.i - start
	if digits == 0 || n > maxUnixSeconds {
		return 0, false
	}
	if quoted {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return 0, false
		}
		d.i++
	} else if d.b[start] == '0' && digits > 1 {
		return 0, false // not a JSON number
	} else if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	return UnixTime(n), true
}

// entries reads the entry array.
func (d *fastDecoder) entries() ([]Entry, bool) {
	out := first(&d.one.e, &d.one.eUsed)
	ok := d.array(func() bool {
		var e Entry
		var seen uint8
		ok := d.object(func(key string) bool {
			var ok bool
			switch key {
			case "id":
				if !firstTime(&seen, 1) {
					return false
				}
				var s string
				s, ok = d.str()
				e.ID = ID(s)
			case "time":
				if !firstTime(&seen, 2) {
					return false
				}
				e.Time, ok = d.unixTime()
			case "changes":
				if !firstTime(&seen, 4) {
					return false
				}
				e.Changes, ok = d.changes()
			}
			return ok
		})
		if !ok || seen&4 == 0 {
			return false
		}
		out = append(out, e)
		return true
	})
	return out, ok
}

// changes reads the changes of an entry: messages changes only.
func (d *fastDecoder) changes() ([]Change, bool) {
	out := first(&d.one.c, &d.one.cUsed)
	ok := d.array(func() bool {
		var field string
		var v *MessagesValue
		var seen uint8
		ok := d.object(func(key string) bool {
			var ok bool
			switch key {
			case "field":
				if !firstTime(&seen, 1) {
					return false
				}
				field, ok = d.str()
			case "value":
				if !firstTime(&seen, 2) {
					return false
				}
				v, ok = d.messagesValue()
			}
			return ok
		})
		if !ok || seen != 3 || field != FieldMessages {
			return false
		}
		out = append(out, Change{Field: field, decoded: v})
		return true
	})
	return out, ok
}

// messagesValue reads the value of a messages change that holds messages (and no statuses).
func (d *fastDecoder) messagesValue() (*MessagesValue, bool) {
	v := firstPtr(&d.one.v, &d.one.vUsed)
	var seen uint8
	ok := d.object(func(key string) bool {
		var ok bool
		switch key {
		case "messaging_product":
			if !firstTime(&seen, 1) {
				return false
			}
			v.MessagingProduct, ok = d.str()
		case "metadata":
			if !firstTime(&seen, 2) {
				return false
			}
			ok = d.metadata(&v.Metadata)
		case "contacts":
			if !firstTime(&seen, 4) {
				return false
			}
			v.Contacts, ok = d.contacts()
		case "messages":
			if !firstTime(&seen, 8) {
				return false
			}
			v.Messages, ok = d.messages()
		}
		return ok
	})
	if !ok || seen&8 == 0 {
		return nil, false
	}
	return v, true
}

func (d *fastDecoder) metadata(m *Metadata) bool {
	var seen uint8
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "display_phone_number":
			if !firstTime(&seen, 1) {
				return false
			}
			m.DisplayPhoneNumber, ok = d.str()
		case "phone_number_id":
			if !firstTime(&seen, 2) {
				return false
			}
			var s string
			s, ok = d.str()
			m.PhoneNumberID = ID(s)
		}
		return ok
	})
}

func (d *fastDecoder) contacts() ([]Contact, bool) {
	out := first(&d.one.ct, &d.one.ctUsed)
	ok := d.array(func() bool {
		var c Contact
		var seen uint8
		ok := d.object(func(key string) bool {
			var ok bool
			switch key {
			case "profile":
				if !firstTime(&seen, 1) {
					return false
				}
				ok = d.profile(&c.Profile)
			case "wa_id":
				if !firstTime(&seen, 2) {
					return false
				}
				c.WaID, ok = d.str()
			case "user_id":
				if !firstTime(&seen, 4) {
					return false
				}
				c.UserID, ok = d.str()
			case "parent_user_id":
				if !firstTime(&seen, 8) {
					return false
				}
				c.ParentUserID, ok = d.str()
			}
			return ok
		})
		if !ok {
			return false
		}
		out = append(out, c)
		return true
	})
	return out, ok
}

func (d *fastDecoder) profile(p *Profile) bool {
	var seen uint8
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "name":
			if !firstTime(&seen, 1) {
				return false
			}
			p.Name, ok = d.str()
		case "username":
			if !firstTime(&seen, 2) {
				return false
			}
			p.Username, ok = d.str()
		}
		return ok
	})
}

// messages reads text messages.
func (d *fastDecoder) messages() ([]Message, bool) {
	out := first(&d.one.m, &d.one.mUsed)
	ok := d.array(func() bool {
		out = append(out, Message{})
		m := &out[len(out)-1]
		var seen uint8
		ok := d.object(func(key string) bool {
			var ok bool
			switch key {
			case "from":
				if !firstTime(&seen, 1) {
					return false
				}
				m.From, ok = d.str()
			case "from_user_id":
				if !firstTime(&seen, 2) {
					return false
				}
				m.FromUserID, ok = d.str()
			case "from_parent_user_id":
				if !firstTime(&seen, 4) {
					return false
				}
				m.FromParentUserID, ok = d.str()
			case "id":
				if !firstTime(&seen, 8) {
					return false
				}
				m.ID, ok = d.str()
			case "timestamp":
				if !firstTime(&seen, 16) {
					return false
				}
				m.Timestamp, ok = d.unixTime()
			case "type":
				if !firstTime(&seen, 32) {
					return false
				}
				m.Type, ok = d.str()
			case "text":
				if !firstTime(&seen, 64) {
					return false
				}
				m.Text = firstPtr(&d.one.t, &d.one.tUsed)
				ok = d.text(m.Text)
			}
			return ok
		})
		return ok && m.Type == MessageTypeText
	})
	return out, ok
}

func (d *fastDecoder) text(t *Text) bool {
	var seen bool
	return d.object(func(key string) bool {
		if key != "body" || seen {
			return false
		}
		seen = true
		var ok bool
		t.Body, ok = d.str()
		return ok
	})
}

// firstTime marks bit in seen and reports whether it was not marked yet: a key given twice is
// refused here (encoding/json keeps the last one, so the general path decides).
func firstTime(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}
