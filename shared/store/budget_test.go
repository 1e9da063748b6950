package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// The budget's contention under DynamoDB's conditions. What every store must do (unique
// recipients, the sliding hour, release, pauses, the due index) is the outbound contract
// (storetest.RunOutbound), run against DynamoDB Local in contract_test.go.

// TestBudgetConcurrentClaims has many consumers claim at once: exactly limit distinct
// recipients are counted, never more, and a recipient claimed concurrently counts once.
func TestBudgetConcurrentClaims(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	const limit, workers = 7, 20
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half the workers claim the same recipient.
			ck := fmt.Sprintf("tel:+4072100%04d", i)
			if i%2 == 0 {
				ck = "tel:+40721999999"
			}
			got, err := s.ClaimBudget(ctx, "biz:3", ck, limit)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				counts["error"]++
				t.Errorf("claim: %v", err)
			case got.Counted:
				counts["counted"]++
				counts["counted "+ck]++
			case got.Already:
				counts["already"]++
			case got.Over:
				counts["over"]++
			}
		}()
	}
	wg.Wait()
	if counts["counted"] != limit {
		t.Errorf("counted %d recipients, want exactly %d (%v)", counts["counted"], limit, counts)
	}
	if counts["counted tel:+40721999999"] != 1 {
		t.Errorf("the shared recipient was counted %d times, want 1", counts["counted tel:+40721999999"])
	}
	if n, _ := s.BudgetUsed(ctx, "biz:3"); n != limit {
		t.Errorf("used = %d, want %d", n, limit)
	}
}

// TestBudgetCampaign is a template campaign from one portfolio: 10 concurrent batches of 10 new
// recipients (the production batch size and concurrency). No claim fails for contention, and
// the ceiling is exact: with a limit below the demand, exactly the limit is counted.
func TestBudgetCampaign(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{1000, 37} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			t.Parallel()
			s, _ := newStore(t)
			ctx := context.Background()
			pf := fmt.Sprintf("biz:campaign-%d", limit)
			var mu sync.Mutex
			counted, over := 0, 0
			var wg sync.WaitGroup
			// Each batch runs its 10 conversations at once: 100 claims in flight.
			for b := range 10 {
				for i := range 10 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						got, err := s.ClaimBudget(ctx, pf, fmt.Sprintf("tel:+407220%02d%03d", b, i), limit)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err != nil:
							t.Errorf("claim: %v", err)
						case got.Counted:
							counted++
						case got.Over:
							over++
						}
					}()
				}
			}
			wg.Wait()
			if want := min(limit, 100); counted != want || counted+over != 100 {
				t.Errorf("counted %d, over %d; want %d counted and the rest over", counted, over, want)
			}
			if n, _ := s.BudgetUsed(ctx, pf); n != min(limit, 100) {
				t.Errorf("used = %d, want %d", n, min(limit, 100))
			}
		})
	}
}
