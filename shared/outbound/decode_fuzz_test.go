package outbound_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/aloro/wa-senders/shared/outbound"
)

// FuzzDecodeRequest feeds arbitrary queue message bodies to the request validator the consumer
// and POST /messages share. It must never panic; every refusal is a *ValidationError (so the
// consumer records it as rejected); an accepted request validates again, survives a JSON round
// trip unchanged, and yields SQS group and deduplication ids SQS accepts.
//
// Seeds: every request of testdata/requests.json, valid and invalid, plus the corpus under
// testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	raw, err := os.ReadFile("testdata/requests.json")
	if err != nil {
		f.Fatal(err)
	}
	var cases []struct {
		Request json.RawMessage `json:"request"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add([]byte(c.Request))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := outbound.Decode(body)
		if err != nil {
			var ve *outbound.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, outbound.ErrInvalid) {
				t.Fatalf("refusal is not a ValidationError: %T %v", err, err)
			}
			if ve.Reason == "" {
				t.Fatalf("refusal without a machine-readable reason: %v", err)
			}
			return
		}
		if err := outbound.Validate(req); err != nil {
			t.Fatalf("decoded request does not validate: %v", err)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("marshal accepted request: %v", err)
		}
		back, err := outbound.Decode(again)
		if err != nil {
			t.Fatalf("accepted request refused after a round trip: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normalise(t, req), normalise(t, back)) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", req, back)
		}
		for name, id := range map[string]string{"group": outbound.GroupID(req), "dedupe": outbound.DedupeID(req)} {
			if !sqsID(id) {
				t.Fatalf("%s id %q is not a valid SQS id", name, id)
			}
		}
	})
}

// normalise compares requests through their JSON (components are raw JSON whose spacing may
// differ after a round trip).
func normalise(t *testing.T, r outbound.Request) map[string]any {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sqsID reports whether s is a valid MessageGroupId / MessageDeduplicationId: 1 to 128
// characters, letters, digits and punctuation only.
func sqsID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
