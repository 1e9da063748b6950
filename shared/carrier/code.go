package carrier

import (
	"strings"
	"unicode"
)

// CodeLength is the length of Meta's verification code.
const CodeLength = 6

var digitWords = map[string]byte{
	"zero": '0', "oh": '0', "one": '1', "two": '2', "three": '3', "four": '4', "five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
}

// ExtractCode finds the six-digit code in an SMS body ("123-456", "123 456", "123456") or in a
// transcription of a voice call that reads it out ("one two three, four five six", "1 2 3 4 5
// 6", possibly repeated). Digits separated only by spaces, hyphens, commas or full stops form
// one run; the first run of exactly six digits, or of a six-digit code said twice, is the code.
func ExtractCode(text string) (string, bool) {
	var run []byte
	flush := func() (string, bool) {
		defer func() { run = run[:0] }()
		switch {
		case len(run) == CodeLength:
			return string(run), true
		case len(run) > CodeLength && len(run)%CodeLength == 0:
			// The code said more than once with nothing between: every repeat must agree.
			first := string(run[:CodeLength])
			for i := CodeLength; i < len(run); i += CodeLength {
				if string(run[i:i+CodeLength]) != first {
					return "", false
				}
			}
			return first, true
		}
		return "", false
	}
	for _, tok := range tokens(text) {
		if d, ok := tokenDigits(tok); ok {
			run = append(run, d...)
			continue
		}
		if code, ok := flush(); ok {
			return code, true
		}
	}
	return flush()
}

// tokens splits on anything that is not a letter or a digit, keeping words and numerals; a
// separator other than space, hyphen, comma or full stop ends a digit run (returned as "|").
func tokens(s string) []string {
	var out []string
	var cur strings.Builder
	emit := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		case r == ' ' || r == '-' || r == ',' || r == '.' || r == '\t' || r == '\n':
			emit()
		default:
			emit()
			out = append(out, "|")
		}
	}
	emit()
	return out
}

// tokenDigits turns a numeral ("123") or a digit word ("five") into digits.
func tokenDigits(tok string) ([]byte, bool) {
	if d, ok := digitWords[tok]; ok {
		return []byte{d}, true
	}
	if tok == "" {
		return nil, false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return nil, false
		}
	}
	return []byte(tok), true
}
