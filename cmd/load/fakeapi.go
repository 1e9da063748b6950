package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aloro/wa-senders/shared/graphfake"
)

// fakeAPI drives the Graph API fake through its HTTP control API (/_fake/…), so the harness
// works the same against a fake in another process (make run) or in this one.
type fakeAPI struct {
	base string
	hc   *http.Client
}

// Sends returns the successful sends recorded with a sequence number above since.
func (f fakeAPI) Sends(ctx context.Context, since int64) ([]graphfake.Send, error) {
	var out []graphfake.Send
	_, err := jsonCall(ctx, f.hc, http.MethodGet, f.base+"/_fake/sends?since="+strconv.FormatInt(since, 10), nil, &out)
	return out, err
}

// AllSends pages through every recorded send.
func (f fakeAPI) AllSends(ctx context.Context) ([]graphfake.Send, error) {
	var all []graphfake.Send
	var since int64
	for {
		page, err := f.Sends(ctx, since)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
		since = page[len(page)-1].Seq
	}
}

// Requests returns the recorded Graph requests with a sequence number above since.
func (f fakeAPI) Requests(ctx context.Context, since int64) ([]graphfake.Request, error) {
	var out []graphfake.Request
	_, err := jsonCall(ctx, f.hc, http.MethodGet, f.base+"/_fake/requests?since="+strconv.FormatInt(since, 10), nil, &out)
	return out, err
}

// Stats returns the fake's running totals.
func (f fakeAPI) Stats(ctx context.Context) (graphfake.Stats, error) {
	var out graphfake.Stats
	_, err := jsonCall(ctx, f.hc, http.MethodGet, f.base+"/_fake/stats", nil, &out)
	return out, err
}

// Script queues scripted answers.
func (f fakeAPI) Script(ctx context.Context, s ...graphfake.Script) error {
	_, err := jsonCall(ctx, f.hc, http.MethodPost, f.base+"/_fake/script", s, nil)
	return err
}

// ClearScripts drops pending scripts.
func (f fakeAPI) ClearScripts(ctx context.Context) error {
	_, err := jsonCall(ctx, f.hc, http.MethodDelete, f.base+"/_fake/script", nil, nil)
	return err
}

// SetLatency sets the fake's answer time for sends.
func (f fakeAPI) SetLatency(ctx context.Context, d time.Duration) error {
	_, err := jsonCall(ctx, f.hc, http.MethodPut, f.base+"/_fake/latency", map[string]string{"latency": d.String()}, nil)
	return err
}

// SetPhoneNumber sets what GET /{phone-number-id} answers for id.
func (f fakeAPI) SetPhoneNumber(ctx context.Context, id string, st graphfake.PhoneNumberState) error {
	_, err := jsonCall(ctx, f.hc, http.MethodPut, f.base+"/_fake/phone_numbers/"+id, st, nil)
	return err
}

// Healthy waits until the fake answers.
func (f fakeAPI) Healthy(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		_, err := jsonCall(ctx, f.hc, http.MethodGet, f.base+"/_fake/healthz", nil, nil)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("graph fake at %s: %w", f.base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
