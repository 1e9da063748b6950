package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/webhook"
)

// OutboundSubject is what the outbound contract exercises: the consumer's port and the webhook
// and admin writes its tests seed state with.
type OutboundSubject interface {
	outbound.Store
	outbound.OrphanStatuses
	CreateSender(ctx context.Context, snd *sender.Sender) error
	SetPortfolioTier(ctx context.Context, key, tier string, eventAt time.Time) (bool, error)
	OpenWindow(ctx context.Context, phoneNumberID string, c customer.Ref, w customer.Window) error
	PutAliasAt(ctx context.Context, waba string, c customer.Ref, at time.Time) error
	PutOrphanStatus(ctx context.Context, o webhook.OrphanStatus) error
	RequestIDForWAMID(ctx context.Context, wamid string) (string, error)
	UpdateTemplateState(ctx context.Context, waba, name, language string, fn persist.Update[webhook.TemplateState]) (webhook.TemplateState, error)
	BudgetUsed(ctx context.Context, portfolio string) (int, error)
	LiftPause(ctx context.Context, scope string) error
}

// OpenOutbound returns a fresh, empty implementation on clock.
type OpenOutbound func(t *testing.T, clock *Clock) OutboundSubject

// RunOutbound runs every case of the outbound contract against open.
func RunOutbound(t *testing.T, open OpenOutbound) {
	cases := []struct {
		name string
		run  func(t *testing.T, s OutboundSubject, clk *Clock)
	}{
		{"versioned record writes", versionedRecords},
		{"sent record and waiting statuses", sentRecord},
		{"update record", updateRecord},
		{"due records in order", dueRecords},
		{"conversation holds", holds},
		{"send pauses", pauses},
		{"budget is exact and slides by the hour", budgetExact},
		{"budget released and unlimited", budgetRelease},
		{"budget concurrent claims", budgetConcurrent},
		{"shared pacing", pacing},
		{"state batch", stateBatch},
		{"templates and opt-out stop", templatesAndStop},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := &Clock{t: t0}
			c.run(t, open(t, clk), clk)
		})
	}
}

func readRecord(t *testing.T, s OutboundSubject, id string) (*outbound.Record, int64) {
	t.Helper()
	st, err := s.ReadState(ctx, outbound.StateQuery{RequestID: id})
	must(t, err)
	return st.Record, st.RecordVersion
}

