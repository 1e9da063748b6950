package graphfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// Control API (no auth: bind the fake to loopback):
//
//	GET    /_fake/healthz                 → {"ok":true}
//	GET    /_fake/requests[?since=SEQ]    → [Request…]
//	GET    /_fake/sends[?since=SEQ]       → [Send…]
//	GET    /_fake/stats                   → Stats
//	POST   /_fake/script                  ← Script or [Script…]  → {"pending":N}
//	DELETE /_fake/script                  → {"pending":0}
//	POST   /_fake/reset                   → {"ok":true}
//	GET|PUT /_fake/latency                ←→ {"latency":"50ms"} (PUT also takes milliseconds)
//	GET|PUT /_fake/phone_numbers/{id}     ←→ PhoneNumberState
//	POST   /_fake/signup                  ← Business → {"code":"…"} (a business finishing Embedded Signup)
func (f *Fake) control(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/_fake"), "/")
	route, id, _ := strings.Cut(rest, "/")
	m := r.Method
	switch {
	case route == "signup" && m == http.MethodPost:
		f.serveSignup(w, r)
	case route == "healthz" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case route == "requests" && m == http.MethodGet:
		seq, err := sinceParam(r)
		if err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, f.RequestsSince(seq))
	case route == "sends" && m == http.MethodGet:
		seq, err := sinceParam(r)
		if err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, f.SendsSince(seq))
	case route == "stats" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, f.Stats())
	case route == "script" && m == http.MethodPost:
		scripts, err := decodeScripts(r.Body)
		if err == nil {
			err = f.Script(scripts...)
		}
		if err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"pending": f.PendingScripts()})
	case route == "script" && m == http.MethodDelete:
		f.ClearScripts()
		writeJSON(w, http.StatusOK, map[string]int{"pending": 0})
	case route == "reset" && m == http.MethodPost:
		f.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case route == "latency" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{"latency": f.SendLatency().String()})
	case route == "latency" && m == http.MethodPut:
		var in struct {
			Latency json.RawMessage `json:"latency"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&in); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("latency body: %w", err))
			return
		}
		d, err := parseDelay(in.Latency)
		if err != nil || d < 0 {
			controlError(w, http.StatusBadRequest, fmt.Errorf("latency: %v", err))
			return
		}
		f.SetSendLatency(d)
		writeJSON(w, http.StatusOK, map[string]string{"latency": d.String()})
	case route == "phone_numbers" && id != "" && !strings.Contains(id, "/") && m == http.MethodGet:
		st, ok := f.PhoneNumber(id)
		if !ok {
			controlError(w, http.StatusNotFound, fmt.Errorf("phone number %s not set (strict mode)", id))
			return
		}
		writeJSON(w, http.StatusOK, st)
	case route == "phone_numbers" && id != "" && !strings.Contains(id, "/") && m == http.MethodPut:
		var st PhoneNumberState
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields() // a misspelt field would silently keep its default
		if err := dec.Decode(&st); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("phone number state: %w", err))
			return
		}
		f.SetPhoneNumber(id, st)
		st, _ = f.PhoneNumber(id)
		writeJSON(w, http.StatusOK, st)
	default:
		controlError(w, http.StatusNotFound, fmt.Errorf("no control route %s %s", m, r.URL.Path))
	}
}

func sinceParam(r *http.Request) (int64, error) {
	s := r.URL.Query().Get("since")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("since %q: want a sequence number", s)
	}
	return n, nil
}

// decodeScripts accepts one Script object or an array of them.
func decodeScripts(body io.Reader) ([]Script, error) {
	raw, err := io.ReadAll(io.LimitReader(body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var list []Script
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("script list: %w", err)
		}
		return list, nil
	}
	var s Script
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("script: %w", err)
	}
	return []Script{s}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func controlError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// Cleaner is the part of testing.TB that Serve needs (kept as an interface so this package does
// not import testing).
type Cleaner interface {
	Cleanup(func())
}

// Serve starts f on a loopback port and stops it when the test ends; it returns the base URL
// to give graph.Options.BaseURL.
func Serve(t Cleaner, f *Fake) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// ServeNew is Serve(t, New(o)) returning the fake too.
func ServeNew(t Cleaner, o Options) (*Fake, string) {
	f := New(o)
	return f, Serve(t, f)
}
