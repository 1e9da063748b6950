package numberpool_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/store/memory"
)

// countingStore counts store calls per unit of work.
type countingStore struct {
	numberpool.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingStore) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

func (c *countingStore) GetIntent(ctx context.Context, id string) (*numberpool.Intent, error) {
	c.count("GetIntent")
	return c.Store.GetIntent(ctx, id)
}

func (c *countingStore) UpdateIntent(ctx context.Context, id string, fn persist.Update[numberpool.Intent]) (*numberpool.Intent, error) {
	c.count("UpdateIntent")
	return c.Store.UpdateIntent(ctx, id, fn)
}

func (c *countingStore) GetNumber(ctx context.Context, e164 string) (*numberpool.Number, error) {
	c.count("GetNumber")
	return c.Store.GetNumber(ctx, e164)
}

func (c *countingStore) UpdateNumber(ctx context.Context, e164 string, fn persist.Update[numberpool.Number]) (*numberpool.Number, error) {
	c.count("UpdateNumber")
	return c.Store.UpdateNumber(ctx, e164, fn)
}

// TestCallsPerNumber pins the external calls of one number bought and verified by SMS: the
// carrier is asked once (no lookup on a fresh request), Meta four times (add, request, verify,
// read the expiry), the store a fixed number of read-modify-writes.
func TestCallsPerNumber(t *testing.T) {
	t.Parallel()
	cs := &countingStore{Store: memory.New(nil), calls: map[string]int{}}
	e := newEnvWithStore(t, cs)
	e.store = cs.Store // the test's own polling is not counted
	e.deliverCodes()
	if _, err := e.pool.Buy(context.Background(), "r", num1); err != nil {
		t.Fatal(err)
	}
	e.waitState(t, num1, numberpool.StateVerified)
	if b, f := e.carrier.Requests("buy"), e.carrier.Requests("find"); b != 1 || f != 0 {
		t.Errorf("carrier: %d buys, %d lookups; want 1, 0", b, f)
	}
	if n := len(e.graph.Requests()); n != 4 {
		t.Errorf("graph: %d requests, want 4 (add_phone_numbers, request_code, verify_code, GET)", n)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	// Buy: intent create, taken check, intent bought, number, intent done, verifying, meta id;
	// webhook: read, verified.
	want := map[string]int{"UpdateIntent": 3, "GetNumber": 2, "UpdateNumber": 4}
	for op, n := range want {
		if cs.calls[op] != n {
			t.Errorf("%s: %d calls, want %d (all: %v)", op, cs.calls[op], n, cs.calls)
		}
	}
}
