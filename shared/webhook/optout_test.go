package webhook

import "testing"

// slowMatch is Match without its word count shortcut.
func (k *Keywords) slowMatch(text string) bool {
	if len(text) > 4*k.maxLen+16 {
		return false
	}
	_, ok := k.set[NormalizeKeyword(text)]
	return ok
}

func TestKeywordsMatch(t *testing.T) {
	t.Parallel()
	k := NewKeywords(nil)
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"STOP", true},
		{"  Stop!! ", true},
		{"stop  all", true},
		{"Darse de baja.", true},
		{"ARRÊT", true},
		{"stop !! ??", true},
		{"- stop -", true},
		{"please stop", false},
		{"stop all now", false},
		{"Hi! Do you deliver to Cluj on Sundays?", false},
		{"", false},
		{"!!!", false},
	} {
		if got := k.Match(tc.text); got != tc.want {
			t.Errorf("Match(%q) = %v, want %v", tc.text, got, tc.want)
		}
		if got := k.slowMatch(tc.text); got != tc.want {
			t.Errorf("slowMatch(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

// FuzzKeywordsMatch: the word count shortcut never changes Match's answer.
func FuzzKeywordsMatch(f *testing.F) {
	for _, s := range []string{"stop", "darse de baja", "darse  de - baja !", "a b c d", "stop\tall", "opt-out", "x stop"} {
		f.Add(s)
	}
	k := NewKeywords(nil)
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := k.Match(text), k.slowMatch(text); got != want {
			t.Fatalf("Match(%q) = %v, without the shortcut %v", text, got, want)
		}
	})
}
