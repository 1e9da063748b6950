package numberpool_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/carrier/twilio"
	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/store/memory"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is the pool wired to the Graph fake and the carrier fake, with its carrier webhook served
// where the carrier posts: the whole hands-free loop, in process.
type env struct {
	pool    *numberpool.Pool
	store   numberpool.Store
	mem     *faultStore
	graph   *graphfake.Fake
	carrier *carrierfake.Fake
	clock   *clock
	hookURL string
	hook    *numberpool.Webhook
}

type envOpt func(*numberpool.Options)

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	return newEnvWithStore(t, nil, opts...)
}

func newEnvWithStore(t *testing.T, st numberpool.Store, opts ...envOpt) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)}}
	if st == nil {
		e.mem = &faultStore{Store: memory.New(e.clock.Now), FailNext: map[string]error{}}
		st = e.mem
	}
	e.store = st
	e.graph = graphfake.New(graphfake.Options{Now: e.clock.Now})
	graphURL := graphfake.Serve(t, e.graph)
	e.carrier = carrierfake.New(carrierfake.Options{Now: e.clock.Now})
	carrierSrv := httptest.NewServer(e.carrier)
	t.Cleanup(carrierSrv.Close)
	var handler http.Handler = http.NotFoundHandler()
	var mu sync.Mutex
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handler
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hookSrv.Close)
	e.hookURL = hookSrv.URL
	o := numberpool.Options{
		Store:          st,
		Carrier:        twilio.New(twilio.Options{BaseURL: carrierSrv.URL, AccountSID: e.carrier.AccountSID(), AuthToken: e.carrier.AuthToken()}),
		Graph:          graph.New(graph.Options{BaseURL: graphURL, Version: "v26.0", Token: e.graph.Token(), Timeout: 2 * time.Second}),
		BusinessID:     "555000111",
		WebhookBaseURL: hookSrv.URL,
		Now:            e.clock.Now,
	}
	for _, f := range opts {
		f(&o)
	}
	e.pool = numberpool.New(o)
	hook, err := numberpool.NewWebhook(e.pool, e.carrier.AuthToken(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.hook = hook
	mu.Lock()
	handler = hook
	mu.Unlock()
	return e
}

// deliverCodes makes the Graph fake send its codes through the carrier fake to our webhook.
func (e *env) deliverCodes() { e.graph.SetCodeSender(e.carrier.SendCode) }

// waitState polls until the number reaches want (codes arrive in the background).
func (e *env) waitState(t *testing.T, e164 string, want numberpool.State) *numberpool.Number {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := e.store.GetNumber(context.Background(), e164)
		if err == nil && n.State == want {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("number %s: state %v (err %v), want %s", e164, stateOf(n), err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stateOf(n *numberpool.Number) any {
	if n == nil {
		return nil
	}
	return struct{ State, Reason string }{string(n.State), n.Reason}
}

// assertNothingLeaked holds every carrier purchase against the pool: a live purchase is a pool
// number with its sid that is not released; a released one is a released pool number (or one
// bought again since under a new sid).
func (e *env) assertNothingLeaked(t *testing.T) {
	t.Helper()
	nums, err := e.store.ListNumbers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bySID := map[string]numberpool.Number{}
	for _, n := range nums {
		bySID[n.CarrierSID] = n
	}
	live := 0
	for _, p := range e.carrier.Purchases() {
		n, ok := bySID[p.SID]
		switch {
		case !p.Released() && (!ok || n.State == numberpool.StateReleased):
			t.Errorf("leaked: carrier purchase %s (%s) is not a live pool number (%+v)", p.SID, p.E164, n)
		case p.Released() && ok && n.State != numberpool.StateReleased:
			t.Errorf("pool number %s is %s but the carrier released it", p.E164, n.State)
		}
		if !p.Released() {
			live++
		}
	}
	pooled := 0
	for _, n := range nums {
		if n.State != numberpool.StateReleased {
			pooled++
		}
	}
	if pooled != live {
		t.Errorf("%d live pool numbers, %d live carrier purchases", pooled, live)
	}
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// faultStore is the memory store with one failing write on demand: FailNext names the write
// ("intent", "number") whose next attempt fails after its closure ran, writing nothing.
type faultStore struct {
	numberpool.Store
	mu       sync.Mutex
	FailNext map[string]error
}

func (f *faultStore) take(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.FailNext[op]
	delete(f.FailNext, op)
	return err
}

func failing[T any](f *faultStore, op string, fn persist.Update[T]) persist.Update[T] {
	return func(cur *T) (*T, error) {
		next, err := fn(cur)
		if err == nil {
			if ferr := f.take(op); ferr != nil {
				return nil, ferr
			}
		}
		return next, err
	}
}

func (f *faultStore) UpdateIntent(ctx context.Context, id string, fn persist.Update[numberpool.Intent]) (*numberpool.Intent, error) {
	return f.Store.UpdateIntent(ctx, id, failing(f, "intent", fn))
}

func (f *faultStore) UpdateNumber(ctx context.Context, e164 string, fn persist.Update[numberpool.Number]) (*numberpool.Number, error) {
	return f.Store.UpdateNumber(ctx, e164, failing(f, "number", fn))
}
