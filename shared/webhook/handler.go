// Package webhook receives Meta's WhatsApp webhooks: the GET handshake and signed POSTs, whose
// every change it applies to storage (windows, opt-outs, outbound records, senders, templates,
// account state) and whose customer messages it forwards to the inbound queue, once per message
// id, before answering 200.
//
// Delivery semantics: 200 only after every effect of the POST is durable; a transient failure
// answers 500 so that Meta retries (for up to 7 days). A signed payload that cannot be used is
// parked whole and acknowledged. Every effect is idempotent and independent of arrival order
// (each piece of state is a register ordered by Meta's own timestamps), so duplicates and
// reordering end in the same state.
//
// The package defines its ports (ports.go) and imports no AWS code; shared/store and
// shared/queue implement them and shared/app wires them.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aloro/wa-senders/shared/metrics"
	"github.com/aloro/wa-senders/shared/ttlcache"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Defaults of Config.
const (
	// DefaultMaxBodyBytes: Meta's payloads go up to 3 MB; the margin covers batching overhead.
	DefaultMaxBodyBytes = 4 << 20
	// DefaultTimeout leaves the Lambda (10 s) time to answer 500 itself.
	DefaultTimeout = 8 * time.Second
	// DefaultClaimLease is how long the claim of a template re-send (after 131047) blocks other
	// deliveries of the same status; it outlasts one invocation, so a crashed one is taken over
	// on Meta's next retry.
	DefaultClaimLease = 30 * time.Second
	// DefaultParallelism bounds the storage calls of one POST in flight at once.
	DefaultParallelism = 16
	// DefaultFreeEntryWindow is the window after a Click-to-WhatsApp referral.
	DefaultFreeEntryWindow = 72 * time.Hour
)

// Config is the webhook's configuration.
type Config struct {
	// AppSecret keys the X-Hub-Signature-256 HMAC; required (an empty secret never skips the check).
	AppSecret string
	// VerifyToken is the hub.verify_token of the GET handshake; required.
	VerifyToken string
	// InboundQueueURL receives customer messages (a FIFO queue: group per conversation,
	// deduplication by wamid); required.
	InboundQueueURL string
	// OutboundQueueURL receives the template re-sends after 131047 (FIFO queue); required.
	OutboundQueueURL string
	// FreeEntryWindow is the window after a free-entry-point referral (72 h when zero).
	FreeEntryWindow time.Duration
	// StopKeywords replaces the embedded opt-out keyword list when non-empty.
	StopKeywords []string
	MaxBodyBytes int64
	Timeout      time.Duration
	ClaimLease   time.Duration
	Parallelism  int
}

// Deps are the webhook's adapters.
type Deps struct {
	Store Store
	Queue Queue
	Log   *slog.Logger
	// Metrics receives one EMF line per POST (the logger's writer, so CloudWatch reads it).
	Metrics io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Partners applies account_update partner events (onboarding); nil records them only.
	Partners Partners
}

// ConfigError names a missing or invalid setting of New.
type ConfigError struct{ Field, Problem string }

func (e *ConfigError) Error() string { return "webhook: " + e.Field + " " + e.Problem }

// Handler serves GET (handshake) and POST (notifications) on the webhook route.
type Handler struct {
	cfg      Config
	verifier *whatsapp.Verifier
	st       Store
	q        Queue
	log      *slog.Logger
	emit     *metrics.Emitter
	now      func() time.Time
	keywords *Keywords
	senders  *ttlcache.Cache[senderInfo]
	aliases  *ttlcache.Cache[int64]
	phones   *ttlcache.Cache[string]
	partners Partners
	// ownerPrefix and ownerSeq name each POST's claims (newOwner).
	ownerPrefix string
	ownerSeq    atomic.Uint64
}

