package outbound_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

// memStore is an in-memory outbound.Store for the in-process benchmark only: it measures the
// consumer's own CPU and allocations without DynamoDB (the integration tests use DynamoDB Local).
type memStore struct {
	mu      sync.Mutex
	records map[string]outbound.Record
	senders map[string]sender.Sender
	windows map[string]customer.Window
	budget  map[string]map[string]bool
	// versions counts each record's writes, as the table's version attribute does.
	versions map[string]int64
}

var _ outbound.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{records: map[string]outbound.Record{}, senders: map[string]sender.Sender{},
		windows: map[string]customer.Window{}, budget: map[string]map[string]bool{}, versions: map[string]int64{}}
}

func (m *memStore) GetRecord(_ context.Context, id string) (*outbound.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[id]
	if !ok {
		return nil, persist.ErrNotFound
	}
	return &r, nil
}

func (m *memStore) UpdateRecord(_ context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur *outbound.Record
	if r, ok := m.records[id]; ok {
		cur = &r
	}
	next, err := fn(cur)
	if errors.Is(err, persist.ErrNoChange) {
		return cur, nil
	}
	if err != nil {
		return nil, err
	}
	next.ID = id
	m.records[id] = *next
	m.versions[id]++
	return next, nil
}

func (m *memStore) PutWAMID(context.Context, string, string) error { return nil }
func (m *memStore) DueRecords(context.Context, time.Time, int) ([]outbound.Record, error) {
	return nil, nil
}

func (m *memStore) GetSender(_ context.Context, id string) (*sender.Sender, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.senders[id]
	if !ok {
		return nil, persist.ErrNotFound
	}
	return &s, nil
}

func (m *memStore) GetSenderByPhone(context.Context, string) (*sender.Sender, error) {
	return nil, persist.ErrNotFound
}

func (m *memStore) UpdateSender(_ context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.senders[id]
	next, err := fn(&s)
	if err != nil {
		return nil, err
	}
	m.senders[id] = *next
	return next, nil
}

func (m *memStore) GetPortfolio(context.Context, string) (sender.Portfolio, error) {
	return sender.Portfolio{Tier: "TIER_100K"}, nil
}

func (m *memStore) ResolveCustomer(_ context.Context, _ string, c customer.Ref) (customer.Ref, error) {
	return c, nil
}

func (m *memStore) GetWindow(_ context.Context, pnid, _ string, c customer.Ref) (customer.Window, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.windows[pnid+c.Key()]
	if !ok {
		return w, persist.ErrNotFound
	}
	return w, nil
}

func (m *memStore) CloseWindow(context.Context, string, customer.Ref, time.Time) error { return nil }
func (m *memStore) GetOptOut(context.Context, string, customer.Ref) (customer.OptOut, error) {
	return customer.OptOut{}, nil
}

func (m *memStore) StopMarketing(context.Context, string, customer.Ref, string, time.Time) error {
	return nil
}

func (m *memStore) GetDeliverability(context.Context, string, customer.Ref) (customer.Deliverability, error) {
	return customer.Deliverability{}, nil
}

func (m *memStore) MarkDeliverability(context.Context, string, customer.Ref, customer.Deliverability) error {
	return nil
}

func (m *memStore) GetTemplate(context.Context, string, string, string) (template.Template, error) {
	return template.Template{}, persist.ErrNotFound
}

func (m *memStore) UpdateTemplate(context.Context, string, string, string, persist.Update[template.Template]) (template.Template, error) {
	return template.Template{}, nil
}

func (m *memStore) ClaimBudget(_ context.Context, p, ck string, _ int) (outbound.BudgetClaim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.budget[p] == nil {
		m.budget[p] = map[string]bool{}
	}
	if m.budget[p][ck] {
		return outbound.BudgetClaim{Already: true}, nil
	}
	m.budget[p][ck] = true
	return outbound.BudgetClaim{Counted: true, Used: len(m.budget[p])}, nil
}

func (m *memStore) SetPause(context.Context, outbound.Pause) error { return nil }

// instantGraph accepts every send at once.
type instantGraph struct{ n int64 }

func (g *instantGraph) SendMessage(context.Context, string, graph.Message) (graph.SendResult, error) {
	return graph.SendResult{WAMID: "wamid.BENCH", MessageStatus: "accepted"}, nil
}

func (m *memStore) GetHold(context.Context, string) (outbound.Hold, error) {
	return outbound.Hold{}, nil
}
func (m *memStore) UpdateHold(context.Context, string, persist.Update[outbound.Hold]) error {
	return nil
}

func (m *memStore) ReleaseBudget(_ context.Context, p, ck string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.budget[p], ck)
	return nil
}

func (m *memStore) ReadState(_ context.Context, q outbound.StateQuery) (outbound.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := outbound.State{Pauses: map[string]outbound.Pause{}}
	if r, ok := m.records[q.RequestID]; ok {
		st.Record, st.RecordVersion = &r, m.versions[q.RequestID]
	}
	if w, ok := m.windows[q.PhoneNumberID+q.Customer.Key()]; ok {
		st.Window, st.HasWindow = w, true
	}
	if q.Template != nil {
		st.Portfolio = sender.Portfolio{Tier: "TIER_100K"}
	}
	return st, nil
}

func (m *memStore) PutRecord(_ context.Context, rec *outbound.Record, version int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.versions[rec.ID] != version {
		return 0, persist.ErrConflict
	}
	m.records[rec.ID] = *rec
	m.versions[rec.ID] = version + 1
	return version + 1, nil
}

func (m *memStore) PutSentRecord(ctx context.Context, rec *outbound.Record, version int64) error {
	_, err := m.PutRecord(ctx, rec, version)
	return err
}

func (m *memStore) ClaimPace(context.Context, outbound.PaceClaim) error { return nil }
func (m *memStore) GetPairPace(context.Context, string, string) (time.Time, bool, error) {
	return time.Time{}, false, nil
}
