// Package carrierfake is a local fake of the carrier's REST API (Twilio's 2010-04-01 routes for
// available numbers, purchases, lookups and releases) for tests, `make run` and `make load`.
// It keeps every purchase (released ones too) so a test can hold them against the pool, and it
// delivers an SMS or a voice call's transcription to the webhooks a purchase set, signed with
// the account's auth token exactly as Twilio signs them.
//
// Control API (no auth: bind to loopback): GET /_fake/purchases, POST /_fake/sms
// {"to","from","body"}, POST /_fake/call {"to","from","text"}, POST /_fake/fault (Fault),
// POST /_fake/reset.
package carrierfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/carrier"
)

// Local credentials the fake accepts when Options leave them empty.
const (
	DefaultAccountSID = "AC00000000000000000000000000000000"
	DefaultAuthToken  = "local-carrier-token"
)

// Options configure a Fake.
type Options struct {
	AccountSID, AuthToken string
	// Stock is what the fake sells; nil is DefaultStock.
	Stock []carrier.Available
	// HTTPClient delivers webhooks; nil is a client with a 10 s timeout.
	HTTPClient *http.Client
	Now        func() time.Time
}

// DefaultStock is a few Romanian mobile and US local numbers with SMS and voice.
func DefaultStock() []carrier.Available {
	caps := carrier.Capabilities{SMS: true, Voice: true}
	var out []carrier.Available
	for i := 1; i <= 5; i++ {
		out = append(out, carrier.Available{E164: fmt.Sprintf("+4072100000%d", i), Country: "RO", Kind: carrier.KindMobile, Capabilities: caps, AddressRequired: "none"})
	}
	for i := 1; i <= 3; i++ {
		out = append(out, carrier.Available{E164: fmt.Sprintf("+1415555010%d", i), Country: "US", Kind: carrier.KindLocal, Capabilities: caps, AddressRequired: "none"})
	}
	return out
}

// Purchase is one number bought from the fake.
type Purchase struct {
	SID        string        `json:"sid"`
	E164       string        `json:"phoneNumber"`
	Hooks      carrier.Hooks `json:"hooks"`
	Label      string        `json:"label,omitempty"`
	BoughtAt   time.Time     `json:"boughtAt"`
	ReleasedAt time.Time     `json:"releasedAt,omitzero"`
}

// Released reports whether the number went back to the carrier.
func (p Purchase) Released() bool { return !p.ReleasedAt.IsZero() }

// Fault scripts the next request of Op ("available", "buy", "find", "release").
type Fault struct {
	Op string `json:"op"`
	// Status and Code answer a Twilio error (e.g. 400 / 21422 "number not available").
	Status int `json:"status,omitempty"`
	Code   int `json:"code,omitempty"`
	// LoseAnswer performs the request, then drops the connection: the caller never learns it worked.
	LoseAnswer bool `json:"loseAnswer,omitempty"`
}

// Fake is the carrier fake, an http.Handler safe for concurrent use.
type Fake struct {
	sid, token string
	hc         *http.Client
	now        func() time.Time

	mu        sync.Mutex
	stock     []carrier.Available
	purchases []Purchase
	faults    []Fault
	seq       int
	requests  map[string]int
}

// New builds a Fake.
func New(o Options) *Fake {
	f := &Fake{sid: o.AccountSID, token: o.AuthToken, hc: o.HTTPClient, now: o.Now, stock: o.Stock}
	if f.sid == "" {
		f.sid = DefaultAccountSID
	}
	if f.token == "" {
		f.token = DefaultAuthToken
	}
	if f.hc == nil {
		f.hc = &http.Client{Timeout: 10 * time.Second}
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.stock == nil {
		f.stock = DefaultStock()
	}
	f.requests = map[string]int{}
	return f
}

// AccountSID and AuthToken are the credentials the fake accepts (and signs webhooks with).
func (f *Fake) AccountSID() string { return f.sid }

// AuthToken is the token webhooks are signed with.
func (f *Fake) AuthToken() string { return f.token }

// Purchases returns every purchase, released ones included, oldest first.
func (f *Fake) Purchases() []Purchase {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.purchases)
}