func versionedRecords(t *testing.T, s OutboundSubject, _ *Clock) {
	if rec, v := readRecord(t, s, "r1"); rec != nil || v != 0 {
		t.Fatalf("no record: %+v v%d", rec, v)
	}
	rec := &outbound.Record{ID: "r1", Status: outbound.StatusQueued, CreatedAt: t0}
	v, err := s.PutRecord(ctx, rec, 0)
	if err != nil || v != 1 {
		t.Fatalf("create: v%d %v", v, err)
	}
	if _, err := s.PutRecord(ctx, rec, 0); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("create again: %v", err)
	}
	if _, err := s.PutRecord(ctx, &outbound.Record{ID: "r2"}, 3); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("a version of nothing: %v", err)
	}
	rec.Status = outbound.StatusSending
	if v, err = s.PutRecord(ctx, rec, 1); err != nil || v != 2 {
		t.Fatalf("update: v%d %v", v, err)
	}
	if _, err := s.PutRecord(ctx, rec, 1); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("stale version: %v", err)
	}
	got, v := readRecord(t, s, "r1")
	if got == nil || got.Status != outbound.StatusSending || v != 2 {
		t.Fatalf("read back: %+v v%d", got, v)
	}
	if got, err := s.GetRecord(ctx, "r1"); err != nil || got.Status != outbound.StatusSending {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.GetRecord(ctx, "r2"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
}

func sentRecord(t *testing.T, s OutboundSubject, _ *Clock) {
	rec := &outbound.Record{ID: "s1", Status: outbound.StatusSending, CreatedAt: t0}
	v, err := s.PutRecord(ctx, rec, 0)
	must(t, err)
	sent := *rec
	sent.Status, sent.WAMID = outbound.StatusSent, "wamid.S1"
	if err := s.PutSentRecord(ctx, &sent, v+1); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("stale version: %v", err)
	}
	// A status that overtook the send: nothing written, the caller applies it.
	must(t, s.PutOrphanStatus(ctx, webhook.OrphanStatus{Status: status("wamid.S1", "delivered", t0.Unix())}))
	if err := s.PutSentRecord(ctx, &sent, v); !errors.Is(err, outbound.ErrOrphanStatuses) {
		t.Fatalf("with a waiting status: %v", err)
	}
	if got, gv := readRecord(t, s, "s1"); got.Status != outbound.StatusSending || gv != v {
		t.Fatalf("written although a status waited: %+v v%d", got, gv)
	}
	if _, err := s.RequestIDForWAMID(ctx, "wamid.S1"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("lookup written although a status waited: %v", err)
	}
	// The slow path: record and lookup, then the statuses.
	if _, err := s.PutRecord(ctx, &sent, v); err != nil {
		t.Fatal(err)
	}
	must(t, s.PutWAMID(ctx, "wamid.S1", "s1"))
	got, err := s.ApplyOrphans(ctx, "wamid.S1", "s1")
	if err != nil || got == nil || got.Status != outbound.StatusDelivered {
		t.Fatalf("orphans applied: %+v %v", got, err)
	}
	// No status waits any more: the fast path writes record and lookup together.
	got, v = readRecord(t, s, "s1")
	next := *got
	next.Attempts++
	must(t, s.PutSentRecord(ctx, &next, v))
	if _, nv := readRecord(t, s, "s1"); nv != v+1 {
		t.Fatalf("version after the sent write: %d, want %d", nv, v+1)
	}
	// A second send's own wamid is looked up after the fast path.
	other := &outbound.Record{ID: "s2", Status: outbound.StatusSent, WAMID: "wamid.S2", CreatedAt: t0}
	must(t, s.PutSentRecord(ctx, other, 0))
	if id, err := s.RequestIDForWAMID(ctx, "wamid.S2"); err != nil || id != "s2" {
		t.Fatalf("lookup: %q %v", id, err)
	}
	// Only the statuses a send can have are checked.
	if rec, err := s.ApplyOrphans(ctx, "wamid.none", "nope"); err != nil || rec != nil {
		t.Fatalf("orphans of nothing: %+v %v", rec, err)
	}
}

func updateRecord(t *testing.T, s OutboundSubject, _ *Clock) {
	if rec, err := s.UpdateRecord(ctx, "u1", func(*outbound.Record) (*outbound.Record, error) { return nil, persist.ErrNoChange }); err != nil || rec != nil {
		t.Fatalf("no change to nothing: %+v %v", rec, err)
	}
	if rec, _ := readRecord(t, s, "u1"); rec != nil {
		t.Fatalf("written by a no-change: %+v", rec)
	}
	rec, err := s.UpdateRecord(ctx, "u1", func(cur *outbound.Record) (*outbound.Record, error) {
		if cur != nil {
			t.Errorf("closure got a record that does not exist: %+v", cur)
		}
		return &outbound.Record{ID: "ignored", Status: outbound.StatusQueued, CreatedAt: t0}, nil
	})
	if err != nil || rec.ID != "u1" || rec.Status != outbound.StatusQueued {
		t.Fatalf("create: %+v %v", rec, err)
	}
	if _, v := readRecord(t, s, "u1"); v != 1 {
		t.Fatalf("version after create: %d", v)
	}
	// nil without an error is no change either.
	if rec, err := s.UpdateRecord(ctx, "u1", func(*outbound.Record) (*outbound.Record, error) { return nil, nil }); err != nil || rec.Status != outbound.StatusQueued {
		t.Fatalf("nil result: %+v %v", rec, err)
	}
	refused := errors.New("refused")
	if _, err := s.UpdateRecord(ctx, "u1", func(*outbound.Record) (*outbound.Record, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("closure error: %v", err)
	}
	rec, err = s.UpdateRecord(ctx, "u1", func(cur *outbound.Record) (*outbound.Record, error) {
		cur.Attempts++
		return cur, nil
	})
	if err != nil || rec.Attempts != 1 {
		t.Fatalf("update: %+v %v", rec, err)
	}
	if got, v := readRecord(t, s, "u1"); v != 2 || got.Attempts != 1 {
		t.Fatalf("read back: %+v v%d", got, v)
	}
	// A versioned write after it must have read version 2.
	if _, err := s.PutRecord(ctx, rec, 1); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("write on the version before the update: %v", err)
	}
}

