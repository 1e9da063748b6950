package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/outbound"
)

func TestBudgetCountsUniqueRecipients(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	start := clk.Now()

	for i, want := range []outbound.BudgetClaim{{Counted: true, Used: 1}, {Counted: true, Used: 2}} {
		got, err := s.ClaimBudget(ctx, "biz:1", fmt.Sprintf("tel:+4072100000%d", i), 2)
		if err != nil || got != want {
			t.Fatalf("claim %d = %+v, %v; want %+v", i, got, err, want)
		}
	}
	// The same recipient again does not count again, even at the limit.
	if got, err := s.ClaimBudget(ctx, "biz:1", "tel:+40721000000", 2); err != nil || !got.Already {
		t.Fatalf("repeat = %+v, %v; want Already", got, err)
	}
	// A third recipient is over: RetryAt is when the oldest slot drops out (its hour + 24 h).
	got, err := s.ClaimBudget(ctx, "biz:1", "tel:+40721000009", 2)
	if err != nil || !got.Over || got.Used != 2 {
		t.Fatalf("over = %+v, %v", got, err)
	}
	slotEnd := start.Truncate(time.Hour).Add(time.Hour)
	if want := slotEnd.Add(24 * time.Hour); !got.RetryAt.Equal(want) {
		t.Errorf("RetryAt = %v, want %v", got.RetryAt, want)
	}
	// Another portfolio has its own budget.
	if got, err := s.ClaimBudget(ctx, "waba:9", "tel:+40721000009", 2); err != nil || !got.Counted {
		t.Fatalf("other portfolio = %+v, %v", got, err)
	}
	if n, err := s.BudgetUsed(ctx, "biz:1"); err != nil || n != 2 {
		t.Fatalf("used = %d, %v", n, err)
	}
}

// TestBudgetSlides checks the moving 24 h: a recipient counts again 24 h after its first send,
// and the count frees up once its hour slot is 24 h old (never earlier).
func TestBudgetSlides(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	start := clk.Now()
	if _, err := s.ClaimBudget(ctx, "biz:2", "uid:US.1", 1); err != nil {
		t.Fatal(err)
	}
	clk.Set(start.Add(23 * time.Hour))
	if got, _ := s.ClaimBudget(ctx, "biz:2", "uid:US.2", 1); !got.Over {
		t.Fatalf("23 h later = %+v, want Over", got)
	}
	// 24 h after the first send the recipient item has expired (reads check expiresAt, not
	// DynamoDB's deletion), but its hour slot still counts until the hour is over.
	clk.Set(start.Add(24*time.Hour + time.Second))
	if got, _ := s.ClaimBudget(ctx, "biz:2", "uid:US.1", 1); !got.Over {
		t.Fatalf("24 h later, same recipient = %+v, want Over until its slot ends", got)
	}
	clk.Set(start.Truncate(time.Hour).Add(25 * time.Hour))
	got, err := s.ClaimBudget(ctx, "biz:2", "uid:US.2", 1)
	if err != nil || !got.Counted || got.Used != 1 {
		t.Fatalf("after the slot ended = %+v, %v; want Counted, Used 1", got, err)
	}
}

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

