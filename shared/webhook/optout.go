package webhook

import (
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

//go:embed stopwords.txt
var defaultStopWords string

// DefaultStopKeywords returns the embedded keyword list (stopwords.txt).
func DefaultStopKeywords() []string {
	var out []string
	for _, line := range strings.Split(defaultStopWords, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// Keywords matches whole messages against a list of opt-out keywords, ignoring case, accents,
// repeated spaces and punctuation around the word ("Stop!", " ARRÊT ", "stop  all").
type Keywords struct {
	set      map[string]struct{}
	maxLen   int
	maxWords int
}

// NewKeywords builds a matcher; an empty list means DefaultStopKeywords.
func NewKeywords(list []string) *Keywords {
	if len(list) == 0 {
		list = DefaultStopKeywords()
	}
	k := &Keywords{set: map[string]struct{}{}}
	for _, w := range list {
		n := NormalizeKeyword(w)
		if n == "" {
			continue
		}
		k.set[n] = struct{}{}
		k.maxLen = max(k.maxLen, len(n))
		k.maxWords = max(k.maxWords, len(strings.Fields(n)))
	}
	return k
}

// Match reports whether the whole message text is a keyword.
func (k *Keywords) Match(text string) bool {
	// Cheap exit for ordinary messages: a keyword with its padding is short. Accents and
	// punctuation may add a few bytes each, hence the margin.
	if k == nil || len(k.set) == 0 || len(text) > 4*k.maxLen+16 {
		return false
	}
	// Normalising keeps every word with a letter or digit in it, so a sentence has more words
	// than any keyword. Counted without allocating, on ASCII text.
	if isASCII(text) && alnumWords(text) > k.maxWords {
		return false
	}
	_, ok := k.set[NormalizeKeyword(text)]
	return ok
}

// NormalizeKeyword folds text for keyword comparison: accents removed (NFD, marks dropped),
// lower case, punctuation and symbols at either end trimmed, inner whitespace collapsed.
func NormalizeKeyword(text string) string {
	folded := text
	if !isASCII(text) {
		t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		if s, _, err := transform.String(t, text); err == nil {
			folded = s
		}
	}
	folded = strings.ToLower(folded)
	folded = strings.TrimFunc(folded, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || r == utf8.RuneError
	})
	return strings.Join(strings.Fields(folded), " ")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// alnumWords counts the space-separated words of ASCII text that hold a letter or a digit.
func alnumWords(text string) int {
	n, counted := 0, false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
			counted = false
		case !counted && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'):
			n++
			counted = true
		}
	}
	return n
}
