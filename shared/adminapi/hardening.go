package adminapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/aloro/wa-senders/shared/lambdahttp"
	"github.com/aloro/wa-senders/shared/sender"
)

// LocalPrincipal is who acts on a request that did not come through API Gateway (`make run`,
// tests): there is no IAM caller to name.
const LocalPrincipal = "local"

// principal is the caller recorded in the history: the IAM principal API Gateway verified on
// AWS, LocalPrincipal otherwise.
func principal(ctx context.Context) string {
	if p, ok := lambdahttp.Principal(ctx); ok && p != "" {
		return p
	}
	return LocalPrincipal
}

// stampActor names the actor on the history entries added since index from.
func stampActor(s *sender.Sender, from int, actor string) {
	for i := max(from, 0); i < len(s.StatusHistory); i++ {
		if s.StatusHistory[i].Actor == "" {
			s.StatusHistory[i].Actor = actor
		}
	}
}

// etag is the entity tag of a sender's stored state: any change (status, fields, history,
// updatedAt) changes it.
func etag(s *sender.Sender) string {
	raw, err := json.Marshal(s)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(raw)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// errPrecondition answers a stale If-Match.
var errPrecondition = &apiError{http.StatusPreconditionFailed, "precondition_failed",
	"the sender changed since the ETag given in If-Match: read it again and retry"}

// checkIfMatch refuses a change to s when the request's If-Match names another state. No
// If-Match (or "*") means the caller does not ask for the check.
func checkIfMatch(r *http.Request, s *sender.Sender) error {
	im := strings.TrimSpace(r.Header.Get("If-Match"))
	if im == "" || im == "*" {
		return nil
	}
	cur := etag(s)
	for _, t := range strings.Split(im, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == cur {
			return nil
		}
	}
	return errPrecondition
}

// isBidiControl reports the Unicode bidirectional formatting characters, which can make a name
// or id display as something else than it is.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// checkText refuses control characters (C0, C1, DEL) and bidi controls in a name or id.
func checkText(field, v string) error {
	for _, r := range v {
		if unicode.IsControl(r) || isBidiControl(r) {
			return badRequest("%s: control and bidirectional formatting characters are not allowed", field)
		}
	}
	return nil
}

// requireJSON refuses a body that does not say it is JSON: a browser's simple cross-site POST
// (text/plain, a form) cannot set application/json without a preflight.
func requireJSON(r *http.Request) error {
	ct := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Type")))
	mt, _, _ := strings.Cut(ct, ";")
	if strings.TrimSpace(mt) != "application/json" {
		return &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as Content-Type: application/json"}
	}
	return nil
}

// checkKeys refuses JSON objects, at any depth, with a key repeated exactly or differing only
// in case: encoding/json would keep the last one (and matches fields case-insensitively), so
// the caller's intent would be guessed.
func checkKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // decode reports syntax errors with its own message
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if k, ok := tok.(string); ok {
				fk := strings.ToLower(k)
				if top.keys[fk] {
					return badRequest("duplicate key %q (keys are unique and case-insensitive)", k)
				}
				top.keys[fk] = true
				top.expect = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object the next token is a key again.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true
		}
	}
}
