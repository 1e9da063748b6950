package outbound

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// checkRaw refuses what encoding/json would silently change: bytes that are not UTF-8 and
// escaped lone surrogates (both become U+FFFD), and a key repeated in one object (the last one
// would win). The request is refused rather than sent altered.
func checkRaw(body []byte) error {
	if !utf8.Valid(body) {
		return invalid("", "invalid_utf8", "request is not valid UTF-8")
	}
	if err := checkSurrogates(body); err != nil {
		return err
	}
	return checkDuplicateKeys(body)
}

// checkSurrogates finds a \uD800–\uDFFF escape inside a string that is not a high surrogate
// followed by a low one.
func checkSurrogates(body []byte) error {
	inString := false
	for i := 0; i < len(body); i++ {
		b := body[i]
		if !inString {
			inString = b == '"'
			continue
		}
		switch b {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(body) && body[i+1] == 'u' {
				r, ok := hex4(body, i+2)
				if ok && r >= 0xD800 && r <= 0xDFFF {
					if r >= 0xDC00 {
						return invalid("", "lone_surrogate", "request has an unpaired UTF-16 surrogate (\\u%04X)", r)
					}
					low, ok := rune(0), false
					if i+7 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
						low, ok = hex4(body, i+8)
					}
					if !ok || low < 0xDC00 || low > 0xDFFF {
						return invalid("", "lone_surrogate", "request has an unpaired UTF-16 surrogate (\\u%04X)", r)
					}
					i += 6 // the pair's second escape
				}
				i += 5
				continue
			}
			i++ // the escaped character
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return rune(n), err == nil
}

// dupFrame is one open object or array while checking for duplicate keys.
type dupFrame struct {
	keys    map[string]bool // nil for an array
	wantKey bool
	path    string // the object's field path ("" at the top)
	lastKey string
}

// checkDuplicateKeys walks the JSON tokens and refuses an object with a key twice.
func checkDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []*dupFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // malformed JSON is reported by the decoder proper
		}
		var top *dupFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				if len(stack) == 0 {
					return nil
				}
				continue
			}
			k, _ := tok.(string)
			if top.keys[k] {
				return invalid(joinPath(top.path, k), "duplicate_key", "appears twice in one object")
			}
			top.keys[k], top.wantKey, top.lastKey = true, false, k
			continue
		}
		child := ""
		if top != nil {
			child = top.path
			if top.keys != nil {
				child = joinPath(top.path, top.lastKey)
			}
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &dupFrame{keys: map[string]bool{}, wantKey: true, path: child})
			continue
		case '[':
			stack = append(stack, &dupFrame{path: child})
			continue
		case ']':
			stack = stack[:len(stack)-1]
		}
		valueDone(stack)
		if len(stack) == 0 {
			return nil
		}
	}
}

// valueDone marks that the innermost object's value was read: a key comes next.
func valueDone(stack []*dupFrame) {
	if len(stack) > 0 && stack[len(stack)-1].keys != nil {
		stack[len(stack)-1].wantKey = true
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
