package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// unit is one change (one message, status or preference for the per-item fields) of a fixture,
// postable on its own or grouped with others.
type unit struct {
	entry map[string]any // id and time of the entry
	field string
	value any
	// whole is set for payloads that are parked: their stored form is the body itself, so they
	// are always posted as the original bytes.
	whole []byte
}

// splitFixture cuts a fixture into its smallest independent changes.
func splitFixture(t *testing.T, name string) []unit {
	t.Helper()
	body := fixture(t, name)
	if name == "unknown_field" {
		return []unit{{whole: body}}
	}
	var n map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		t.Fatal(err)
	}
	var out []unit
	for _, e := range n["entry"].([]any) {
		em := e.(map[string]any)
		head := map[string]any{"id": em["id"]}
		if tm, ok := em["time"]; ok {
			head["time"] = tm
		}
		for _, c := range em["changes"].([]any) {
			cm := c.(map[string]any)
			field := cm["field"].(string)
			v, _ := cm["value"].(map[string]any)
			split := func(key string) bool {
				items, _ := v[key].([]any)
				if len(items) == 0 {
					return false
				}
				for _, it := range items {
					cp := map[string]any{}
					for k, x := range v {
						if k != "messages" && k != "statuses" && k != "errors" && k != "user_preferences" {
							cp[k] = x
						}
					}
					cp[key] = []any{it}
					out = append(out, unit{entry: head, field: field, value: cp})
				}
				return true
			}
			switch field {
			case "messages":
				a, b, c := split("messages"), split("statuses"), split("errors")
				if !a && !b && !c {
					out = append(out, unit{entry: head, field: field, value: v})
				}
			case "user_preferences":
				if !split("user_preferences") {
					out = append(out, unit{entry: head, field: field, value: v})
				}
			default:
				out = append(out, unit{entry: head, field: field, value: cm["value"]})
			}
		}
	}
	return out
}

