package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newStore(t *testing.T) (*store.Store, *clock) {
	t.Helper()
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	return store.New(ddb, testenv.Table(t, ddb), clk.Now), clk
}

func newSender(id, phone string) *sender.Sender {
	return &sender.Sender{ID: id, Type: sender.TypeExternal, PhoneNumber: phone, WABAID: "waba-1",
		DisplayName: "Shop", Status: sender.StatusPending, QualityRating: sender.QualityNew, Assistants: []string{"a1"}}
}

func TestSenders(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	if err := s.CreateSender(ctx, newSender("111", "+40721234567")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSender(ctx, newSender("111", "+40721234568")); !errors.Is(err, store.ErrSenderExists) {
		t.Fatalf("same id: %v", err)
	}
	if err := s.CreateSender(ctx, newSender("222", "+40721234567")); !errors.Is(err, store.ErrPhoneTaken) {
		t.Fatalf("same phone: %v", err)
	}
	got, err := s.GetSenderByPhone(ctx, "+40721234567")
	if err != nil || got.ID != "111" || got.Version != 1 {
		t.Fatalf("by phone: %+v %v", got, err)
	}
	if _, err := s.GetSender(ctx, "nope"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	upd, err := s.UpdateSender(ctx, "111", func(x *sender.Sender) (*sender.Sender, error) { x.Status = sender.StatusOnline; return x, nil })
	if err != nil || upd.Status != sender.StatusOnline {
		t.Fatalf("update: %+v %v", upd, err)
	}
	// Concurrent updates all land (optimistic locking retries).
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateSender(ctx, "111", func(x *sender.Sender) (*sender.Sender, error) {
				x.Assistants = append(x.Assistants, "x")
				return x, nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ = s.GetSender(ctx, "111")
	if len(got.Assistants) != 6 {
		t.Fatalf("lost update: %v", got.Assistants)
	}
	if err := s.CreateSender(ctx, newSender("333", "+40721234569")); err != nil {
		t.Fatal(err)
	}
	byWABA, err := s.ListSendersByWABA(ctx, "waba-1")
	if err != nil || len(byWABA) != 2 {
		t.Fatalf("by waba: %d %v", len(byWABA), err)
	}
	online, _, err := s.ListSenders(ctx, store.SenderFilter{Status: sender.StatusOnline}, 10, "")
	if err != nil || len(online) != 1 || online[0].ID != "111" {
		t.Fatalf("online: %v %v", online, err)
	}
	page1, cursor, err := s.ListSenders(ctx, store.SenderFilter{}, 1, "")
	if err != nil || len(page1) != 1 || cursor == "" {
		t.Fatalf("page1: %v %q %v", page1, cursor, err)
	}
	page2, _, err := s.ListSenders(ctx, store.SenderFilter{}, 1, cursor)
	if err != nil || len(page2) != 1 || page2[0].ID == page1[0].ID {
		t.Fatalf("page2: %v %v", page2, err)
	}
	// By business: across pages of the sender index, only that business's senders.
	for i, id := range []string{"555", "556", "557"} {
		x := newSender(id, "+4072123458"+strconv.Itoa(i))
		x.BusinessID = map[bool]string{true: "biz-1", false: "biz-2"}[i != 1]
		if err := s.CreateSender(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	byBiz, err := s.ListSendersByBusiness(ctx, "biz-1")
	if err != nil || len(byBiz) != 2 || byBiz[0].BusinessID != "biz-1" || byBiz[1].BusinessID != "biz-1" {
		t.Fatalf("by business: %v %v", byBiz, err)
	}
	if _, _, err := s.ListSenders(ctx, store.SenderFilter{}, 1, "garbage"); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	snd, _ := s.GetSender(ctx, "333")
	if err := s.ArchiveSender(ctx, snd, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSender(ctx, newSender("444", "+40721234569")); err != nil {
		t.Fatalf("number not freed by archive: %v", err)
	}
}

func TestWindowNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	c := customer.Ref{UserID: "US.1", Phone: "+16505551234"}
	t0 := clk.Now()
	if err := s.OpenWindow(ctx, "pn", c, customer.WindowFor(t0, false, 72*time.Hour)); err != nil {
		t.Fatalf("first: %v", err)
	}
	if err := s.OpenWindow(ctx, "pn", c, customer.WindowFor(t0.Add(-time.Hour), false, 72*time.Hour)); err != nil {
		t.Fatalf("older: %v", err)
	}
	if err := s.PutAliasAt(ctx, "waba", c, t0); err != nil {
		t.Fatal(err)
	}
	// Addressed by phone only, the window keyed by user id is found through the alias.
	w, err := s.GetWindow(ctx, "pn", "waba", customer.Ref{Phone: c.Phone})
	if err != nil || !w.ExpiresAt.Equal(t0.Add(24*time.Hour)) || !w.OpenAt(t0) {
		t.Fatalf("by phone: %+v %v", w, err)
	}
	// Expiry is checked on read whatever TTL has done.
	if w.OpenAt(t0.Add(25 * time.Hour)) {
		t.Fatal("expired window reported open")
	}
	if err := s.CloseWindow(ctx, "pn", c, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	w, _ = s.GetWindow(ctx, "pn", "waba", customer.Ref{UserID: c.UserID})
	if w.OpenAt(t0.Add(2 * time.Hour)) {
		t.Fatalf("closed window open: %+v", w)
	}
	if _, err := s.GetWindow(ctx, "pn", "waba", customer.Ref{Phone: "+4000"}); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

// A plain message inside a 72 h free-entry window does not shorten it, in either order.
func TestFreeEntryWindowNotShortened(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	c := customer.Ref{UserID: "US.2"}
	t0 := clk.Now()
	referral := customer.WindowFor(t0, true, 72*time.Hour)
	plain := customer.WindowFor(t0.Add(time.Hour), false, 72*time.Hour)
	for i, ws := range [][]customer.Window{{referral, plain}, {plain, referral}} {
		pn := fmt.Sprintf("pn%d", i)
		for _, w := range ws {
			if err := s.OpenWindow(ctx, pn, c, w); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetWindow(ctx, pn, "waba", c)
		if err != nil || !got.ExpiresAt.Equal(t0.Add(72*time.Hour)) || !got.FreeEntry {
			t.Fatalf("order %d: %+v %v", i, got, err)
		}
	}
}

func TestPortfolioOptOutTemplateRecord(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	t0 := clk.Now()
	if ok, err := s.SetPortfolioTier(ctx, "biz:1", "TIER_10K", t0); !ok || err != nil {
		t.Fatalf("set: %v %v", ok, err)
	}
	if ok, err := s.SetPortfolioTier(ctx, "biz:1", "TIER_2K", t0.Add(-time.Minute)); ok || err != nil {
		t.Fatalf("older applied: %v %v", ok, err)
	}
	p, err := s.GetPortfolio(ctx, "biz:1")
	if err != nil || p.DailyLimit() != 10000 {
		t.Fatalf("portfolio: %+v %v", p, err)
	}

	c := customer.Ref{UserID: "US.9"}
	if err := s.ApplyOptOut(ctx, "waba", c, webhook.OptOutEvent{Stop: true, Source: "user_preferences", At: t0}); err != nil {
		t.Fatal(err)
	}
	o, err := s.GetOptOut(ctx, "waba", c)
	if err != nil || !o.Marketing {
		t.Fatalf("opt-out: %+v %v", o, err)
	}

	if _, err := s.UpdateTemplate(ctx, "waba", "order_update", "en-US", func(tp *template.Template) (*template.Template, error) {
		if tp == nil {
			tp = &template.Template{}
		}
		tp.Status = "PAUSED"
		return tp, nil
	}); err != nil {
		t.Fatal(err)
	}
	tp, err := s.GetTemplate(ctx, "waba", "order_update", "en_US")
	if err != nil || tp.Status != "PAUSED" || tp.Language != "en_US" {
		t.Fatalf("template: %+v %v", tp, err)
	}

	if _, err := s.UpdateRecord(ctx, "req-1", func(r *outbound.Record) (*outbound.Record, error) {
		if r != nil {
			return nil, persist.ErrNoChange
		}
		r = &outbound.Record{}
		r.Status = outbound.StatusQueued
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutWAMID(ctx, "wamid.X", "req-1"); err != nil {
		t.Fatal(err)
	}
	id, err := s.RequestIDForWAMID(ctx, "wamid.X")
	if err != nil || id != "req-1" {
		t.Fatalf("wamid: %q %v", id, err)
	}
	if err := s.MarkDeliverability(ctx, "waba", c, customer.Deliverability{UndeliverableUntil: t0.Add(time.Hour), Reason: "131026"}); err != nil {
		t.Fatal(err)
	}
	d, err := s.GetDeliverability(ctx, "waba", c)
	if err != nil || !d.UndeliverableUntil.Equal(t0.Add(time.Hour)) {
		t.Fatalf("deliv: %+v %v", d, err)
	}
	// Past its TTL, the mark is not trusted even though DynamoDB has not deleted it.
	clk.Set(t0.Add(2 * time.Hour))
	d, _ = s.GetDeliverability(ctx, "waba", c)
	if !d.UndeliverableUntil.IsZero() {
		t.Fatalf("expired mark trusted: %+v", d)
	}
}

// TestConsumerWritesKeepTheDeliveryStatus: the outbound consumer's writes of a record's
// document (PutRecord, PutSentRecord with the version it read) are never refused because a
// status came in between (a status is no version), never erase it, and still move the record in
// and out of the due index.
func TestConsumerWritesKeepTheDeliveryStatus(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t)
	ctx := context.Background()
	now := clk.Now()
	rec := &outbound.Record{ID: "req-keep", Status: outbound.StatusSending, CreatedAt: now, UpdatedAt: now}
	v, err := s.PutRecord(ctx, rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := webhook.FoldStatuses([]whatsapp.Status{{ID: "wamid.KEEP", Status: "delivered", Timestamp: whatsapp.UnixTime(now.Unix())}}, now)
	if w, err := s.ApplyDeliveryStatus(ctx, rec.ID, d); err != nil || !w.Applied {
		t.Fatalf("status: %+v %v", w, err)
	}
	sent := *rec
	sent.Status, sent.WAMID = outbound.StatusSent, "wamid.KEEP"
	if err := s.PutSentRecord(ctx, &sent, v); err != nil {
		t.Fatalf("sent write with the version read before the status: %v", err)
	}
	st, err := s.ReadState(ctx, outbound.StateQuery{RequestID: rec.ID})
	if err != nil || st.Record == nil || st.Record.Status != outbound.StatusDelivered || st.Record.WAMID != "wamid.KEEP" || st.RecordVersion != v+1 {
		t.Fatalf("state after status then sent write: %+v %v", st, err)
	}
	if id, err := s.RequestIDForWAMID(ctx, "wamid.KEEP"); err != nil || id != rec.ID {
		t.Fatalf("wamid lookup: %q %v", id, err)
	}
	// Deferred and back: the due index follows the document, the status stays.
	deferred := sent
	deferred.Status, deferred.NextAttemptAt = outbound.StatusDeferred, now
	v, err = s.PutRecord(ctx, &deferred, v+1)
	if err != nil {
		t.Fatal(err)
	}
	if due, err := s.DueRecords(ctx, now, 10); err != nil || len(due) != 1 || due[0].ID != rec.ID {
		t.Fatalf("due records: %+v %v", due, err)
	}
	queued := deferred
	queued.Status, queued.NextAttemptAt = outbound.StatusQueued, time.Time{}
	if _, err := s.PutRecord(ctx, &queued, v); err != nil {
		t.Fatal(err)
	}
	if due, err := s.DueRecords(ctx, now, 10); err != nil || len(due) != 0 {
		t.Fatalf("due records after the record left deferred: %+v %v", due, err)
	}
	if got, err := s.GetRecord(ctx, rec.ID); err != nil || got.Status != outbound.StatusDelivered {
		t.Fatalf("record: %+v %v", got, err)
	}
	if _, err := s.PutRecord(ctx, &queued, v); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("write with a stale version: %v", err)
	}
}
