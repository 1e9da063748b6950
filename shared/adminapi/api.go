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

// PINKeeper stores a two-step PIN where secrets are kept. Optional.
type PINKeeper interface {
	KeepPIN(ctx context.Context, phoneNumberID, pin string) error
}

// Options configure the API.
type Options struct {
	Store Store
	Graph Graph
	// Enqueuer serves POST /messages; nil answers 501.
	Enqueuer Enqueuer
	// PINs keeps two-step PINs (the credentials vault); nil keeps none (tests).
	PINs PINKeeper
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
	pins     PINKeeper
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

// roots are the first path segments the API serves; anything before one (a stage name such
// as /prod) is ignored, so the handler works whatever prefix or route key the event carries.
var roots = map[string]bool{"senders": true, "templates": true, "messages": true, "onboardings": true, "businesses": true}

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

func (a *API) match(r *http.Request) route {
	p := segments(r)
	m := r.Method
	type h = func(w http.ResponseWriter, r *http.Request, p []string) error
	pick := func(name string, byMethod map[string]h, params ...string) route {
		for _, v := range params {
			// No id of ours is this long; DynamoDB would refuse it as a key (a 500): not found.
			if len(v) > maxParamLen {
				return route{name: m + " " + name}
			}
			if err := checkText("path", v); err != nil {
				return route{name: m + " " + name, handler: func(http.ResponseWriter, *http.Request, []string) error { return err }}
			}
		}
		if f, ok := byMethod[m]; ok {
			return route{name: m + " " + name, handler: f, params: params}
		}
		var allowed []string
		for _, k := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			if _, ok := byMethod[k]; ok {
				allowed = append(allowed, k)
			}
		}
		return route{name: m + " " + name, allowed: strings.Join(allowed, ", ")}
	}
	if rt, ok := a.matchOnboarding(p, pick); ok {
		return rt
	}
	if rt, ok := a.matchNumbers(m, p); ok {
		return rt
	}
	n := len(p)
	switch {
	case n == 1 && p[0] == "senders":
		return pick("/senders", map[string]h{http.MethodGet: a.listSenders, http.MethodPost: a.createSender})
	case n == 2 && p[0] == "senders" && p[1] != "":
		return pick("/senders/{id}", map[string]h{http.MethodGet: a.getSender, http.MethodPatch: a.patchSender,
			http.MethodDelete: a.deleteSender}, p[1])
	case n == 3 && p[0] == "senders" && p[2] == "verification":
		return pick("/senders/{id}/verification", map[string]h{http.MethodPost: a.startVerification}, p[1])
	case n == 4 && p[0] == "senders" && p[2] == "verification" && p[3] == "confirm":
		return pick("/senders/{id}/verification/confirm", map[string]h{http.MethodPost: a.confirmVerification}, p[1])
	case n == 3 && p[0] == "senders" && p[2] == "profile":
		return pick("/senders/{id}/profile", map[string]h{http.MethodGet: a.getProfile, http.MethodPatch: a.patchProfile}, p[1])
	case n == 4 && p[0] == "senders" && p[2] == "customers" && p[3] != "":
		return pick("/senders/{id}/customers/{customer}", map[string]h{http.MethodGet: a.getCustomer}, p[1], p[3])
	case n == 1 && p[0] == "templates":
		return pick("/templates", map[string]h{http.MethodGet: a.listTemplates})
	case n == 1 && p[0] == "messages":
		return pick("/messages", map[string]h{http.MethodPost: a.postMessage})
	case n == 2 && p[0] == "messages" && p[1] != "":
		return pick("/messages/{id}", map[string]h{http.MethodGet: a.getMessage}, p[1])
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