func deferred(id string, due, created time.Time) *outbound.Record {
	return &outbound.Record{ID: id, Status: outbound.StatusDeferred, NextAttemptAt: due, CreatedAt: created}
}

func dueRecords(t *testing.T, s OutboundSubject, _ *Clock) {
	recs := []*outbound.Record{
		deferred("d-late", t0.Add(time.Hour), t0),
		deferred("d-b", t0.Add(-time.Minute), t0.Add(-time.Hour)),
		deferred("d-a", t0.Add(-time.Minute), t0.Add(-2*time.Hour)), // same due time, created first
		deferred("d-old", t0.Add(-time.Hour), t0),
		deferred("d-now", t0, t0.Add(-time.Hour)),      // due exactly now
		deferred("d-ms", t0.Add(time.Millisecond), t0), // a millisecond too late
		{ID: "d-queued", Status: outbound.StatusQueued, NextAttemptAt: t0.Add(-time.Hour), CreatedAt: t0},
		{ID: "d-undated", Status: outbound.StatusDeferred, CreatedAt: t0},
	}
	for i, r := range recs {
		if i%2 == 0 {
			_, err := s.PutRecord(ctx, r, 0)
			must(t, err)
		} else {
			_, err := s.UpdateRecord(ctx, r.ID, func(*outbound.Record) (*outbound.Record, error) { cp := *r; return &cp, nil })
			must(t, err)
		}
	}
	ids := func(rs []outbound.Record) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return fmt.Sprint(out)
	}
	got, err := s.DueRecords(ctx, t0, 0)
	if want := "[d-old d-a d-b d-now]"; err != nil || ids(got) != want {
		t.Fatalf("due: %s %v, want %s", ids(got), err, want)
	}
	if got, _ := s.DueRecords(ctx, t0, 2); ids(got) != "[d-old d-a]" {
		t.Fatalf("limit 2: %s", ids(got))
	}
	// A record leaves the index when it is written in any other status.
	_, err = s.UpdateRecord(ctx, "d-a", func(cur *outbound.Record) (*outbound.Record, error) {
		cur.Status = outbound.StatusQueued
		return cur, nil
	})
	must(t, err)
	v := readVersion(t, s, "d-old")
	old := deferred("d-old", t0.Add(2*time.Hour), t0)
	_, err = s.PutRecord(ctx, old, v) // deferred again, later
	must(t, err)
	if got, _ := s.DueRecords(ctx, t0, 10); ids(got) != "[d-b d-now]" {
		t.Fatalf("after the writes: %s", ids(got))
	}
	if got, _ := s.DueRecords(ctx, t0.Add(3*time.Hour), 10); ids(got) != "[d-b d-now d-ms d-late d-old]" {
		t.Fatalf("three hours on: %s", ids(got))
	}
}

func readVersion(t *testing.T, s OutboundSubject, id string) int64 {
	t.Helper()
	_, v := readRecord(t, s, id)
	return v
}

