package outbound_test

import (
	"context"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/sender"
)

type timings struct {
	mu sync.Mutex
	d  map[string]time.Duration
	n  map[string]int
}

func (t *timings) add(name string, start time.Time) {
	t.mu.Lock()
	t.d[name] += time.Since(start)
	t.n[name]++
	t.mu.Unlock()
}

type timedStore struct {
	outbound.Store
	t *timings
}

func (s timedStore) GetRecord(ctx context.Context, id string) (*outbound.Record, error) {
	defer s.t.add("GetRecord", time.Now())
	return s.Store.GetRecord(ctx, id)
}
func (s timedStore) UpdateRecord(ctx context.Context, id string, fn func(*outbound.Record, bool) error) (*outbound.Record, error) {
	defer s.t.add("UpdateRecord", time.Now())
	return s.Store.UpdateRecord(ctx, id, fn)
}
func (s timedStore) GetSender(ctx context.Context, id string) (*sender.Sender, error) {
	defer s.t.add("GetSender", time.Now())
	return s.Store.GetSender(ctx, id)
}
func (s timedStore) ResolveCustomer(ctx context.Context, w string, c customer.Ref) (customer.Ref, error) {
	defer s.t.add("Resolve", time.Now())
	return s.Store.ResolveCustomer(ctx, w, c)
}
func (s timedStore) GetWindow(ctx context.Context, p, w string, c customer.Ref) (customer.Window, error) {
	defer s.t.add("GetWindow", time.Now())
	return s.Store.GetWindow(ctx, p, w, c)
}
func (s timedStore) GetOptOut(ctx context.Context, w string, c customer.Ref) (customer.OptOut, error) {
	defer s.t.add("GetOptOut", time.Now())
	return s.Store.GetOptOut(ctx, w, c)
}
func (s timedStore) PutWAMID(ctx context.Context, a, b string) error {
	defer s.t.add("PutWAMID", time.Now())
	return s.Store.PutWAMID(ctx, a, b)
}
func (s timedStore) ClaimBudget(ctx context.Context, a, b string, l int) (outbound.BudgetClaim, error) {
	defer s.t.add("ClaimBudget", time.Now())
	return s.Store.ClaimBudget(ctx, a, b, l)
}

type timedGraph struct {
	outbound.Messenger
	t *timings
}

func (g timedGraph) SendMessage(ctx context.Context, id string, m graph.Message) (graph.SendResult, error) {
	defer g.t.add("SendMessage", time.Now())
	return g.Messenger.SendMessage(ctx, id, m)
}
