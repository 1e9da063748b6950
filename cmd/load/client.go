package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aloro/wa-senders/shared/whatsapp"
)

// httpClient is shared by every call of the harness: keep-alive connections, a bounded wait.
func newHTTPClient(timeout time.Duration, conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// answer is the outcome of one HTTP attempt.
type answer struct {
	Status  int // 0 on a transport error
	Body    []byte
	Latency time.Duration
	Err     error
}

// label names an answer for the counters: "200", "500", "timeout", "conn_error".
func (a answer) label() string {
	if a.Err == nil {
		return strconv.Itoa(a.Status)
	}
	var ne net.Error
	if errors.As(a.Err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "conn_error"
}

// webhook posts signed notifications the way Meta does: the exact bytes, signed with the app
// secret, retried on anything but 200 (Meta retries for up to 7 days; the run for retryFor).
type webhook struct {
	url      string
	secret   []byte
	hc       *http.Client
	m        *metrics
	retryFor time.Duration
	// onAnswer, when set, sees every attempt (fault scenarios watch answers during a fault).
	onAnswer func(time.Time, answer)
}

// post delivers one body until it is accepted or retryFor passes. It returns the final answer.
func (w *webhook) post(ctx context.Context, body []byte) answer {
	sig := whatsapp.Sign(w.secret, body)
	deadline := time.Now().Add(w.retryFor)
	backoff := 100 * time.Millisecond
	for {
		a := w.once(ctx, body, sig)
		if a.Status == http.StatusOK || ctx.Err() != nil {
			return a
		}
		if a.Status >= 400 && a.Status < 500 && a.Status != http.StatusRequestTimeout && a.Status != http.StatusTooManyRequests {
			// A 4xx to a correctly signed POST is a defect: Meta would retry it for days, and so
			// do we, but report it.
			w.m.webhookAnswers.add("unexpected_4xx", 1)
		}
		if time.Now().Add(backoff).After(deadline) {
			w.m.webhookGaveUp.Add(1)
			return a
		}
		select {
		case <-ctx.Done():
			return a
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (w *webhook) once(ctx context.Context, body []byte, sig string) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return answer{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, sig)
	a := do(w.hc, req)
	w.m.webhookAttempts.Add(1)
	w.m.webhookAnswers.add(a.label(), 1)
	if a.Err == nil {
		w.m.webhookLatency.add(a.Latency)
	}
	if w.onAnswer != nil {
		w.onAnswer(time.Now(), a)
	}
	return a
}

// do runs one request and reads the (bounded) answer.
func do(hc *http.Client, req *http.Request) answer {
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return answer{Err: err, Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	a := answer{Status: resp.StatusCode, Body: b, Latency: time.Since(start)}
	if err != nil {
		a.Err = err
	}
	return a
}

// jsonCall sends v as JSON (nil: no body) and decodes a 2xx answer into out (nil: ignored).
func jsonCall(ctx context.Context, hc *http.Client, method, url string, v, out any) (answer, error) {
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return answer{}, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return answer{}, err
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	a := do(hc, req)
	if a.Err != nil {
		return a, fmt.Errorf("%s %s: %w", method, url, a.Err)
	}
	if a.Status < 200 || a.Status > 299 {
		return a, fmt.Errorf("%s %s: %d %s", method, url, a.Status, truncate(a.Body, 300))
	}
	if out != nil && len(a.Body) > 0 {
		if err := json.Unmarshal(a.Body, out); err != nil {
			return a, fmt.Errorf("%s %s: decode answer: %w", method, url, err)
		}
	}
	return a, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
