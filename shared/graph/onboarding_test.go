package graph_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aloro/wa-senders/shared/graph"
)

// TestTokenResolution: a token put in the context wins, then the node's business token, then
// the client's own; app-authenticated calls send no Authorization header at all.
func TestTokenResolution(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v26.0/oauth/access_token":
			_, _ = w.Write([]byte(`{"access_token":"from-code","token_type":"bearer"}`))
		default:
			_, _ = w.Write([]byte(`{"success":true}`))
		}
	}))
	t.Cleanup(srv.Close)
	errLookup := errors.New("lookup failed")
	c := graph.New(graph.Options{BaseURL: srv.URL, Version: "v26.0", Token: "platform",
		TokenFor: func(_ context.Context, node string) (string, error) {
			switch node {
			case "111":
				return "business-a", nil
			case "999":
				return "", errLookup
			}
			return "", nil
		}})
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"business node", func() error { return c.SetPIN(ctx, "111", "123456") }, "Bearer business-a"},
		{"platform node", func() error { return c.SetPIN(ctx, "222", "123456") }, "Bearer platform"},
		{"explicit token wins", func() error { return c.SetPIN(graph.WithToken(ctx, "explicit"), "111", "123456") }, "Bearer explicit"},
		{"app-authenticated", func() error { _, err := c.ExchangeCode(ctx, "app", "secret", "code"); return err }, ""},
	}
	for _, tc := range cases {
		mu.Lock()
		seen = nil
		mu.Unlock()
		if err := tc.call(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		mu.Lock()
		if len(seen) != 1 || seen[0] != tc.want {
			t.Errorf("%s: Authorization %q, want %q", tc.name, seen, tc.want)
		}
		mu.Unlock()
	}
	if err := c.SetPIN(ctx, "999", "123456"); !errors.Is(err, errLookup) {
		t.Errorf("a failed lookup must fail the call, never fall back to the platform token: %v", err)
	}
	if err := c.SetPIN(ctx, "111", "12345"); !errors.Is(err, graph.ErrInvalidRequest) {
		t.Errorf("a five-digit PIN: %v", err)
	}
}
