package stack_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// phonenumbersPath is the phone number library: its package init loads the metadata of every
// region (about 2.5 MB and 35,000 allocations, 8 ms or more of a cold start), so a function
// that never parses a number must not link it.
const phonenumbersPath = "github.com/nyaruka/phonenumbers"

// TestPhonenumbersLinkedOnlyWhereParsed: each Lambda function links nyaruka/phonenumbers
// exactly when its code can call it (derived from its main's call graph, as for the IAM
// actions), and the table says why. A new function, or one that starts or stops parsing
// numbers, fails here until the table says so.
func TestPhonenumbersLinkedOnlyWhereParsed(t *testing.T) {
	want := map[string]struct {
		parses bool
		why    string
	}{
		"webhook": {true, "every message and status of a customer not seen by this instance: wa_id to " +
			"E.164 (phone.FromWaID), and Meta's display number when the sender is unknown (phone.Display)"},
		"outbound": {true, "every request: to and from to E.164 (phone.ParseRecipient, ParseE164)"},
		"senders": {true, "admin API: sender and customer numbers in requests and paths, pool purchases " +
			"and the carrier's country filter (phone.ParseE164, ParseRecipient, Split, Region, IsRegion)"},
		"reconciler": {true, "every deferred request it re-enqueues gets its FIFO group from its " +
			"normalised from and to (outbound.GroupID); an interrupted pool purchase it settles " +
			"(numberpool: phone.Region) and a resumed onboarding (Meta's display number: phone.Display) parse too"},
	}
	code := codeActions(t)
	for fn := range code {
		if _, ok := want[fn]; !ok {
			t.Errorf("functions/%s is not in this table: say whether it parses phone numbers", fn)
		}
	}
	for fn, w := range want {
		var calls []string
		for _, a := range code[fn] {
			if name, ok := strings.CutPrefix(a, "phonenumbers:"); ok {
				calls = append(calls, name)
			}
		}
		if got := len(calls) > 0; got != w.parses {
			t.Errorf("functions/%s calls phonenumbers: %v (%v), want %v: %s", fn, got, calls, w.parses, w.why)
		}
		if got := links(t, fn, phonenumbersPath); got != w.parses {
			t.Errorf("functions/%s links %s: %v, want %v: %s", fn, phonenumbersPath, got, w.parses, w.why)
		}
	}
}

// links reports whether functions/<fn> depends on pkg.
func links(t *testing.T, fn, pkg string) bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "./functions/"+fn)
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./functions/%s: %v", fn, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if line == pkg {
			return true
		}
	}
	return false
}
