// Package graphfake is a local fake of Meta's Graph API for the WhatsApp Cloud API, following
// Meta's documented requests, answers and error bodies. Tests mount it with httptest (or Serve),
// `make run` and the load harness run it out of process (cmd/graphfake) and drive it over HTTP
// under /_fake/.
//
// Graph routes: POST /{version}/{phone-number-id}/messages, …/request_code, …/verify_code,
// …/register, …/deregister, GET /{version}/{id}?fields=…, POST /{version}/{id} (two-step PIN).
// Every request is recorded; scripted answers (Script) are consumed in order before the default
// behaviour. The fake never logs bodies, tokens, codes or PINs.
package graphfake

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultToken is the access token the fake accepts when Options.Token is empty.
const DefaultToken = "local-access-token"

// DefaultVerifyCode is the verification code verify_code accepts when Options.VerifyCode is empty.
const DefaultVerifyCode = "123456"

// DefaultMaxRecords bounds each of the request and send logs when Options.MaxRecords is zero.
const DefaultMaxRecords = 100_000

// maxBody bounds a request body, as Meta does (far above any valid send).
const maxBody = 1 << 20

// Options configure a Fake.
type Options struct {
	// Token is the only access token accepted (Authorization: Bearer …). Defaults to DefaultToken.
	Token string
	// VerifyCode is the code verify_code accepts. Defaults to DefaultVerifyCode.
	VerifyCode string
	// SendLatency delays every answer to POST …/messages (scripted or not, except drops), to model
	// Meta's response time in benchmarks.
	SendLatency time.Duration
	// StrictPhoneNumbers makes ids no test has set unknown (Meta's 100/33 "does not exist")
	// instead of DefaultPhoneNumber.
	StrictPhoneNumbers bool
	// MaxRecords bounds the request and send logs; the oldest tenth is dropped when full (Stats
	// keeps counting). Defaults to DefaultMaxRecords.
	MaxRecords int
	// Logger gets one line per Graph request (method, path, status, code; never bodies).
	// Nil logs nothing.
	Logger *slog.Logger
	// Now is the clock (register rate limit, record times). Defaults to time.Now.
	Now func() time.Time
	// AppID and AppSecret are the app credentials the code exchange and debug_token accept.
	// Default to DefaultAppID and DefaultAppSecret.
	AppID, AppSecret string
}

// Request is one recorded request to a Graph route.
type Request struct {
	Seq           int64     `json:"seq"`
	Time          time.Time `json:"time"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	Version       string    `json:"version,omitempty"`
	PhoneNumberID string    `json:"phone_number_id,omitempty"`
	// Edge is "messages", "register", …; empty for the node itself.
	Edge  string `json:"edge,omitempty"`
	Query string `json:"query,omitempty"`
	// Body is the JSON body as received (a form body is turned into a JSON object); nil otherwise.
	Body      json.RawMessage `json:"body,omitempty"`
	AuthValid bool            `json:"auth_valid"`
	// Status is the HTTP status answered; 0 when dropped or when the client went away first
	// (with LoseAnswer, the status that would have been answered).
	Status     int    `json:"status"`
	ErrorCode  int    `json:"error_code,omitempty"`
	WAMID      string `json:"wamid,omitempty"`
	Scripted   bool   `json:"scripted,omitempty"`
	Dropped    bool   `json:"dropped,omitempty"`
	ClientGone bool   `json:"client_gone,omitempty"`
	// TokenOwner is whose token authenticated the call: PlatformOwner, a business id, or
	// empty (no valid token). The token itself is never recorded.
	TokenOwner string `json:"token_owner,omitempty"`
}

// JSON decodes Body into a map (nil when there is no JSON body).
func (r Request) JSON() map[string]any {
	var m map[string]any
	if len(r.Body) > 0 {
		_ = json.Unmarshal(r.Body, &m)
	}
	return m
}

// Send is one successful (default-behaviour) message send.
type Send struct {
	Seq           int64     `json:"seq"`
	Time          time.Time `json:"time"`
	PhoneNumberID string    `json:"phone_number_id"`
	WAMID         string    `json:"wamid"`
	To            string    `json:"to,omitempty"`
	Recipient     string    `json:"recipient,omitempty"`
	// WaID is the digits of To as the fake resolved them (empty for BSUID-only sends).
	WaID                  string          `json:"wa_id,omitempty"`
	Type                  string          `json:"type"`
	TemplateName          string          `json:"template_name,omitempty"`
	ReplyTo               string          `json:"reply_to,omitempty"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
	Body                  json.RawMessage `json:"body"`
	// TokenOwner is whose token made the send (PlatformOwner or a business id) and
	// TokenFingerprint which token exactly (TokenFingerprint), never the token itself.
	TokenOwner       string `json:"token_owner"`
	TokenFingerprint string `json:"token_fingerprint"`
}

