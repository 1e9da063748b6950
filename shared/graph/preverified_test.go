package graph

import (
	"testing"
	"time"
)

func TestGraphTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2027, 3, 6, 20, 34, 9, 0, time.UTC)
	for _, raw := range []string{`"2027-03-06T20:34:09+0000"`, `"2027-03-06T22:34:09+02:00"`, `1804365249`, `"1804365249"`} {
		if got := graphTime([]byte(raw)); !got.Equal(want) {
			t.Errorf("graphTime(%s) = %s, want %s", raw, got, want)
		}
	}
	for _, raw := range []string{``, `null`, `""`, `"soon"`, `{}`} {
		if got := graphTime([]byte(raw)); !got.IsZero() {
			t.Errorf("graphTime(%s) = %s, want zero", raw, got)
		}
	}
}