// Requests counts REST requests by op.
func (f *Fake) Requests(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[op]
}

// AddFault queues a scripted answer.
func (f *Fake) AddFault(x Fault) {
	f.mu.Lock()
	f.faults = append(f.faults, x)
	f.mu.Unlock()
}

// Reset drops purchases and faults and restores the stock.
func (f *Fake) Reset() {
	f.mu.Lock()
	f.purchases, f.faults, f.stock = nil, nil, DefaultStock()
	f.requests = map[string]int{}
	f.mu.Unlock()
}

func (f *Fake) takeFault(op string) *Fault {
	for i, x := range f.faults {
		if x.Op == op {
			f.faults = slices.Delete(f.faults, i, i+1)
			return &x
		}
	}
	return nil
}

var (
	availableRoute = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/AvailablePhoneNumbers/([A-Z]{2})/(Mobile|Local)\.json$`)
	incomingRoute  = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/IncomingPhoneNumbers\.json$`)
	numberRoute    = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/IncomingPhoneNumbers/([A-Za-z0-9]+)\.json$`)
)

// ServeHTTP serves the REST routes and the control API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		f.control(w, r)
		return
	}
	var op string
	var m []string
	switch {
	case r.Method == http.MethodGet && availableRoute.MatchString(r.URL.Path):
		op, m = "available", availableRoute.FindStringSubmatch(r.URL.Path)
	case r.Method == http.MethodPost && incomingRoute.MatchString(r.URL.Path):
		op, m = "buy", incomingRoute.FindStringSubmatch(r.URL.Path)
	case r.Method == http.MethodGet && incomingRoute.MatchString(r.URL.Path):
		op, m = "find", incomingRoute.FindStringSubmatch(r.URL.Path)
	case r.Method == http.MethodDelete && numberRoute.MatchString(r.URL.Path):
		op, m = "release", numberRoute.FindStringSubmatch(r.URL.Path)
	default:
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != f.sid || pass != f.token || m[1] != f.sid {
		twilioError(w, http.StatusUnauthorized, 20003, "Authentication Error - invalid username")
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 20001, "Malformed request")
		return
	}
	f.mu.Lock()
	f.requests[op]++
	fault := f.takeFault(op)
	f.mu.Unlock()
	if fault != nil && fault.Status != 0 {
		twilioError(w, fault.Status, fault.Code, "scripted failure")
		return
	}
	status, body := f.answer(op, m, r)
	if fault != nil && fault.LoseAnswer {
		panic(http.ErrAbortHandler) // done, answer lost
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func (f *Fake) answer(op string, m []string, r *http.Request) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op {
	case "available":
		country, kind := m[2], strings.ToLower(m[3])
		list := []map[string]any{}
		for _, a := range f.stock {
			if a.Country != country || a.Kind != kind || f.ownedLocked(a.E164) != nil {
				continue
			}
			list = append(list, map[string]any{
				"phone_number": a.E164, "friendly_name": a.E164, "iso_country": a.Country,
				"address_requirements": a.AddressRequired, "beta": false,
				"capabilities": map[string]bool{"voice": a.Capabilities.Voice, "SMS": a.Capabilities.SMS, "MMS": a.Capabilities.MMS},
			})
		}
		return http.StatusOK, map[string]any{"available_phone_numbers": list, "uri": r.URL.RequestURI()}
	case "buy":
		e164 := r.PostForm.Get("PhoneNumber")
		inStock := slices.ContainsFunc(f.stock, func(a carrier.Available) bool { return a.E164 == e164 })
		if !inStock || f.ownedLocked(e164) != nil {
			return http.StatusBadRequest, twilioBody(http.StatusBadRequest, 21422, "PhoneNumber requested is not available")
		}
		f.seq++
		p := Purchase{SID: fmt.Sprintf("PN%032d", f.seq), E164: e164, Label: r.PostForm.Get("FriendlyName"), BoughtAt: f.now().UTC(),
			Hooks: carrier.Hooks{SMSURL: r.PostForm.Get("SmsUrl"), VoiceURL: r.PostForm.Get("VoiceUrl")}}
		f.purchases = append(f.purchases, p)
		return http.StatusCreated, incoming(p, f.sid)
	case "find":
		list := []any{}
		if p := f.ownedLocked(r.URL.Query().Get("PhoneNumber")); p != nil {
			list = append(list, incoming(*p, f.sid))
		}
		return http.StatusOK, map[string]any{"incoming_phone_numbers": list}
	case "release":
		for i := range f.purchases {
			if f.purchases[i].SID == m[2] && !f.purchases[i].Released() {
				f.purchases[i].ReleasedAt = f.now().UTC()
				return http.StatusNoContent, nil
			}
		}
		return http.StatusNotFound, twilioBody(http.StatusNotFound, 20404, "The requested resource was not found")
	}
	return http.StatusNotFound, nil
}

func incoming(p Purchase, sid string) map[string]any {
	return map[string]any{"sid": p.SID, "account_sid": sid, "phone_number": p.E164, "friendly_name": p.Label,
		"sms_url": p.Hooks.SMSURL, "sms_method": "POST", "voice_url": p.Hooks.VoiceURL, "voice_method": "POST",
		"capabilities": map[string]bool{"voice": true, "sms": true, "mms": false}}
}

// ownedLocked returns the live purchase of e164. Caller holds f.mu.
func (f *Fake) ownedLocked(e164 string) *Purchase {
	for i := range f.purchases {
		if f.purchases[i].E164 == e164 && !f.purchases[i].Released() {
			return &f.purchases[i]
		}
	}
	return nil
}

// Owns reports whether e164 is bought and not released.
func (f *Fake) Owns(e164 string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ownedLocked(e164) != nil
}

func twilioBody(status, code int, msg string) map[string]any {
	return map[string]any{"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status}
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(twilioBody(status, code, msg))
}

func (f *Fake) control(w http.ResponseWriter, r *http.Request) {
	var in struct {
		To, From, Body, Text string
	}
	route := strings.TrimPrefix(r.URL.Path, "/_fake/")
	switch {
	case route == "purchases" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, f.Purchases())
		return
	case route == "reset" && r.Method == http.MethodPost:
		f.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	case route == "fault" && r.Method == http.MethodPost:
		var x Fault
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&x); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		f.AddFault(x)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	case (route == "sms" || route == "call") && r.Method == http.MethodPost:
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such control route"})
		return
	}
	var status int
	var err error
	if route == "sms" {
		status, err = f.DeliverSMS(r.Context(), in.To, in.From, in.Body)
	} else {
		status, err = f.DeliverCall(r.Context(), in.To, in.From, in.Text)
	}
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"webhookStatus": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DeliverSMS posts an inbound SMS to the SmsUrl of the live purchase of to, signed, and returns
// the webhook's HTTP status.
func (f *Fake) DeliverSMS(ctx context.Context, to, from, body string) (int, error) {
	hooks, err := f.hooksOf(to)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	f.seq++
	sid := fmt.Sprintf("SM%032d", f.seq)
	f.mu.Unlock()
	p := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {f.sid}, "From": {from}, "To": {to},
		"Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"}, "ApiVersion": {"2010-04-01"}}
	status, _, err := f.post(ctx, hooks.SMSURL, p)
	return status, err
}

var transcribeCallback = regexp.MustCompile(`transcribeCallback="([^"]+)"`)

