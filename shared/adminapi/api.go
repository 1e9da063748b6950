// Package adminapi is the sender admin API: one http.Handler routed on the request path, so it
// serves the same way under Lambda (whatever route key the event carries, with or without an
// authorizer block: authorization is API Gateway's IAM check), under `make run` and in tests.
//
// JSON in and out; errors are {"error":{"code":"…","message":"…"}} with 400 (bad input), 404
// (unknown sender, record or route), 409 (a refused status transition, a taken number, a lost
// concurrent update), 413 (body too large), 502 (the Graph API failed).
//
// Verification codes and two-step PINs pass through this package only on their way to the
// Graph API: they are never logged, never returned and never stored in plaintext. A PIN the
// caller does not give is generated with crypto/rand and handed to the PINKeeper (the
// credentials vault: sealed, per number) before Meta sees it, because every later
// re-registration needs it; POST /senders/{id}/pin sets a new one at Meta.
package adminapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/template"
)

// Store is what the API reads and writes (implemented by *store.Store).
type Store interface {
	CreateSender(ctx context.Context, snd *sender.Sender) error
	GetSender(ctx context.Context, id string) (*sender.Sender, error)
	UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error)
	ListSenders(ctx context.Context, f store.SenderFilter, limit int, cursor string) ([]*sender.Sender, string, error)
	ArchiveSender(ctx context.Context, snd *sender.Sender, at time.Time) error
	GetPortfolio(ctx context.Context, key string) (sender.Portfolio, error)
	ResolveCustomer(ctx context.Context, waba string, c customer.Ref) (customer.Ref, error)
	GetWindow(ctx context.Context, phoneNumberID, waba string, c customer.Ref) (customer.Window, error)
	GetOptOut(ctx context.Context, waba string, c customer.Ref) (customer.OptOut, error)
	GetDeliverability(ctx context.Context, waba string, c customer.Ref) (customer.Deliverability, error)
	ListTemplates(ctx context.Context, waba string) ([]template.Template, error)
	GetRecord(ctx context.Context, id string) (*outbound.Record, error)
}

var _ Store = (*store.Store)(nil)

// Graph is the part of the Graph API the registration flow calls (implemented by *graph.Client).
type Graph interface {
	RequestCode(ctx context.Context, phoneNumberID, method, language string) error
	VerifyCode(ctx context.Context, phoneNumberID, code string) error
	Register(ctx context.Context, phoneNumberID, pin string) error
	Deregister(ctx context.Context, phoneNumberID string) error
	// RequestDisplayName asks Meta to change the number's display name (reviewed by Meta).
	RequestDisplayName(ctx context.Context, phoneNumberID, name string) error
	// GetBusinessProfile and UpdateBusinessProfile read and change whatsapp_business_profile.
	GetBusinessProfile(ctx context.Context, phoneNumberID string) (graph.BusinessProfile, error)
	UpdateBusinessProfile(ctx context.Context, phoneNumberID string, u graph.BusinessProfileUpdate) error
}

var _ Graph = (*graph.Client)(nil)

// Enqueuer validates an outbound request and queues it for the outbound function. Errors that
// are the caller's fault implement `BadRequest() bool` (→ 400) or wrap ErrInvalidRequest;
// anything else is a 500.
type Enqueuer interface {
	Enqueue(ctx context.Context, req outbound.Request) error
}

// ErrInvalidRequest may be wrapped by an Enqueuer's validation errors to get a 400.
var ErrInvalidRequest = errors.New("invalid request")

// Options configure the API.
type Options struct {
	Store Store
	Graph Graph
	// Enqueuer serves POST /messages; nil answers 501.
	Enqueuer Enqueuer
	// PINs keeps two-step PINs (the credentials vault); nil keeps none (tests).
	PINs credentials.PINKeeper
	// Onboarding serves /onboardings, /businesses/{id}/token and /senders/{id}/pin; nil answers 501.
	Onboarding Onboarder
	Log        *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// MaxBody bounds request bodies; 0 is DefaultMaxBody.
	MaxBody int64
	// Pool serves /numbers (platform numbers); nil answers 501 there.
	Pool NumberPool
	// RegisterBackoff is the wait before repeating a register Meta failed transiently; 0 is
	// DefaultRegisterBackoff, negative is none (tests).
	RegisterBackoff time.Duration
}