func TestPauses(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	now := clk.Now()
	// Holds are read the way the consumer reads them: with the request's state.
	pause := func(scope string) (outbound.Pause, error) {
		st, err := s.ReadState(ctx, outbound.StateQuery{RequestID: "req-pauses", PauseScopes: []string{scope}})
		return st.Pauses[scope], err
	}
	if p, err := pause("token"); err != nil || !p.Until.IsZero() {
		t.Fatalf("no pause = %+v, %v", p, err)
	}
	if err := s.SetPause(ctx, outbound.Pause{Scope: "token", Until: now.Add(time.Hour), Reason: "190"}); err != nil {
		t.Fatal(err)
	}
	// A shorter hold does not cut a longer one short.
	if err := s.SetPause(ctx, outbound.Pause{Scope: "token", Until: now.Add(time.Minute), Reason: "190"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := pause("token"); !p.Until.Equal(now.Add(time.Hour)) || p.Reason != "190" {
		t.Fatalf("pause = %+v", p)
	}
	clk.Set(now.Add(2 * time.Hour))
	if p, _ := pause("token"); !p.Until.IsZero() {
		t.Fatalf("expired pause still read: %+v", p)
	}
	// A lifted hold ends at once, whatever its end; lifting none is no error.
	if err := s.SetPause(ctx, outbound.Pause{Scope: "token:biz:1", Until: clk.Now().Add(time.Hour), Reason: "190"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.LiftPause(ctx, "token:biz:1"); err != nil {
			t.Fatalf("lift %d: %v", i, err)
		}
	}
	if p, err := pause("token:biz:1"); err != nil || !p.Until.IsZero() {
		t.Fatalf("lifted pause still read: %+v, %v", p, err)
	}
	// The next hold after a lift is set again (no longer one kept in its way).
	if err := s.SetPause(ctx, outbound.Pause{Scope: "token:biz:1", Until: clk.Now().Add(time.Minute), Reason: "190"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := pause("token:biz:1"); !p.Until.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("hold after a lift: %+v", p)
	}
}

// TestDueRecords checks the deferred index: only deferred records that are due, in due then
// creation order, and a record leaves the index when written in another status.
func TestDueRecords(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	now := clk.Now()
	put := func(id string, st outbound.Status, next time.Time, created time.Time) {
		t.Helper()
		if _, err := s.UpdateRecord(ctx, id, func(r *outbound.Record) (*outbound.Record, error) {
			if r == nil {
				r = &outbound.Record{}
			}
			r.Status, r.NextAttemptAt, r.CreatedAt = st, next, created
			r.Request = &outbound.Request{ID: id, SenderID: "1", To: "+40721234567", Text: "x"}
			return r, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	put("late", outbound.StatusDeferred, now.Add(time.Hour), now)
	put("b", outbound.StatusDeferred, now.Add(-time.Minute), now.Add(2*time.Second))
	put("a", outbound.StatusDeferred, now.Add(-time.Minute), now.Add(time.Second))
	put("first", outbound.StatusDeferred, now.Add(-time.Hour), now.Add(3*time.Second))
	put("exact", outbound.StatusDeferred, now, now)
	put("sent", outbound.StatusSent, time.Time{}, now)
	put("moved", outbound.StatusDeferred, now.Add(-time.Hour), now)
	put("moved", outbound.StatusQueued, now.Add(-time.Hour), now) // no longer deferred

	recs, err := s.DueRecords(ctx, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if got, want := fmt.Sprint(ids), "[first a b exact]"; got != want {
		t.Fatalf("due = %s, want %s", got, want)
	}
	if recs, _ := s.DueRecords(ctx, now, 2); len(recs) != 2 || recs[0].ID != "first" {
		t.Fatalf("limit 2 = %v", recs)
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

// TestBudgetRelease: a recipient whose send Meta refused is uncounted, and can be counted again.
func TestBudgetRelease(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	if got, err := s.ClaimBudget(ctx, "biz:rel", "tel:+40721000001", 1); err != nil || !got.Counted {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	if err := s.ReleaseBudget(ctx, "biz:rel", "tel:+40721000001"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.BudgetUsed(ctx, "biz:rel"); n != 0 {
		t.Errorf("used after release = %d, want 0", n)
	}
	if got, err := s.ClaimBudget(ctx, "biz:rel", "tel:+40721000002", 1); err != nil || !got.Counted {
		t.Errorf("another recipient after the release = %+v, %v; want Counted", got, err)
	}
	// Releasing twice, or a recipient never counted, changes nothing.
	for _, ck := range []string{"tel:+40721000001", "tel:+40721000009"} {
		if err := s.ReleaseBudget(ctx, "biz:rel", ck); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.BudgetUsed(ctx, "biz:rel"); n != 1 {
		t.Errorf("used = %d, want 1", n)
	}
}