func holds(t *testing.T, s OutboundSubject, clk *Clock) {
	if h, err := s.GetHold(ctx, "conv"); err != nil || len(h.Members) != 0 {
		t.Fatalf("no hold: %+v %v", h, err)
	}
	noop := func(*outbound.Hold) (*outbound.Hold, error) { return nil, persist.ErrNoChange }
	must(t, s.UpdateHold(ctx, "conv", noop))
	must(t, s.UpdateHold(ctx, "conv", func(cur *outbound.Hold) (*outbound.Hold, error) {
		if cur != nil {
			t.Errorf("closure got a hold that does not exist: %+v", cur)
		}
		return &outbound.Hold{Members: []string{"a"}, Until: t0.Add(time.Hour)}, nil
	}))
	must(t, s.UpdateHold(ctx, "conv", func(cur *outbound.Hold) (*outbound.Hold, error) {
		cur.Members = append(cur.Members, "b")
		return cur, nil
	}))
	h, err := s.GetHold(ctx, "conv")
	if err != nil || fmt.Sprint(h.Members) != "[a b]" || !h.Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("hold: %+v %v", h, err)
	}
	if st, err := s.ReadState(ctx, outbound.StateQuery{RequestID: "x", Conv: "conv"}); err != nil || fmt.Sprint(st.Hold.Members) != "[a b]" {
		t.Fatalf("hold in the state batch: %+v %v", st.Hold, err)
	}
	refused := errors.New("refused")
	if err := s.UpdateHold(ctx, "conv", func(*outbound.Hold) (*outbound.Hold, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("closure error: %v", err)
	}
	// Without members the hold is gone.
	must(t, s.UpdateHold(ctx, "conv", func(cur *outbound.Hold) (*outbound.Hold, error) {
		cur.Members = nil
		return cur, nil
	}))
	if h, _ := s.GetHold(ctx, "conv"); len(h.Members) != 0 {
		t.Fatalf("emptied hold still there: %+v", h)
	}
	// A hold is kept a day past its end, then is none.
	must(t, s.UpdateHold(ctx, "conv2", func(*outbound.Hold) (*outbound.Hold, error) {
		return &outbound.Hold{Members: []string{"c"}, Until: t0}, nil
	}))
	clk.Set(t0.Add(24*time.Hour - time.Second))
	if h, _ := s.GetHold(ctx, "conv2"); len(h.Members) != 1 {
		t.Fatalf("hold within its day: %+v", h)
	}
	clk.Set(t0.Add(24 * time.Hour))
	if h, _ := s.GetHold(ctx, "conv2"); len(h.Members) != 0 {
		t.Fatalf("hold past its day: %+v", h)
	}
	must(t, s.UpdateHold(ctx, "conv2", func(cur *outbound.Hold) (*outbound.Hold, error) {
		if cur != nil {
			t.Errorf("closure got an expired hold: %+v", cur)
		}
		return &outbound.Hold{Members: []string{"d"}, Until: t0.Add(48 * time.Hour)}, nil
	}))
	if h, _ := s.GetHold(ctx, "conv2"); fmt.Sprint(h.Members) != "[d]" {
		t.Fatalf("hold replacing an expired one: %+v", h)
	}
}

func pauses(t *testing.T, s OutboundSubject, clk *Clock) {
	scopes := []string{outbound.PauseScopeToken, outbound.PauseScopePayment("waba")}
	read := func() map[string]outbound.Pause {
		t.Helper()
		st, err := s.ReadState(ctx, outbound.StateQuery{RequestID: "x", PauseScopes: scopes})
		must(t, err)
		return st.Pauses
	}
	if p := read(); len(p) != 0 {
		t.Fatalf("no pauses: %+v", p)
	}
	must(t, s.SetPause(ctx, outbound.Pause{Scope: outbound.PauseScopeToken, Until: t0.Add(time.Hour), Reason: "190"}))
	must(t, s.SetPause(ctx, outbound.Pause{Scope: outbound.PauseScopeToken, Until: t0.Add(time.Minute), Reason: "shorter"}))
	must(t, s.SetPause(ctx, outbound.Pause{Scope: outbound.PauseScopePayment("waba"), Until: t0.Add(2500 * time.Millisecond), Reason: "131042"}))
	p := read()
	if got := p[outbound.PauseScopeToken]; !got.Until.Equal(t0.Add(time.Hour)) || got.Reason != "190" || got.Scope != outbound.PauseScopeToken {
		t.Fatalf("the longer pause is kept: %+v", p)
	}
	if got := p[outbound.PauseScopePayment("waba")]; !got.Until.Equal(t0.Add(2500 * time.Millisecond)) {
		t.Fatalf("payment pause: %+v", p)
	}
	must(t, s.SetPause(ctx, outbound.Pause{Scope: outbound.PauseScopeToken, Until: t0.Add(2 * time.Hour), Reason: "longer"}))
	if got := read()[outbound.PauseScopeToken]; got.Reason != "longer" {
		t.Fatalf("a longer pause replaces: %+v", got)
	}
	// A pause ends with the whole second of its end (the expiry's precision).
	clk.Set(t0.Add(time.Second + 999*time.Millisecond))
	if _, ok := read()[outbound.PauseScopePayment("waba")]; !ok {
		t.Fatal("payment pause gone before its second")
	}
	clk.Set(t0.Add(2 * time.Second))
	if _, ok := read()[outbound.PauseScopePayment("waba")]; ok {
		t.Fatal("payment pause still in force after its end")
	}
	must(t, s.LiftPause(ctx, outbound.PauseScopeToken))
	must(t, s.LiftPause(ctx, outbound.PauseScopeToken))
	if p := read(); len(p) != 0 {
		t.Fatalf("after the lift: %+v", p)
	}
	// The next pause after a lift is set, however short (no longer one kept in its way).
	must(t, s.SetPause(ctx, outbound.Pause{Scope: outbound.PauseScopeToken, Until: clk.Now().Add(time.Minute), Reason: "190"}))
	if got := read()[outbound.PauseScopeToken]; !got.Until.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("pause after a lift: %+v", got)
	}
}

