// Command genevents writes sample API Gateway HTTP API (payload format 2.0) events for the
// webhook function: one signed POST per payload fixture of shared/whatsapp, plus a GET handshake
// and requests with a bad, missing or base64-encoded body signature. Output is deterministic, so
// the files can be committed and checked for staleness with -check.
//
// Run from the repository root:
//
//	go run ./cmd/genevents            # (re)write events/webhook/*.json
//	go run ./cmd/genevents -check     # exit 1 if the files on disk are stale
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Defaults shared with the local stack (see the README); they are not real secrets.
const (
	defaultSecret      = "local-app-secret"
	defaultVerifyToken = "local-verify-token"
	handshakeChallenge = "1158201444"
	// sampleBody is the fixture used for the special (bad/missing/base64 signature) events.
	sampleBody = "messages_text"
	// requestEpoch fixes requestContext.time so output never changes between runs.
	requestEpoch = 1764000000
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "genevents:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("genevents", flag.ContinueOnError)
	payloads := fs.String("payloads", "shared/whatsapp/testdata/payloads", "directory of webhook body fixtures (*.json)")
	out := fs.String("out", "events/webhook", "directory to write the events to")
	secret := fs.String("secret", defaultSecret, "app secret used to sign the bodies")
	token := fs.String("verify-token", defaultVerifyToken, "hub.verify_token of the GET handshake event")
	check := fs.Bool("check", false, "do not write; fail if any event on disk differs from what would be written")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, err := Generate(*payloads, []byte(*secret), *token)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)

	if *check {
		var stale []string
		for _, name := range names {
			onDisk, err := os.ReadFile(filepath.Join(*out, name))
			if err != nil || !bytes.Equal(onDisk, files[name]) {
				stale = append(stale, name)
			}
		}
		if len(stale) > 0 {
			return fmt.Errorf("%d stale event(s) in %s (run go run ./cmd/genevents): %s", len(stale), *out, strings.Join(stale, ", "))
		}
		fmt.Fprintf(stdout, "%d events in %s are up to date\n", len(names), *out)
		return nil
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(*out, name), files[name], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	fmt.Fprintf(stdout, "wrote %d events to %s\n", len(names), *out)
	return nil
}

// Generate returns the events to write, keyed by file name: "<fixture>.json" for each fixture,
// plus "get-handshake.json", "bad-signature.json", "missing-signature.json" and
// "base64-body.json".
func Generate(payloadDir string, secret []byte, verifyToken string) (map[string][]byte, error) {
	if len(secret) == 0 {
		return nil, errors.New("empty -secret")
	}
	paths, err := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no fixtures in %s", payloadDir)
	}
	files := make(map[string][]byte, len(paths)+4)
	bodies := make(map[string][]byte, len(paths))
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		// Meta sends compact JSON with non-ASCII escaped; Compact keeps the fixture's escapes.
		var body bytes.Buffer
		if err := json.Compact(&body, raw); err != nil {
			return nil, fmt.Errorf("fixture %s: %w", name, err)
		}
		bodies[name] = body.Bytes()
		ev := post(name, body.String(), whatsapp.Sign(secret, body.Bytes()))
		if files[name+".json"], err = encode(ev); err != nil {
			return nil, err
		}
	}

	sample, ok := bodies[sampleBody]
	if !ok {
		return nil, fmt.Errorf("fixture %s.json is required for the signature events", sampleBody)
	}
	special := map[string]events.APIGatewayV2HTTPRequest{
		"get-handshake.json": handshake(verifyToken),
		// Signed with another secret: the handler must answer 401 and store nothing.
		"bad-signature.json":     post("bad-signature", string(sample), whatsapp.Sign([]byte("not-the-app-secret"), sample)),
		"missing-signature.json": post("missing-signature", string(sample), ""),
	}
	b64 := post("base64-body", base64.StdEncoding.EncodeToString(sample), whatsapp.Sign(secret, sample))
	b64.IsBase64Encoded = true
	special["base64-body.json"] = b64
	for name, ev := range special {
		if files[name], err = encode(ev); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// post builds a signed POST /webhook event as API Gateway delivers it (lower-case header names).
func post(name, body, signature string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{
		"accept":            "*/*",
		"content-length":    strconv.Itoa(len(body)),
		"content-type":      "application/json",
		"host":              "localhost",
		"user-agent":        "facebookexternalua",
		"x-forwarded-proto": "https",
	}
	if signature != "" {
		headers["x-hub-signature-256"] = signature
	}
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "POST /webhook",
		RawPath:        "/webhook",
		Headers:        headers,
		RequestContext: requestContext(name, "POST"),
		Body:           body,
	}
}

func handshake(token string) events.APIGatewayV2HTTPRequest {
	q := map[string]string{
		whatsapp.HubMode:        whatsapp.ModeSubscribe,
		whatsapp.HubVerifyToken: token,
		whatsapp.HubChallenge:   handshakeChallenge,
	}
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "GET /webhook",
		RawPath:  "/webhook",
		RawQueryString: whatsapp.HubMode + "=" + whatsapp.ModeSubscribe + "&" + whatsapp.HubChallenge + "=" + handshakeChallenge +
			"&" + whatsapp.HubVerifyToken + "=" + token,
		Headers: map[string]string{
			"accept":            "*/*",
			"host":              "localhost",
			"user-agent":        "facebookplatform/1.0 (+http://developers.facebook.com)",
			"x-forwarded-proto": "https",
		},
		QueryStringParameters: q,
		RequestContext:        requestContext("get-handshake", "GET"),
	}
}

func requestContext(name, method string) events.APIGatewayV2HTTPRequestContext {
	// A stable request id per event, derived from its name.
	sum := sha256.Sum256([]byte(name))
	return events.APIGatewayV2HTTPRequestContext{
		RouteKey:     method + " /webhook",
		AccountID:    "123456789012",
		Stage:        "$default",
		RequestID:    hex.EncodeToString(sum[:8]),
		APIID:        "local",
		DomainName:   "localhost",
		DomainPrefix: "localhost",
		Time:         "24/Nov/2025:16:00:00 +0000",
		TimeEpoch:    requestEpoch * 1000,
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method:    method,
			Path:      "/webhook",
			Protocol:  "HTTP/1.1",
			SourceIP:  "173.252.95.1",
			UserAgent: "facebookexternalua",
		},
	}
}

// encode writes the event as indented JSON with sorted keys, dropping the empty mTLS
// "authentication" block that aws-lambda-go always marshals (API Gateway omits it without mTLS).
func encode(ev events.APIGatewayV2HTTPRequest) ([]byte, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if rc, ok := m["requestContext"].(map[string]any); ok {
		delete(rc, "authentication")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