// Stats are running totals since New or Reset, unaffected by MaxRecords.
type Stats struct {
	Requests int64 `json:"requests"`
	Sends    int64 `json:"sends"`
	// Errors counts answers with a status ≥ 400.
	Errors     int64            `json:"errors"`
	Scripted   int64            `json:"scripted"`
	Dropped    int64            `json:"dropped"`
	ClientGone int64            `json:"client_gone"`
	ByCode     map[int]int64    `json:"by_error_code,omitempty"`
	ByStatus   map[int]int64    `json:"by_status,omitempty"`
	ByPhone    map[string]int64 `json:"sends_by_phone_number,omitempty"`
}

// Fake is the Graph API fake. It is an http.Handler, safe for concurrent use.
type Fake struct {
	token       string
	verifyCode  string
	strict      bool
	maxRecords  int
	baseLatency time.Duration
	log         *slog.Logger
	now         func() time.Time
	wamidPrefix string
	idSeq       atomic.Int64 // wamids and fbtrace_ids; atomic so error paths can run under mu
	appID       string
	appSecret   string

	mu       sync.Mutex
	latency  time.Duration
	scripts  []*scriptEntry
	phones   map[string]*numberRecord
	requests []Request
	sends    []Send
	stats    Stats
	reqSeq   int64
	sendSeq  int64
	changed  chan struct{} // closed and replaced on every new send
	su       *signup       // Embedded Signup state (onboarding.go)
	pv       preverified   // pre-verified numbers (preverified.go)
	// profiles and nameRequests: see profile.go.
	profiles     map[string]map[string]any
	nameRequests map[string]string
}

// New builds a Fake.
func New(o Options) *Fake {
	f := &Fake{
		token:       o.Token,
		verifyCode:  o.VerifyCode,
		strict:      o.StrictPhoneNumbers,
		maxRecords:  o.MaxRecords,
		baseLatency: o.SendLatency,
		log:         o.Logger,
		now:         o.Now,
		changed:     make(chan struct{}),
		appID:       cmp.Or(o.AppID, DefaultAppID),
		appSecret:   cmp.Or(o.AppSecret, DefaultAppSecret),
	}
	if f.token == "" {
		f.token = DefaultToken
	}
	if f.verifyCode == "" {
		f.verifyCode = DefaultVerifyCode
	}
	if f.maxRecords <= 0 {
		f.maxRecords = DefaultMaxRecords
	}
	if f.now == nil {
		f.now = time.Now
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	f.wamidPrefix = strings.ToUpper(hex.EncodeToString(b[:]))
	f.resetLocked()
	return f
}

// Token is the access token the fake accepts.
func (f *Fake) Token() string { return f.token }

// ServeHTTP serves the Graph routes and the /_fake/ control API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_fake" || strings.HasPrefix(r.URL.Path, "/_fake/") {
		f.control(w, r)
		return
	}
	f.graph(w, r)
}

// call is one Graph request, parsed.
type call struct {
	method, path, version, id, edge, query string
	route                                  string // path without version: "{id}/{edge}" or "{id}"
	extra                                  bool   // more segments than {id}/{edge}
	raw                                    json.RawMessage
	body                                   map[string]any
	params                                 url.Values
	authValid                              bool
	tooLarge                               bool
	recipient, toDigits                    string
	token, tokenOwner                      string
}

// result is the answer decided for a call.
type result struct {
	status    int
	body      []byte
	errorCode int
	wamid     string
	send      *Send
	scripted  bool
	dropped   bool
	gone      bool
}