// DeliverCall places a call to the VoiceUrl of the live purchase of to; when the answer's TwiML
// records with a transcribeCallback, it posts text as the completed transcription there, as
// Twilio does once the recording is transcribed. It returns the last webhook's status.
func (f *Fake) DeliverCall(ctx context.Context, to, from, text string) (int, error) {
	hooks, err := f.hooksOf(to)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	f.seq++
	callSID := fmt.Sprintf("CA%032d", f.seq)
	trSID := fmt.Sprintf("TR%032d", f.seq)
	f.mu.Unlock()
	p := url.Values{"CallSid": {callSID}, "AccountSid": {f.sid}, "From": {from}, "To": {to},
		"CallStatus": {"ringing"}, "Direction": {"inbound"}, "ApiVersion": {"2010-04-01"}}
	status, twiml, err := f.post(ctx, hooks.VoiceURL, p)
	if err != nil || status != http.StatusOK {
		return status, err
	}
	m := transcribeCallback.FindStringSubmatch(twiml)
	if m == nil {
		return status, nil // the call was not recorded: nothing to transcribe
	}
	cb, err := resolve(hooks.VoiceURL, htmlUnescape(m[1]))
	if err != nil {
		return 0, err
	}
	tp := url.Values{"CallSid": {callSID}, "AccountSid": {f.sid}, "From": {from}, "To": {to},
		"TranscriptionSid": {trSID}, "TranscriptionText": {text}, "TranscriptionStatus": {"completed"},
		"RecordingSid": {"RE" + trSID[2:]}, "ApiVersion": {"2010-04-01"}}
	status, _, err = f.post(ctx, cb, tp)
	return status, err
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&quot;", `"`, "&lt;", "<", "&gt;", ">", "&apos;", "'").Replace(s)
}

func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

func (f *Fake) hooksOf(to string) (carrier.Hooks, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.ownedLocked(to)
	if p == nil {
		return carrier.Hooks{}, fmt.Errorf("carrierfake: %s is not a number bought from the fake", to)
	}
	return p.Hooks, nil
}

// post sends a signed form webhook and returns the status and the answer's body.
func (f *Fake) post(ctx context.Context, target string, p url.Values) (int, string, error) {
	if target == "" {
		return 0, "", fmt.Errorf("carrierfake: no webhook URL set")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(p.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(carrier.SignatureHeader, carrier.Sign(f.token, target, p))
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	resp, err := f.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(raw), nil
}

// metaSender is the number Meta's verification messages come from in the fake.
const metaSender = "+16505550100"

// CodeMessage is what Meta's verification says: an SMS text, or for VOICE what a transcription
// of the call reads (the digits as words, said twice). voice reports which.
func CodeMessage(method, code string) (text string, voice bool) {
	if strings.EqualFold(method, "VOICE") {
		names := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
		words := make([]string, 0, len(code))
		for _, c := range code {
			if c >= '0' && c <= '9' {
				words = append(words, names[c-'0'])
			}
		}
		said := strings.Join(words, " ")
		return "Your WhatsApp verification code is " + said + ". Once again, your code is " + said + ".", true
	}
	shown := code
	if len(code) == 6 {
		shown = code[:3] + "-" + code[3:]
	}
	return "<#> Your WhatsApp Business code " + shown + ". Don't share this code with others.", false
}

// SendCode is how Meta's verification message reaches a number bought from the fake: an SMS
// with the code, or a call whose transcription reads it out.
func (f *Fake) SendCode(ctx context.Context, e164, method, code string) error {
	if !f.Owns(e164) {
		return fmt.Errorf("carrierfake: %s is not ours", e164)
	}
	text, voice := CodeMessage(method, code)
	var err error
	if voice {
		_, err = f.DeliverCall(ctx, e164, metaSender, text)
	} else {
		_, err = f.DeliverSMS(ctx, e164, metaSender, text)
	}
	return err
}

// RemoteCodeSender sends codes through a carrier fake running elsewhere (its /_fake/sms and
// /_fake/call), for a Graph fake in another process (cmd/graphfake -carrier-fake).
func RemoteCodeSender(baseURL string, hc *http.Client) func(ctx context.Context, e164, method, code string) error {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	base := strings.TrimRight(baseURL, "/")
	return func(ctx context.Context, e164, method, code string) error {
		text, voice := CodeMessage(method, code)
		route, field := "/_fake/sms", "body"
		if voice {
			route, field = "/_fake/call", "text"
		}
		raw, _ := json.Marshal(map[string]string{"to": e164, "from": metaSender, field: text})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+route, strings.NewReader(string(raw)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("carrierfake %s: HTTP %d", route, res.StatusCode)
		}
		return nil
	}
}
