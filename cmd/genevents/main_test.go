package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloro/wa-senders/shared/whatsapp"
)

const (
	repoEvents   = "../../events/webhook"
	repoPayloads = "../../shared/whatsapp/testdata/payloads"
)

func loadEvent(t *testing.T, path string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // the files must match the Lambda event type exactly
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ev
}

// TestCommittedEventsVerifyAndDecode checks every events/webhook/*.json: signed POSTs verify
// against their body with the local secret and decode without error; the special events fail
// the way their names say.
func TestCommittedEventsVerifyAndDecode(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(repoEvents, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no events in %s (run go run ./cmd/genevents): %v", repoEvents, err)
	}
	secret := []byte(defaultSecret)
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		if name == "expect" { // events/webhook/expect.json: what make invoke-all checks, not an event
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev := loadEvent(t, p)
			if ev.Version != "2.0" || ev.RawPath != "/webhook" || ev.RequestContext.HTTP.Path != "/webhook" {
				t.Errorf("not a payload 2.0 /webhook event: %+v", ev)
			}
			if name == "get-handshake" {
				if ev.RouteKey != "GET /webhook" || ev.RequestContext.HTTP.Method != "GET" {
					t.Errorf("route = %s %s", ev.RouteKey, ev.RequestContext.HTTP.Method)
				}
				q := ev.QueryStringParameters
				if !whatsapp.VerifyHandshake(q[whatsapp.HubMode], q[whatsapp.HubVerifyToken], defaultVerifyToken) {
					t.Errorf("handshake does not verify: %v", q)
				}
				if q[whatsapp.HubChallenge] != handshakeChallenge {
					t.Errorf("challenge = %q", q[whatsapp.HubChallenge])
				}
				return
			}
			if ev.RouteKey != "POST /webhook" || ev.RequestContext.HTTP.Method != "POST" {
				t.Errorf("route = %s %s", ev.RouteKey, ev.RequestContext.HTTP.Method)
			}
			if ev.Headers["content-type"] != "application/json" {
				t.Errorf("content-type = %q", ev.Headers["content-type"])
			}
			body := []byte(ev.Body)
			if ev.IsBase64Encoded {
				if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					t.Fatal(err)
				}
			}
			err := whatsapp.VerifySignature(secret, body, ev.Headers["x-hub-signature-256"])
			switch name {
			case "bad-signature":
				if !errors.Is(err, whatsapp.ErrBadSignature) {
					t.Fatalf("err = %v, want ErrBadSignature", err)
				}
				return
			case "missing-signature":
				if !errors.Is(err, whatsapp.ErrMissingSignature) {
					t.Fatalf("err = %v, want ErrMissingSignature", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("signature: %v", err)
			}
			n, err := whatsapp.ParseNotification(body)
			if err != nil {
				t.Fatal(err)
			}
			changes := 0
			for _, e := range n.Entry {
				for _, c := range e.Changes {
					if _, err := c.Decode(); err != nil {
						t.Errorf("decode %s: %v", c.Field, err)
					}
					changes++
				}
			}
			if changes == 0 {
				t.Error("no changes")
			}
		})
	}
}

// TestCommittedEventsUpToDate fails when a fixture changed without regenerating the events.
func TestCommittedEventsUpToDate(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run([]string{"-check", "-payloads", repoPayloads, "-out", repoEvents}, &out); err != nil {
		t.Fatal(err)
	}
	fixtures, _ := filepath.Glob(filepath.Join(repoPayloads, "*.json"))
	for _, f := range fixtures {
		if _, err := os.Stat(filepath.Join(repoEvents, filepath.Base(f))); err != nil {
			t.Errorf("no event for fixture %s", filepath.Base(f))
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := Generate(repoPayloads, []byte(defaultSecret), defaultVerifyToken)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(repoPayloads, []byte(defaultSecret), defaultVerifyToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d vs %d files", len(a), len(b))
	}
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between runs", name)
		}
	}
}

func TestRunWritesAndChecks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"-payloads", repoPayloads, "-out", dir, "-secret", "s3cret"}, &out); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-check", "-payloads", repoPayloads, "-out", dir, "-secret", "s3cret"}, &out); err != nil {
		t.Fatalf("check after write: %v", err)
	}
	// A different secret changes every signature, so the check must fail.
	if err := run([]string{"-check", "-payloads", repoPayloads, "-out", dir}, &out); err == nil {
		t.Fatal("check with another secret passed")
	}
	if err := run([]string{"-payloads", repoPayloads, "-out", dir, "-secret", ""}, &out); err == nil {
		t.Fatal("empty secret accepted")
	}
}