func (f *Fake) graph(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := parseCall(r)
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		f.finish(c, result{gone: true}, start)
		return
	}
	if len(raw) > maxBody {
		c.tooLarge = true
	} else {
		c.parseBody(raw, r.Header.Get("Content-Type"))
	}
	c.token = bearer(r)
	f.mu.Lock()
	c.tokenOwner = f.tokenOwnerLocked(c.token)
	f.mu.Unlock()
	c.authValid = f.authOK(r) || c.tokenOwner != ""

	f.mu.Lock()
	sc := f.takeScript(c)
	var delay time.Duration
	if sc != nil {
		delay = sc.Delay
	}
	// SendLatency models Meta's answer time; a dropped connection has no answer to time.
	if c.isSend() && (sc == nil || !sc.Drop) {
		delay += f.latency
	}
	f.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			f.finish(c, result{gone: true, scripted: sc != nil}, start)
			return
		}
	}

	var res result
	switch {
	case sc != nil && sc.Drop:
		f.finish(c, result{dropped: true, scripted: true}, start)
		drop(w)
		return
	case sc != nil && sc.LoseAnswer:
		res = f.defaultAnswer(c)
		res.scripted, res.dropped = true, true
		f.finish(c, res, start)
		drop(w)
		return
	case sc != nil && sc.answers():
		res = f.scripted(sc)
	default:
		res = f.defaultAnswer(c)
	}
	// Record before answering: a client that has its answer must find the request recorded.
	f.finish(c, res, start)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

// isSend reports a POST …/messages.
func (c *call) isSend() bool {
	return c.method == http.MethodPost && c.edge == "messages" && !c.extra
}

// drop closes the connection with a reset and no answer.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a recorder: abort the stream the standard way.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST rather than FIN: a "connection reset by peer"
	}
	_ = conn.Close()
}

func parseCall(r *http.Request) *call {
	c := &call{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, params: r.URL.Query()}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) > 0 && versionSegment.MatchString(segs[0]) {
		c.version, segs = segs[0], segs[1:]
	}
	if len(segs) > 0 {
		c.id = segs[0]
	}
	if len(segs) > 1 {
		c.edge = segs[1]
	}
	c.extra = len(segs) > 2
	c.route = strings.Join(segs, "/")
	return c
}

// parseBody accepts a JSON object or a form body, as Graph does.
func (c *call) parseBody(raw []byte, contentType string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return
	}
	if raw[0] == '{' {
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			c.body, c.raw = m, json.RawMessage(raw)
		}
	} else if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		if vals, err := url.ParseQuery(string(raw)); err == nil {
			m := map[string]any{}
			for k, v := range vals {
				if k == "access_token" {
					continue
				}
				m[k] = v[0]
			}
			c.body = m
			c.raw, _ = json.Marshal(m)
		}
	}
	if c.body != nil {
		c.recipient = str(c.body["recipient"])
		c.toDigits = digitsOnly(str(c.body["to"]))
	}
}

// param reads a parameter from the body, then the query string (Graph accepts both).
func (c *call) param(name string) string {
	if v := str(c.body[name]); v != "" {
		return v
	}
	return c.params.Get(name)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func (f *Fake) authOK(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		return tok == f.token
	}
	return auth == "" && r.URL.Query().Get("access_token") == f.token
}

// takeScript pops the first matching script. Caller holds f.mu.
func (f *Fake) takeScript(c *call) *Script {
	for i, e := range f.scripts {
		if !e.match(c) {
			continue
		}
		if e.left > 0 {
			e.left--
		}
		if e.left == 0 {
			f.scripts = slices.Delete(f.scripts, i, i+1)
		}
		s := e.Script
		return &s
	}
	return nil
}

func (f *Fake) scripted(s *Script) result {
	res := result{scripted: true, status: s.Status}
	switch {
	case s.Body != "":
		if res.status == 0 {
			res.status = http.StatusOK
		}
		res.body = []byte(s.Body)
	case s.ErrorCode != 0:
		if res.status == 0 {
			res.status = StatusForCode(s.ErrorCode)
		}
		res.errorCode = s.ErrorCode
		res.body = ErrorBody(s.ErrorCode, s.ErrorSubcode, s.ErrorMessage, s.ErrorDetails, f.traceID())
	}
	return res
}