func claim(t *testing.T, s OutboundSubject, portfolio, ck string, limit int) outbound.BudgetClaim {
	t.Helper()
	c, err := s.ClaimBudget(ctx, portfolio, ck, limit)
	must(t, err)
	return c
}

func budgetExact(t *testing.T, s OutboundSubject, clk *Clock) {
	// 40 over 32 shards: unequal shares, which still add up to the limit exactly.
	const limit = 40
	start := t0.Add(10 * time.Minute)
	clk.Set(start)
	for i := range limit {
		if c := claim(t, s, "biz:1", fmt.Sprintf("tel:+4072100%04d", i), limit); !c.Counted || c.Used != i+1 {
			t.Fatalf("claim %d: %+v", i, c)
		}
	}
	if c := claim(t, s, "biz:1", "tel:+40721000000", limit); !c.Already || c.Counted || c.Over {
		t.Fatalf("a counted recipient again: %+v", c)
	}
	over := claim(t, s, "biz:1", "tel:+40729999999", limit)
	retry := t0.Add(time.Hour + 24*time.Hour) // the end of the slot's hour, plus 24 h
	if !over.Over || over.Used != limit || !over.RetryAt.Equal(retry) {
		t.Fatalf("over the limit: %+v, want Used %d RetryAt %v", over, limit, retry)
	}
	if n, err := s.BudgetUsed(ctx, "biz:1"); err != nil || n != limit {
		t.Fatalf("used: %d %v", n, err)
	}
	if c := claim(t, s, "biz:2", "tel:+40729999999", limit); !c.Counted || c.Used != 1 {
		t.Fatalf("another portfolio: %+v", c)
	}
	// A higher tier makes room at once.
	if c := claim(t, s, "biz:1", "tel:+40729999999", limit+1); !c.Counted || c.Used != limit+1 {
		t.Fatalf("higher limit: %+v", c)
	}
	// 24 h after the first sends the recipients are free to count again, but their slot still
	// counts until its hour is 24 h old.
	clk.Set(start.Add(24 * time.Hour))
	if c := claim(t, s, "biz:1", "tel:+40721000000", limit); !c.Over || c.Used != limit+1 {
		t.Fatalf("24 h on, the slot still counts: %+v", c)
	}
	clk.Set(retry.Add(-time.Second))
	if n, _ := s.BudgetUsed(ctx, "biz:1"); n != limit+1 {
		t.Fatalf("used a second before the slot ends: %d", n)
	}
	clk.Set(retry)
	if n, _ := s.BudgetUsed(ctx, "biz:1"); n != 0 {
		t.Fatalf("used once the slot ended: %d", n)
	}
	if c := claim(t, s, "biz:1", "tel:+40721000000", limit); !c.Counted || c.Used != 1 {
		t.Fatalf("after the slot ended: %+v", c)
	}
	if _, err := s.ClaimBudget(ctx, "", "tel:+1", 1); err == nil {
		t.Fatal("empty portfolio claimed")
	}
	if _, err := s.ClaimBudget(ctx, "biz:1", "", 1); err == nil {
		t.Fatal("empty recipient claimed")
	}
}

func budgetRelease(t *testing.T, s OutboundSubject, clk *Clock) {
	must(t, s.ReleaseBudget(ctx, "biz:r", "tel:+1")) // nothing counted: nothing to do
	for _, ck := range []string{"tel:+1", "tel:+2"} {
		if c := claim(t, s, "biz:r", ck, 2); !c.Counted {
			t.Fatalf("claim %s: %+v", ck, c)
		}
	}
	must(t, s.ReleaseBudget(ctx, "biz:r", "tel:+1"))
	if n, _ := s.BudgetUsed(ctx, "biz:r"); n != 1 {
		t.Fatalf("used after a release: %d", n)
	}
	must(t, s.ReleaseBudget(ctx, "biz:r", "tel:+1")) // twice: uncounted once
	if n, _ := s.BudgetUsed(ctx, "biz:r"); n != 1 {
		t.Fatalf("used after a second release: %d", n)
	}
	if c := claim(t, s, "biz:r", "tel:+3", 2); !c.Counted || c.Used != 2 {
		t.Fatalf("room after the release: %+v", c)
	}
	if c := claim(t, s, "biz:r", "tel:+1", 2); !c.Over {
		t.Fatalf("the released recipient is new again: %+v", c)
	}
	// A released slot still counts toward the retry time only through what it holds.
	clk.Set(t0.Add(time.Hour))
	if c := claim(t, s, "biz:u", "tel:+1", -1); !c.Counted {
		t.Fatalf("unlimited: %+v", c)
	}
	if c := claim(t, s, "biz:z", "tel:+1", 0); !c.Over || c.Used != 0 || !c.RetryAt.Equal(t0.Add(2*time.Hour+24*time.Hour)) {
		t.Fatalf("limit 0: %+v", c)
	}
}