// New checks the configuration and returns the handler. An empty app secret or verify token is
// an error: the signature check is never skipped.
func New(cfg Config, d Deps) (*Handler, error) {
	switch {
	case cfg.AppSecret == "":
		return nil, &ConfigError{"AppSecret", "is empty: refusing to accept unsigned webhooks"}
	case cfg.VerifyToken == "":
		return nil, &ConfigError{"VerifyToken", "is empty: the handshake could never succeed"}
	case cfg.InboundQueueURL == "":
		return nil, &ConfigError{"InboundQueueURL", "is empty"}
	case cfg.OutboundQueueURL == "":
		return nil, &ConfigError{"OutboundQueueURL", "is empty"}
	case d.Store == nil:
		return nil, &ConfigError{"Store", "is nil"}
	case d.Queue == nil:
		return nil, &ConfigError{"Queue", "is nil"}
	}
	if cfg.FreeEntryWindow <= 0 {
		cfg.FreeEntryWindow = DefaultFreeEntryWindow
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ClaimLease <= 0 {
		cfg.ClaimLease = DefaultClaimLease
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = DefaultParallelism
	}
	if d.Log == nil {
		d.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Handler{
		cfg:      cfg,
		verifier: whatsapp.NewVerifier([]byte(cfg.AppSecret)),
		st:       d.Store,
		q:        d.Queue,
		log:      d.Log,
		emit:     metrics.NewEmitter(d.Metrics, "webhook"),
		now:      d.Now,
		keywords: NewKeywords(cfg.StopKeywords),
		senders:  ttlcache.New[senderInfo](time.Minute, 10000),
		aliases:  ttlcache.New[int64](10*time.Minute, 50000),
		// A wa_id's E.164 form never changes: the entries only expire to bound memory.
		phones:      ttlcache.New[string](1<<62, 50000),
		partners:    d.Partners,
		ownerPrefix: randomOwnerPrefix(),
	}, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.handshake(w, r)
	case http.MethodPost:
		h.notify(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

// maxChallenge bounds the echoed hub.challenge (Meta sends a short number).
const maxChallenge = 1024

func (h *Handler) handshake(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	challenge := q.Get(whatsapp.HubChallenge)
	if !whatsapp.VerifyHandshake(q.Get(whatsapp.HubMode), q.Get(whatsapp.HubVerifyToken), h.cfg.VerifyToken) ||
		challenge == "" || len(challenge) > maxChallenge {
		h.log.Warn("webhook handshake refused", "mode", truncate(q.Get(whatsapp.HubMode), 32))
		plain(w, http.StatusForbidden, "forbidden")
		return
	}
	h.log.Info("webhook handshake verified")
	plain(w, http.StatusOK, challenge)
}

func (h *Handler) notify(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	counters := metrics.NewCounters()
	defer func() {
		if err := h.emit.Flush(counters, h.now()); err != nil {
			h.log.Warn("emit metrics", "error", err.Error())
		}
	}()
	if r.ContentLength > h.cfg.MaxBodyBytes {
		plain(w, http.StatusRequestEntityTooLarge, "payload too large")
		return
	}
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			plain(w, http.StatusRequestEntityTooLarge, "payload too large")
			return
		}
		plain(w, http.StatusBadRequest, "could not read body")
		return
	}
	if err := h.verifier.Verify(body, r.Header.Get(whatsapp.SignatureHeader)); err != nil {
		counters.Inc(metrics.SignatureRejected)
		// Never the body: it is unauthenticated and may carry anything.
		h.log.Warn("webhook signature rejected", "reason", signatureReason(err), "bytes", len(body))
		plain(w, http.StatusUnauthorized, "invalid signature")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	if err := h.process(ctx, body, counters); err != nil {
		counters.Inc(metrics.NotApplied)
		h.log.Error("webhook not applied; Meta will retry", "error", err.Error(), "bytes", len(body),
			"ms", h.now().Sub(start).Milliseconds())
		plain(w, http.StatusInternalServerError, "retry later")
		return
	}
	plain(w, http.StatusOK, "ok")
}

// Process applies one verified notification body, as a POST would, and returns an error when
// Meta must retry it. Tools (redrive of parked payloads, fuzzing) use it directly.
func (h *Handler) Process(ctx context.Context, body []byte) error {
	counters := metrics.NewCounters()
	defer func() { _ = h.emit.Flush(counters, h.now()) }()
	return h.process(ctx, body, counters)
}

func signatureReason(err error) string {
	switch {
	case errors.Is(err, whatsapp.ErrMissingSignature):
		return "missing"
	case errors.Is(err, whatsapp.ErrMalformedSignature):
		return "malformed"
	case errors.Is(err, whatsapp.ErrBadSignature):
		return "mismatch"
	}
	return "invalid"
}

// readBody reads the body within max bytes, in one allocation when the length is announced
// (API Gateway and Meta always announce it).
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, max)
	if r.ContentLength <= 0 {
		return io.ReadAll(rd)
	}
	// One byte more than announced, to see the end without growing; a longer body still grows.
	buf := make([]byte, 0, r.ContentLength+1)
	for {
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// The header values of every answer, shared (never written to) to save two allocations per
// request.
var (
	textPlain = []string{"text/plain; charset=utf-8"}
	noSniff   = []string{"nosniff"}
)

func plain(w http.ResponseWriter, code int, msg string) {
	hd := w.Header()
	hd["Content-Type"] = textPlain
	hd["X-Content-Type-Options"] = noSniff
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// newOwner names one POST's processing as the owner of the claims it takes: the instance's
// random prefix and a counter, unique without a random read per POST.
func (h *Handler) newOwner() string {
	return h.ownerPrefix + strconv.FormatUint(h.ownerSeq.Add(1), 36)
}

func randomOwnerPrefix() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a clock-based prefix is still unique enough.
		return fmt.Sprintf("t%d-", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:]) + "-"
}