// body builds one POST from units (one entry per unit, so each keeps its entry time).
func body(t *testing.T, us []unit) []byte {
	t.Helper()
	if len(us) == 1 && us[0].whole != nil {
		return us[0].whole
	}
	var entries []any
	for _, u := range us {
		e := map[string]any{}
		for k, v := range u.entry {
			e[k] = v
		}
		e["changes"] = []any{map[string]any{"field": u.field, "value": u.value}}
		entries = append(entries, e)
	}
	b, err := json.Marshal(map[string]any{"object": whatsapp.ObjectWhatsAppBusinessAccount, "entry": entries})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedScenario stores what the outbound side would have stored for the fixtures' statuses.
func seedScenario(e *env) {
	e.seedSender()
	e.seedRecord("req_01JD2K7Q9X3V8M4N5P6R7S8T9U", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBINTcxRDNEMTA2QjU0MENGQzBGNEYAA==", false)
	e.seedRecord("req_reengage", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIMDIyMTIxMDEwNEQzRjJFNzJFQkQAA==", true)
	e.seedRecord("req_optout", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIMERDRkU3Qjg0MkI4RDg0OEQ5RjQAA==", false)
	e.seedRecord("req_undeliverable", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIOUM3RUQyODc3NzFBMUU2NjU3NzQAA==", false)
	e.seedRecord("req_voice", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIRUY2MzI1NjFFNEYyMTlGMDJGNUIAA==", false)
	// The outbound side records the customer's BSUID when it knows it.
	if _, err := e.st.UpdateRecord(e.ctx, "req_reengage", func(r *outbound.Record) (*outbound.Record, error) {
		if r == nil {
			r = &outbound.Record{}
		}
		r.ToUserID = custUID
		return r, nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// state is the table's content with what legitimately depends on arrival order removed: the
// optimistic-lock version (counts writes), sender status history (an audit log of changes in
// the order they were applied) and an alias's time when the mapping is unchanged (the instance
// skips rewriting a mapping it wrote; the time only orders different mappings). An outbound
// record is compared as its readers see it (its document with the delivery status merged):
// which of the two holds a status depends on whether a document write came after it.
func state(t *testing.T, e *env) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, it := range e.scan() {
		k := s(it, "pk") + " | " + s(it, "sk")
		if id, ok := strings.CutPrefix(s(it, "pk"), "MSG#"); ok {
			rec, err := e.st.GetRecord(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			out[k] = map[string]any{"record": d}
			continue
		}
		m := map[string]any{}
		for name, v := range it {
			switch name {
			case "pk", "sk", "version":
				continue
			case "atMs":
				if strings.HasPrefix(k, "ALIAS#") {
					continue
				}
			case "doc":
				var d map[string]any
				if err := json.Unmarshal([]byte(v.(*types.AttributeValueMemberS).Value), &d); err != nil {
					t.Fatal(err)
				}
				delete(d, "statusHistory")
				m[name] = d
			default:
				m[name] = attrValue(v)
			}
		}
		out[k] = m
	}
	return out
}

func attrValue(v types.AttributeValue) any {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return x.Value
	case *types.AttributeValueMemberN:
		return "N:" + x.Value
	case *types.AttributeValueMemberBOOL:
		return x.Value
	case *types.AttributeValueMemberB:
		return x.Value
	}
	return fmt.Sprintf("%T", v)
}

// postRetrying posts like Meta: anything but 200 is retried (a fallback claim held by a
// concurrent delivery clears within milliseconds).
func (e *env) postRetrying(b []byte) {
	e.t.Helper()
	for attempt := 0; ; attempt++ {
		code := e.post(b)
		if code == http.StatusOK {
			return
		}
		if code != http.StatusInternalServerError || attempt == 200 {
			e.t.Errorf("POST answered %d after %d attempts; logs:\n%s", code, attempt+1, e.logs.String())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAnyOrderSameState posts every fixture once in file order, then, on fresh tables, all
// their changes split apart, duplicated, shuffled, regrouped into random POSTs and sent
// concurrently; every run must end in the same table state, forward each message exactly once
// and enqueue the 131047 fallback exactly once.
func TestAnyOrderSameState(t *testing.T) {
	t.Parallel()
	names := fixtureNames(t)

	base := newEnv(t)
	seedScenario(base)
	for _, name := range names {
		base.mustPost(fixture(t, name))
	}
	want := state(t, base)
	wantMsgs := countForwarded(t, base)
	if fb := base.outbound(); len(fb) != 1 {
		t.Fatalf("baseline fallbacks: %d", len(fb))
	}

	var units []unit
	for _, name := range names {
		units = append(units, splitFixture(t, name)...)
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed*7919))
			var work []unit
			for _, u := range units {
				for n := 1 + rng.IntN(3); n > 0; n-- { // each change 1 to 3 times
					work = append(work, u)
				}
			}
			rng.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })
			var posts [][]byte
			for i := 0; i < len(work); {
				k := 1 + rng.IntN(3)
				if work[i].whole != nil {
					k = 1
				}
				group := []unit{work[i]}
				for j := i + 1; j < len(work) && j < i+k && work[j].whole == nil; j++ {
					group = append(group, work[j])
				}
				i += len(group)
				posts = append(posts, body(t, group))
			}

			e := newEnv(t)
			seedScenario(e)
			var wg sync.WaitGroup
			next := make(chan []byte)
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := range next {
						e.postRetrying(b)
					}
				}()
			}
			for _, b := range posts {
				next <- b
			}
			close(next)
			wg.Wait()

			// A POST that answered 500 (a fallback claim held by a concurrent delivery) leaves
			// forward marks: bookkeeping, not state.
			if d := cmp.Diff(withoutBookkeepingTimes(want), withoutBookkeepingTimes(state(t, e))); d != "" {
				t.Fatalf("%d POSTs of %d changes ended in another state (-in order +shuffled):\n%s", len(posts), len(work), d)
			}
			if got := countForwarded(t, e); !cmp.Equal(got, wantMsgs) {
				t.Fatalf("forwarded %v, want each of %v once", got, wantMsgs)
			}
			if fb := e.outbound(); len(fb) != 1 || fb[0].ID != "req_reengage:t" {
				t.Fatalf("fallbacks: %+v", fb)
			}
			t.Logf("%d POSTs, %d changes (%d distinct), duplicates counted %d", len(posts), len(work), len(units), e.metric("DuplicateMessages"))
		})
	}
}

// countForwarded drains the inbound queue and counts events per wamid.
func countForwarded(t *testing.T, e *env) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, ev := range e.inbound() {
		got[ev.WAMID]++
	}
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return got
}