func budgetConcurrent(t *testing.T, s OutboundSubject, _ *Clock) {
	const limit, workers = 5, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	counted := 0
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.ClaimBudget(ctx, "biz:c", fmt.Sprintf("tel:+%d", i), limit)
			if err != nil && !errors.Is(err, persist.ErrConflict) {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.Counted {
				counted++
			}
		}()
	}
	wg.Wait()
	if n, _ := s.BudgetUsed(ctx, "biz:c"); counted != limit || n != limit {
		t.Fatalf("counted %d (used %d) of %d workers, want the limit %d", counted, n, workers, limit)
	}
}

func pacing(t *testing.T, s OutboundSubject, clk *Clock) {
	sec := t0.Add(500 * time.Millisecond)
	book := func(to string, at time.Time, perSecond int) error {
		return s.ClaimPace(ctx, outbound.PaceClaim{SenderID: "pn", PerSecond: perSecond, Recipient: to,
			At: at, PairNew: at.Add(6 * time.Second)})
	}
	// The sender's rate: two a second, counted per whole second.
	must(t, book("tel:+1", sec, 2))
	must(t, book("tel:+2", t0.Add(999*time.Millisecond), 2))
	if err := book("tel:+3", t0, 2); !errors.Is(err, outbound.ErrRateFull) {
		t.Fatalf("third in the second: %v", err)
	}
	must(t, book("tel:+3", t0.Add(time.Second), 2))
	// Another sender has its own rate.
	if err := s.ClaimPace(ctx, outbound.PaceClaim{SenderID: "pn2", PerSecond: 1, Recipient: "tel:+1", At: t0, PairNew: t0}); err != nil {
		t.Fatal(err)
	}
	// The pair: a pace in force is moved only from the value read.
	if err := book("tel:+1", t0.Add(5*time.Second), 2); !errors.Is(err, outbound.ErrPairMoved) {
		t.Fatalf("pair booked as new while in force: %v", err)
	}
	tat, found, err := s.GetPairPace(ctx, "pn", "tel:+1")
	if err != nil || !found || !tat.Equal(sec.Add(6*time.Second)) {
		t.Fatalf("pair pace: %v %v %v", tat, found, err)
	}
	st, err := s.ReadState(ctx, outbound.StateQuery{RequestID: "x", PhoneNumberID: "pn", Customer: customer.Ref{Phone: "+1"}, Pair: true})
	if err != nil || !st.PairFound || !st.PairPace.Equal(tat) {
		t.Fatalf("pair in the state batch: %v %v %v", st.PairPace, st.PairFound, err)
	}
	move := func(old, next time.Time, at time.Time) error {
		return s.ClaimPace(ctx, outbound.PaceClaim{SenderID: "pn", PerSecond: 2, Recipient: "tel:+1",
			At: at, PairOld: old, PairFound: true, PairNew: next})
	}
	if err := move(tat.Add(time.Millisecond), tat.Add(time.Second), t0.Add(6*time.Second)); !errors.Is(err, outbound.ErrPairMoved) {
		t.Fatalf("moved from a stale value: %v", err)
	}
	if err := move(tat.Add(time.Millisecond), tat.Add(time.Second), t0); !errors.Is(err, outbound.ErrRateFull) {
		t.Fatalf("both refused: the rate is named: %v", err)
	}
	must(t, move(tat, tat.Add(time.Second), t0.Add(6*time.Second)))
	if got, _, _ := s.GetPairPace(ctx, "pn", "tel:+1"); !got.Equal(tat.Add(time.Second)) {
		t.Fatalf("moved pace: %v", got)
	}
	if err := s.ClaimPace(ctx, outbound.PaceClaim{SenderID: "pn", PerSecond: 2, Recipient: "tel:+9", At: t0.Add(7 * time.Second),
		PairFound: true, PairOld: t0, PairNew: t0.Add(time.Minute)}); !errors.Is(err, outbound.ErrPairMoved) {
		t.Fatalf("a pace read that is not there: %v", err)
	}
	// Two minutes past its time the pace is none, and may be booked as new.
	end := tat.Add(time.Second).Add(2 * time.Minute)
	clk.Set(end.Add(-time.Second))
	if _, found, _ := s.GetPairPace(ctx, "pn", "tel:+1"); !found {
		t.Fatal("pace gone before its keep")
	}
	clk.Set(end.Truncate(time.Second).Add(time.Second))
	if _, found, _ := s.GetPairPace(ctx, "pn", "tel:+1"); found {
		t.Fatal("pace still there after its keep")
	}
	must(t, book("tel:+1", clk.Now(), 2))
	// A rate above one item's share is split over two (126 + 125): more than one share is
	// booked in the second, never more than the rate.
	booked := 0
	for i := range 270 {
		if err := book(fmt.Sprintf("tel:+5%03d", i), t0.Add(time.Hour), 251); err == nil {
			booked++
		} else if !errors.Is(err, outbound.ErrRateFull) {
			t.Fatal(err)
		}
	}
	if booked > 251 || booked <= 126 {
		t.Fatalf("booked %d at 251 a second", booked)
	}
}