// DefaultRegisterBackoff is the wait before repeating a register after a passing failure.
const DefaultRegisterBackoff = 500 * time.Millisecond

// DefaultMaxBody bounds request bodies: the largest legitimate one is a message request.
const DefaultMaxBody = 256 << 10

// API is the admin API handler.
type API struct {
	store    Store
	graph    Graph
	enqueuer Enqueuer
	pins     credentials.PINKeeper
	onboard  Onboarder
	log      *slog.Logger
	now      func() time.Time
	maxBody  int64
	pool     NumberPool

	registerBackoff time.Duration
}

// New returns the admin API handler.
func New(o Options) *API {
	a := &API{store: o.Store, graph: o.Graph, enqueuer: o.Enqueuer, pins: o.PINs, onboard: o.Onboarding, log: o.Log, now: o.Now, maxBody: o.MaxBody}
	a.pool = o.Pool
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBody
	}
	switch {
	case o.RegisterBackoff == 0:
		a.registerBackoff = DefaultRegisterBackoff
	case o.RegisterBackoff > 0:
		a.registerBackoff = o.RegisterBackoff
	}
	return a
}

// route is a matched request: a name for logs (no ids, no phone numbers) and the path values.
type route struct {
	name    string
	handler func(w http.ResponseWriter, r *http.Request, p []string) error
	params  []string
	allowed string
}

// ServeHTTP routes on the request path.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w}
	rt := a.match(r)
	defer func() {
		if v := recover(); v != nil {
			a.log.Error("admin api panic", "route", rt.name, "panic", slog.AnyValue(v).String())
			if rw.status == 0 {
				writeError(rw, &apiError{http.StatusInternalServerError, "internal", "internal error"})
			}
		}
		a.log.Info("admin api request", "method", r.Method, "route", rt.name, "status", rw.status,
			"durationMs", time.Since(start).Milliseconds())
	}()
	if rt.handler == nil {
		if rt.allowed != "" {
			rw.Header().Set("Allow", rt.allowed)
			writeError(rw, &apiError{http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method + " is not allowed here; allowed: " + rt.allowed})
			return
		}
		writeError(rw, &apiError{http.StatusNotFound, "not_found", "no such route"})
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, a.maxBody)
	if err := rt.handler(rw, r, rt.params); err != nil {
		a.fail(rw, r, rt.name, err)
	}
}

// maxParamLen bounds a path parameter (phone_number_id, request id, E.164 or BSUID).
const maxParamLen = 256

// segments splits the path into unescaped segments starting at the first known root.
func segments(r *http.Request) []string {
	raw := r.URL.EscapedPath()
	var out []string
	for _, s := range strings.Split(strings.Trim(raw, "/"), "/") {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		out = append(out, s)
	}
	for i, s := range out {
		if roots[s] {
			return out[i:]
		}
	}
	return nil
}

// Endpoint is one operation the handler serves: a method and a path pattern whose {name}
// segments are path parameters, spelled as the OpenAPI document spells its paths.
type Endpoint struct {
	Method, Pattern string
}

// endpoint is an Endpoint with its handler; the router matches on this table alone.
type endpoint struct {
	Endpoint
	handle func(a *API, w http.ResponseWriter, r *http.Request, p []string) error
}

