package numberpool

import (
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/aloro/wa-senders/shared/carrier"
)

// maxWebhookBody bounds a carrier webhook (an SMS is a few hundred bytes of form).
const maxWebhookBody = 64 << 10

// Webhook is the public carrier webhook: POST {base}/carrier/sms, {base}/carrier/voice and
// {base}/carrier/voice/transcription. Each request's X-Twilio-Signature is checked on the form
// it carries against the URL the carrier was given. It answers TwiML: a missing or bad
// signature 403, a number that is not ours (a call is rejected), a replay or anything ignored
// 200 with an empty <Response/>, a passing failure 500. Only ids are logged.
type Webhook struct {
	pool  *Pool
	token string
	base  string
	log   *slog.Logger
}

// NewWebhook returns the carrier webhook. An empty auth token or base URL is an error: the
// signature check is never skipped.
func NewWebhook(pool *Pool, authToken string, log *slog.Logger) (*Webhook, error) {
	if authToken == "" {
		return nil, carrier.ErrNoSecret
	}
	if pool.o.WebhookBaseURL == "" {
		return nil, errors.New("carrier webhook: no public base URL configured")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Webhook{pool: pool, token: authToken, base: pool.o.WebhookBaseURL, log: log}, nil
}

const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

func twiml(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

var routes = map[string]string{
	"/carrier/sms":                 carrier.InboundSMS,
	"/carrier/voice":               carrier.InboundCall,
	"/carrier/voice/transcription": carrier.InboundTranscription,
}

// ServeHTTP handles one carrier webhook.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Whatever prefix (a stage name) precedes /carrier/, the signed URL is the one we gave.
	path := r.URL.Path
	if i := strings.Index(path, "/carrier/"); i >= 0 {
		path = path[i:]
	}
	kind, ok := routes[path]
	if !ok {
		twiml(w, http.StatusNotFound, emptyTwiML)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		twiml(w, http.StatusMethodNotAllowed, emptyTwiML)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil || len(raw) > maxWebhookBody {
		twiml(w, http.StatusRequestEntityTooLarge, emptyTwiML)
		return
	}
	params, err := url.ParseQuery(string(raw))
	if err != nil {
		twiml(w, http.StatusBadRequest, emptyTwiML)
		return
	}
	full := h.base + path
	if r.URL.RawQuery != "" {
		full += "?" + r.URL.RawQuery
	}
	if err := carrier.VerifySignature(h.token, full, params, r.Header.Get(carrier.SignatureHeader)); err != nil {
		h.log.Warn("carrier webhook refused", "route", kind, "reason", err.Error())
		twiml(w, http.StatusForbidden, emptyTwiML)
		return
	}
	in, err := carrier.ParseInbound(kind, params)
	if err != nil {
		h.log.Warn("carrier webhook not understood", "route", kind)
		twiml(w, http.StatusOK, emptyTwiML)
		return
	}
	outcome, err := h.pool.HandleInbound(r.Context(), in)
	if err != nil {
		h.log.Error("carrier webhook failed", "route", kind, "event", in.ID, "error", err.Error())
		twiml(w, http.StatusInternalServerError, emptyTwiML)
		return
	}
	h.log.Info("carrier webhook", "route", kind, "event", in.ID, "outcome", string(outcome))
	switch outcome {
	case OutcomeAnswered:
		// Meta's call reads the code aloud (twice): record it and have it transcribed.
		cb := html.EscapeString(h.base + "/carrier/voice/transcription")
		twiml(w, http.StatusOK, `<?xml version="1.0" encoding="UTF-8"?><Response><Record maxLength="60" timeout="5" playBeep="false" transcribe="true" transcribeCallback="`+cb+`"/></Response>`)
	case OutcomeNotOurs, OutcomeIgnored:
		if kind == carrier.InboundCall {
			twiml(w, http.StatusOK, `<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>`)
			return
		}
		twiml(w, http.StatusOK, emptyTwiML)
	default:
		twiml(w, http.StatusOK, emptyTwiML)
	}
}