func (f *Fake) traceID() string {
	return fmt.Sprintf("Fake%s%06d", f.wamidPrefix, f.idSeq.Add(1))
}

// errorResult renders a metaError.
func (f *Fake) errorResult(e *metaError) result {
	return result{status: e.status, errorCode: e.code, body: ErrorBody(e.code, e.subcode, e.message, e.details, f.traceID())}
}

// finish records the call and its answer, updates stats and logs one line.
func (f *Fake) finish(c *call, res result, start time.Time) {
	now := f.now()
	f.mu.Lock()
	f.reqSeq++
	f.requests = append(f.requests, Request{
		Seq: f.reqSeq, Time: now, Method: c.method, Path: c.path, Version: c.version,
		PhoneNumberID: c.id, Edge: c.edge, Query: redactQuery(c.query), Body: c.raw,
		AuthValid: c.authValid, Status: res.status, ErrorCode: res.errorCode, WAMID: res.wamid,
		Scripted: res.scripted, Dropped: res.dropped, ClientGone: res.gone, TokenOwner: c.tokenOwner,
	})
	f.requests = trim(f.requests, f.maxRecords)
	st := &f.stats
	st.Requests++
	if res.scripted {
		st.Scripted++
	}
	switch {
	case res.dropped:
		st.Dropped++
	case res.gone:
		st.ClientGone++
	default:
		st.ByStatus[res.status]++
		if res.status >= 400 {
			st.Errors++
		}
	}
	if res.errorCode != 0 {
		st.ByCode[res.errorCode]++
	}
	if res.send != nil {
		f.sendSeq++
		s := *res.send
		s.Seq, s.Time = f.sendSeq, now
		s.TokenOwner, s.TokenFingerprint = c.tokenOwner, TokenFingerprint(c.token)
		f.sends = trim(append(f.sends, s), f.maxRecords)
		st.Sends++
		st.ByPhone[s.PhoneNumberID]++
		close(f.changed)
		f.changed = make(chan struct{})
	}
	f.mu.Unlock()

	if f.log != nil {
		f.log.Info("graph request", "method", c.method, "path", c.path, "status", res.status,
			"error_code", res.errorCode, "scripted", res.scripted, "dropped", res.dropped,
			"client_gone", res.gone, "auth_valid", c.authValid, "duration_ms", time.Since(start).Milliseconds())
	}
}

// secretParams are query parameters never recorded: tokens, the app secret, exchangeable codes.
var secretParams = []string{"access_token", "client_secret", "input_token", "code"}

// redactQuery removes the secret parameters from a recorded query string.
func redactQuery(q string) string {
	if !slices.ContainsFunc(secretParams, func(p string) bool { return strings.Contains(q, p) }) {
		return q
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return ""
	}
	for _, p := range secretParams {
		vals.Del(p)
	}
	return vals.Encode()
}

// trim drops the oldest tenth of s once it exceeds max.
func trim[T any](s []T, max int) []T {
	if len(s) <= max {
		return s
	}
	cut := len(s) - max + max/10
	return append(s[:0:0], s[cut:]...)
}

// Script queues scripted answers, consumed in order before the default behaviour.
func (f *Fake) Script(scripts ...Script) error {
	entries := make([]*scriptEntry, 0, len(scripts))
	for _, s := range scripts {
		e, err := newEntry(s)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	f.mu.Lock()
	f.scripts = append(f.scripts, entries...)
	f.mu.Unlock()
	return nil
}

// Burst makes the next n matching requests answer as s does (s.Times is replaced by n).
func (f *Fake) Burst(n int, s Script) error {
	if n <= 0 {
		return fmt.Errorf("burst of %d requests: want at least 1", n)
	}
	s.Times = n
	return f.Script(s)
}

// ClearScripts drops every pending script.
func (f *Fake) ClearScripts() {
	f.mu.Lock()
	f.scripts = nil
	f.mu.Unlock()
}

// PendingScripts is the number of scripts not yet used up.
func (f *Fake) PendingScripts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.scripts)
}

// SetSendLatency changes the latency of POST …/messages answers.
func (f *Fake) SetSendLatency(d time.Duration) {
	f.mu.Lock()
	f.latency = max(d, 0)
	f.mu.Unlock()
}