// endpoints is the routing table, in matching order: a literal segment listed before a
// parameter in the same place wins (/numbers/available before /numbers/{e164}).
var endpoints = []endpoint{
	{Endpoint{http.MethodGet, "/senders"}, (*API).listSenders},
	{Endpoint{http.MethodPost, "/senders"}, (*API).createSender},
	{Endpoint{http.MethodGet, "/senders/{id}"}, (*API).getSender},
	{Endpoint{http.MethodPatch, "/senders/{id}"}, (*API).patchSender},
	{Endpoint{http.MethodDelete, "/senders/{id}"}, (*API).deleteSender},
	{Endpoint{http.MethodGet, "/senders/{id}/profile"}, (*API).getProfile},
	{Endpoint{http.MethodPatch, "/senders/{id}/profile"}, (*API).patchProfile},
	{Endpoint{http.MethodPost, "/senders/{id}/verification"}, (*API).startVerification},
	{Endpoint{http.MethodPost, "/senders/{id}/verification/confirm"}, (*API).confirmVerification},
	{Endpoint{http.MethodPost, "/senders/{id}/pin"}, (*API).postSenderPIN},
	{Endpoint{http.MethodGet, "/senders/{id}/customers/{customer}"}, (*API).getCustomer},
	{Endpoint{http.MethodGet, "/templates"}, (*API).listTemplates},
	{Endpoint{http.MethodPost, "/messages"}, (*API).postMessage},
	{Endpoint{http.MethodGet, "/messages/{id}"}, (*API).getMessage},
	{Endpoint{http.MethodPost, "/onboardings"}, (*API).postOnboarding},
	{Endpoint{http.MethodGet, "/onboardings/{id}"}, (*API).getOnboarding},
	{Endpoint{http.MethodPost, "/onboardings/{id}/retry"}, (*API).retryOnboarding},
	{Endpoint{http.MethodPut, "/businesses/{id}/token"}, (*API).putBusinessToken},
	{Endpoint{http.MethodGet, "/numbers"}, (*API).listNumbers},
	{Endpoint{http.MethodPost, "/numbers"}, (*API).buyNumber},
	{Endpoint{http.MethodGet, "/numbers/available"}, (*API).availableNumbers},
	{Endpoint{http.MethodGet, "/numbers/{e164}"}, (*API).getNumber},
	{Endpoint{http.MethodPost, "/numbers/{e164}/verification"}, (*API).verifyNumber},
	{Endpoint{http.MethodPost, "/numbers/{e164}/claim"}, (*API).claimNumber},
}

// roots are the first path segments the API serves; anything before one (a stage name such
// as /prod) is ignored, so the handler works whatever prefix or route key the event carries.
var roots = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range endpoints {
		m[strings.Split(strings.Trim(e.Pattern, "/"), "/")[0]] = true
	}
	return m
}()

// Endpoints lists every operation the handler serves, read from the table it routes on (the
// OpenAPI test compares it with the document).
func Endpoints() []Endpoint {
	out := make([]Endpoint, len(endpoints))
	for i, e := range endpoints {
		out[i] = e.Endpoint
	}
	return out
}

// matchPattern reports whether the path segments p fit pattern, with the parameters' values.
func matchPattern(pattern string, p []string) ([]string, bool) {
	want := strings.Split(strings.Trim(pattern, "/"), "/")
	if len(want) != len(p) {
		return nil, false
	}
	var params []string
	for i, w := range want {
		switch {
		case strings.HasPrefix(w, "{"):
			if p[i] == "" {
				return nil, false
			}
			params = append(params, p[i])
		case w != p[i]:
			return nil, false
		}
	}
	return params, true
}

func (a *API) match(r *http.Request) route {
	p := segments(r)
	m := r.Method
	for _, e := range endpoints {
		params, ok := matchPattern(e.Pattern, p)
		if !ok {
			continue
		}
		name := m + " " + e.Pattern
		for _, v := range params {
			// No id of ours is this long; DynamoDB would refuse it as a key (a 500): not found.
			if len(v) > maxParamLen {
				return route{name: name}
			}
			if err := checkText("path", v); err != nil {
				return route{name: name, handler: func(http.ResponseWriter, *http.Request, []string) error { return err }}
			}
		}
		var allowed []string
		for _, o := range endpoints {
			if o.Pattern != e.Pattern {
				continue
			}
			if o.Method == m {
				h := o.handle
				return route{name: name, params: params, handler: func(w http.ResponseWriter, r *http.Request, p []string) error {
					return h(a, w, r, p)
				}}
			}
			allowed = append(allowed, o.Method)
		}
		return route{name: name, allowed: strings.Join(allowed, ", ")}
	}
	return route{name: m + " (unknown)"}
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