func stateBatch(t *testing.T, s OutboundSubject, clk *Clock) {
	snd := newSender("pn1", "+40721234500")
	snd.BusinessID = "biz"
	must(t, s.CreateSender(ctx, snd))
	phone := customer.Ref{Phone: "+1555"}
	uid := customer.Ref{UserID: "US.7"}
	must(t, s.OpenWindow(ctx, "pn1", phone, customer.WindowFor(t0.Add(-time.Hour), false, 72*time.Hour)))
	must(t, s.OpenWindow(ctx, "pn1", uid, customer.WindowFor(t0.Add(-30*time.Minute), false, 72*time.Hour)))
	must(t, s.PutAliasAt(ctx, "waba", customer.Ref{UserID: "US.7", Phone: "+1555"}, t0))
	must(t, s.StopMarketing(ctx, "waba", phone, "131050", t0.Add(-time.Hour)))
	must(t, s.MarkDeliverability(ctx, "waba", uid, customer.Deliverability{UndeliverableUntil: t0.Add(time.Hour), Reason: "131026"}))
	must(t, s.MarkDeliverability(ctx, "waba", phone, customer.Deliverability{MarketingCappedUntil: t0.Add(2 * time.Hour), Reason: "131049"}))
	_, err := s.UpdateTemplateState(ctx, "waba", "order", "en-US", func(*webhook.TemplateState) (*webhook.TemplateState, error) {
		return &webhook.TemplateState{Template: template.Template{Status: "APPROVED", Category: "UTILITY"}}, nil
	})
	must(t, err)
	_, err = s.SetPortfolioTier(ctx, "biz:biz", "TIER_1K", t0)
	must(t, err)

	q := outbound.StateQuery{RequestID: "x", PhoneNumberID: "pn1", WABA: "waba", Customer: phone, Alias: true,
		Template: &outbound.Template{Name: "order", Language: "en_US"}, PortfolioKey: "biz:biz"}
	st, err := s.ReadState(ctx, q)
	must(t, err)
	// Only the query's keys are read; the alias completes the customer for a second read.
	if st.Customer.UserID != "US.7" || st.Customer.Phone != "+1555" {
		t.Fatalf("alias: %+v", st.Customer)
	}
	if want := customer.WindowFor(t0.Add(-time.Hour), false, 72*time.Hour); !st.HasWindow || !st.Window.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("window under the phone: %+v", st.Window)
	}
	if !st.OptOut.Marketing {
		t.Fatalf("opt-out: %+v", st.OptOut)
	}
	if !st.Deliverability.MarketingCappedUntil.Equal(t0.Add(2*time.Hour)) || !st.Deliverability.UndeliverableUntil.IsZero() {
		t.Fatalf("deliverability under the phone: %+v", st.Deliverability)
	}
	if st.Template == nil || st.Template.Status != "APPROVED" || st.Template.Language != "en_US" {
		t.Fatalf("template: %+v", st.Template)
	}
	if st.Portfolio.Tier != "TIER_1K" {
		t.Fatalf("portfolio: %+v", st.Portfolio)
	}
	q.Customer = st.Customer
	st, err = s.ReadState(ctx, q)
	must(t, err)
	if want := customer.WindowFor(t0.Add(-30*time.Minute), false, 72*time.Hour); !st.Window.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("latest window under both keys: %+v", st.Window)
	}
	if !st.Deliverability.UndeliverableUntil.Equal(t0.Add(time.Hour)) || st.Deliverability.Reason != "131026" || !st.Deliverability.MarketingCappedUntil.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("deliverability under both keys: %+v", st.Deliverability)
	}
	// Without a template: no template, deliverability or portfolio; without Alias, no alias.
	st, err = s.ReadState(ctx, outbound.StateQuery{RequestID: "x", PhoneNumberID: "pn1", WABA: "waba", Customer: phone, PortfolioKey: "biz:biz"})
	must(t, err)
	if st.Template != nil || !st.Deliverability.MarketingCappedUntil.IsZero() || st.Portfolio.Tier != "" || st.Customer.UserID != "" {
		t.Fatalf("free-form state: %+v", st)
	}
	// Marks expire with their latest "until"; windows are read expired too.
	clk.Set(t0.Add(2 * time.Hour))
	st, err = s.ReadState(ctx, q)
	must(t, err)
	if !st.Deliverability.MarketingCappedUntil.IsZero() || !st.Deliverability.UndeliverableUntil.IsZero() {
		t.Fatalf("expired marks: %+v", st.Deliverability)
	}
	if d, err := s.GetDeliverability(ctx, "waba", q.Customer); err != nil || !d.MarketingCappedUntil.IsZero() || !d.UndeliverableUntil.IsZero() {
		t.Fatalf("expired marks read alone: %+v %v", d, err)
	}
	clk.Set(t0.Add(100 * time.Hour))
	if st, _ := s.ReadState(ctx, q); !st.HasWindow {
		t.Fatal("an expired window is not read")
	}
	// An unknown customer has nothing.
	st, err = s.ReadState(ctx, outbound.StateQuery{RequestID: "x", PhoneNumberID: "pn1", WABA: "waba", Customer: customer.Ref{Phone: "+1999"}, Alias: true})
	if err != nil || st.HasWindow || st.OptOut.Marketing || st.Customer.UserID != "" {
		t.Fatalf("unknown customer: %+v %v", st, err)
	}
}