// SendLatency is the current latency of POST …/messages answers.
func (f *Fake) SendLatency() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latency
}

// SetPhoneNumber sets the state served for id; empty fields take DefaultPhoneNumber's values.
// Registration bookkeeping (PIN, register calls) is kept.
func (f *Fake) SetPhoneNumber(id string, s PhoneNumberState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.phones[id]
	if p == nil {
		p = &numberRecord{}
		f.phones[id] = p
	}
	p.state = s.withDefaults(id)
}

// UpdatePhoneNumber changes the state of id in place (starting from the current or default state).
func (f *Fake) UpdatePhoneNumber(id string, update func(*PhoneNumberState)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.phones[id]
	if p == nil {
		p = &numberRecord{state: DefaultPhoneNumber(id)}
		f.phones[id] = p
	}
	update(&p.state)
	p.state = p.state.withDefaults(id)
}

// PhoneNumber returns the state served for id, and whether it exists (always true unless
// StrictPhoneNumbers, where only numbers set by a test exist).
func (f *Fake) PhoneNumber(id string) (PhoneNumberState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.phones[id]; p != nil {
		return p.state, true
	}
	if f.strict {
		return PhoneNumberState{}, false
	}
	return DefaultPhoneNumber(id), true
}

// phoneFor returns id's record, creating a default one unless strict. Caller holds f.mu.
func (f *Fake) phoneFor(id string) *numberRecord {
	if p := f.phones[id]; p != nil {
		return p
	}
	if f.strict {
		return nil
	}
	p := &numberRecord{state: DefaultPhoneNumber(id)}
	f.phones[id] = p
	return p
}

// Requests returns a copy of the recorded requests, oldest first.
func (f *Fake) Requests() []Request { return f.RequestsSince(0) }

// RequestsSince returns the recorded requests with Seq > seq.
func (f *Fake) RequestsSince(seq int64) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return since(f.requests, seq, func(r Request) int64 { return r.Seq })
}

// Sends returns a copy of the successful sends, oldest first.
func (f *Fake) Sends() []Send { return f.SendsSince(0) }

// SendsSince returns the successful sends with Seq > seq.
func (f *Fake) SendsSince(seq int64) []Send {
	f.mu.Lock()
	defer f.mu.Unlock()
	return since(f.sends, seq, func(s Send) int64 { return s.Seq })
}

func since[T any](all []T, seq int64, key func(T) int64) []T {
	i, _ := slices.BinarySearchFunc(all, seq, func(x T, s int64) int {
		switch k := key(x); {
		case k <= s:
			return -1
		default:
			return 1
		}
	})
	return slices.Clone(all[i:])
}

// WaitSends blocks until at least n sends are recorded (since New or Reset) or ctx ends, and
// returns them. Use it where sends happen asynchronously (a queue consumer).
func (f *Fake) WaitSends(ctx context.Context, n int) ([]Send, error) {
	for {
		f.mu.Lock()
		if len(f.sends) >= n {
			out := slices.Clone(f.sends)
			f.mu.Unlock()
			return out, nil
		}
		ch, have := f.changed, len(f.sends)
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %d sends (have %d): %w", n, have, ctx.Err())
		}
	}
}

// Stats returns the running totals.
func (f *Fake) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.ByCode = cloneMap(s.ByCode)
	s.ByStatus = cloneMap(s.ByStatus)
	s.ByPhone = cloneMap(s.ByPhone)
	return s
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Reset returns the fake to the state New produced: no records, scripts or phone-number state,
// zero stats, latency back to Options.SendLatency. Sequence numbers and wamids keep increasing,
// so a poller using RequestsSince/SendsSince never sees an old number again.
func (f *Fake) Reset() {
	f.mu.Lock()
	f.resetLocked()
	f.mu.Unlock()
}

func (f *Fake) resetLocked() {
	f.pv.reset()
	f.scripts = nil
	f.su = nil
	f.phones = map[string]*numberRecord{}
	f.profiles, f.nameRequests = nil, nil
	f.requests = nil
	f.sends = nil
	f.latency = f.baseLatency
	f.stats = Stats{ByCode: map[int]int64{}, ByStatus: map[int]int64{}, ByPhone: map[string]int64{}}
}
