// Package graph is the client of Meta's Graph API for the WhatsApp Cloud API: sending messages,
// registering phone numbers and reading their quality, limits and health.
//
// Every failure is either a *Error (Meta answered with an error body, or a non-2xx status) or a
// *TransportError (no answer: dial, reset, timeout). Callers decide with Classify, which branches
// on Meta's code and never on the HTTP status or the message text. The access token goes only into
// the Authorization header: it never appears in an error, a URL or a log line.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is Meta's Graph API host.
const DefaultBaseURL = "https://graph.facebook.com"

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxBody bounds how much of an answer is read: Graph answers are small, and a runaway body
// from a misbehaving proxy must not exhaust a Lambda's memory.
const maxBody = 1 << 20

// Options configure a Client.
type Options struct {
	// BaseURL defaults to DefaultBaseURL; trailing slashes are trimmed. Point it at a fake in tests.
	BaseURL string
	// Version is the pinned Graph API version, e.g. "v24.0". Required.
	Version string
	// Token is a static access token. Ignored when TokenSource is set.
	Token string
	// TokenSource returns the access token per request (e.g. cached from Secrets Manager). Its
	// errors (and TokenFor's) come back as a *TokenError: ClassTransient, as nothing was sent,
	// or ClassTokenInvalid when they wrap ErrTokenRefused or a graph error of code 190.
	TokenSource func(ctx context.Context) (string, error)
	// TokenFor returns the business token for a call on nodeID (a phone number or WABA id), or
	// "" when the node has none of its own and the client's token applies. A token put in the
	// context with WithToken wins over both. A business token gone for good wraps ErrTokenRefused.
	TokenFor func(ctx context.Context, nodeID string) (string, error)
	// HTTPClient defaults to a client with no timeout of its own (Timeout governs) that keeps up
	// to 64 idle connections to Meta, so parallel sends reuse TLS sessions.
	HTTPClient *http.Client
	// Timeout bounds each request, including reading the answer. Defaults to DefaultTimeout.
	Timeout time.Duration
}

// Client calls the Graph API. It is safe for concurrent use.
type Client struct {
	base     string
	version  string
	token    func(ctx context.Context) (string, error)
	tokenFor func(ctx context.Context, nodeID string) (string, error)
	hc       *http.Client
	timeout  time.Duration
}

// New builds a Client. Configuration mistakes (no version, no token) surface on the first call
// as ErrInvalidRequest / ErrNoToken, so wiring code stays a single expression.
func New(o Options) *Client {
	c := &Client{
		base:    strings.TrimRight(o.BaseURL, "/"),
		version: strings.Trim(o.Version, "/"),
		hc:      o.HTTPClient,
		timeout: o.Timeout,
	}
	c.tokenFor = o.TokenFor
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64 // the default 2 would reconnect on every parallel send
		c.hc = &http.Client{Transport: t}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch {
	case o.TokenSource != nil:
		c.token = o.TokenSource
	default:
		static := o.Token
		c.token = func(context.Context) (string, error) { return static, nil }
	}
	return c
}

// successResponse is the `{"success":true}` answer of the registration endpoints.
type successResponse struct {
	Success bool `json:"success"`
}

// postSuccess POSTs in to /{id}/{edge} and expects {"success":true}.
func (c *Client) postSuccess(ctx context.Context, id, edge string, in any) error {
	var out successResponse
	if err := c.do(ctx, http.MethodPost, id, edge, nil, in, &out); err != nil {
		return err
	}
	if !out.Success {
		return fmt.Errorf("POST /{id}/%s answered success=false: %w", edge, ErrUnexpectedResponse)
	}
	return nil
}

// do sends one request to {base}/{version}/{id}[/{edge}] and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, id, edge string, query url.Values, in, out any) error {
	op := method + " /{id}"
	if edge != "" {
		op += "/" + edge
	}
	if c.version == "" {
		return fmt.Errorf("%s: no Graph API version configured: %w", op, ErrInvalidRequest)
	}
	if id == "" || strings.ContainsAny(id, "/?#") {
		return fmt.Errorf("%s: node id %q: %w", op, id, ErrInvalidRequest)
	}
	token, err := c.resolveToken(ctx, id)
	if err != nil {
		return &TokenError{Op: op, Err: err}
	}
	if token == "" {
		return fmt.Errorf("%s: %w", op, ErrNoToken)
	}

	u := c.base + "/" + c.version + "/" + url.PathEscape(id)
	if edge != "" {
		u += "/" + edge
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s: build request: %w: %w", op, ErrInvalidRequest, err)
	}
	if !isAppAuth(ctx) {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return &TransportError{Op: op, Err: stripURL(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &TransportError{Op: op, Err: fmt.Errorf("read answer (HTTP %d): %w", resp.StatusCode, err)}
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseError(resp.StatusCode, raw)
	}
	// Graph occasionally wraps an error in a 200; the error body wins.
	if ge := errorFromBody(resp.StatusCode, raw); ge != nil {
		return ge
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode answer (HTTP %d): %w: %w", op, resp.StatusCode, ErrUnexpectedResponse, err)
	}
	return nil
}

// stripURL drops *url.Error's URL (it names the node and version, harmless, but keeps error text
// stable) and keeps the cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// wireError is Meta's error body.
type wireError struct {
	Error *struct {
		Message   string  `json:"message"`
		Type      string  `json:"type"`
		Code      flexInt `json:"code"`
		Subcode   flexInt `json:"error_subcode"`
		FBTraceID string  `json:"fbtrace_id"`
		ErrorData *struct {
			Details string `json:"details"`
		} `json:"error_data"`
		UserMsg string `json:"error_user_msg"`
	} `json:"error"`
}

// errorFromBody returns the *Error in raw, or nil when raw is not Meta's error JSON.
func errorFromBody(status int, raw []byte) *Error {
	var w wireError
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &w) != nil || w.Error == nil {
		return nil
	}
	e := &Error{
		HTTPStatus: status,
		Code:       int(w.Error.Code),
		Subcode:    int(w.Error.Subcode),
		Type:       w.Error.Type,
		Message:    w.Error.Message,
		FBTraceID:  w.Error.FBTraceID,
	}
	if w.Error.ErrorData != nil {
		e.Details = w.Error.ErrorData.Details
	}
	if e.Details == "" {
		e.Details = w.Error.UserMsg
	}
	return e
}

// parseError turns any non-2xx answer into an *Error, tolerating bodies that are not Meta's JSON.
func parseError(status int, raw []byte) *Error {
	if e := errorFromBody(status, bytes.TrimSpace(raw)); e != nil {
		return e
	}
	return &Error{HTTPStatus: status, Message: snippet(raw)}
}

// snippet keeps the start of a non-JSON body (a proxy's error page) printable and short.
func snippet(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return ""
	}
	const n = 200
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// flexInt decodes a number or a numeric string; anything else decodes to 0 rather than failing,
// because a malformed code must not hide the rest of an error body.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	var n json.Number = json.Number(s)
	if v, err := n.Int64(); err == nil {
		*f = flexInt(v)
		return nil
	}
	if v, err := n.Float64(); err == nil {
		*f = flexInt(int64(v))
		return nil
	}
	*f = 0
	return nil
}

// flexString decodes a string or a bare number (Graph ids are sometimes unquoted).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	*f = flexString(b)
	return nil
}