func templatesAndStop(t *testing.T, s OutboundSubject, _ *Clock) {
	skip := func(*template.Template) (*template.Template, error) { return nil, persist.ErrNoChange }
	if tm, err := s.UpdateTemplate(ctx, "waba", "t", "en_US", skip); err != nil || tm.Name != "" {
		t.Fatalf("no change to nothing: %+v %v", tm, err)
	}
	if _, err := s.GetTemplate(ctx, "waba", "t", "en_US"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("written by a no-change: %v", err)
	}
	tm, err := s.UpdateTemplate(ctx, "waba", "t", "en-US", func(cur *template.Template) (*template.Template, error) {
		if cur != nil {
			t.Errorf("closure got a template that does not exist: %+v", cur)
		}
		return &template.Template{Status: "PAUSED"}, nil
	})
	if err != nil || tm.Status != "PAUSED" || tm.Language != "en_US" || tm.Name != "t" || tm.WABAID != "waba" {
		t.Fatalf("template: %+v %v", tm, err)
	}
	if got, err := s.GetTemplate(ctx, "waba", "t", "en_US"); err != nil || got.Status != "PAUSED" {
		t.Fatalf("read back: %+v %v", got, err)
	}
	c := customer.Ref{Phone: "+1666"}
	must(t, s.StopMarketing(ctx, "waba", c, "131050", t0))
	if o, err := s.GetOptOut(ctx, "waba", c); err != nil || !o.Marketing || o.Keyword {
		t.Fatalf("stop: %+v %v", o, err)
	}
	must(t, s.CloseWindow(ctx, "pn", c, t0))
	if w, err := s.GetWindow(ctx, "pn", "waba", c); err != nil || !w.ExpiresAt.Equal(t0) {
		t.Fatalf("closed window: %+v %v", w, err)
	}
}
