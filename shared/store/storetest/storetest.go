// Package storetest is the contract of the store's ports: one suite of cases that every
// implementation must pass. It runs against the DynamoDB store on DynamoDB Local
// (shared/store, integration) and against the in-memory store (shared/store/memory, always),
// which is what lets logic tests use the memory store in place of the real one.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// Subject is what the contract exercises: the webhook's ports and the getters the admin API and
// the outbound side read them back with.
type Subject interface {
	webhook.Store
	CreateSender(ctx context.Context, snd *sender.Sender) error
	// OpenWindow is RecordInbound's window write alone (the outbound side's tests seed with it).
	OpenWindow(ctx context.Context, phoneNumberID string, c customer.Ref, w customer.Window) error
	GetPortfolio(ctx context.Context, key string) (sender.Portfolio, error)
	GetWindow(ctx context.Context, phoneNumberID, waba string, c customer.Ref) (customer.Window, error)
	GetOptOut(ctx context.Context, waba string, c customer.Ref) (customer.OptOut, error)
	GetDeliverability(ctx context.Context, waba string, c customer.Ref) (customer.Deliverability, error)
	GetRecord(ctx context.Context, id string) (*outbound.Record, error)
	GetTemplate(ctx context.Context, waba, name, language string) (template.Template, error)
	ListTemplates(ctx context.Context, waba string) ([]template.Template, error)
	ArchiveSender(ctx context.Context, snd *sender.Sender, at time.Time) error
	ClaimStatus(ctx context.Context, id string) (string, error)
	ParkedOn(ctx context.Context, day time.Time) ([]webhook.Parked, error)
	// PutRecord stores an outbound record and its wamid lookup (seeding; the outbound side's
	// own writes are its contract, not this one).
	PutRecord(ctx context.Context, rec outbound.Record) error
}

// Clock is a settable fake clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set moves the clock.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Open returns a fresh, empty implementation on clock.
type Open func(t *testing.T, clock *Clock) Subject

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Run runs every case of the contract against open.
func Run(t *testing.T, open Open) {
	cases := []struct {
		name string
		run  func(t *testing.T, s Subject, clk *Clock)
	}{
		{"senders", senders},
		{"portfolio tier", portfolio},
		{"windows in any order", windowsAnyOrder},
		{"inbound record and forward marks", inbound},
		{"aliases", aliases},
		{"opt-outs", optOuts},
		{"deliverability", deliverability},
		{"records and orphan statuses", records},
		{"delivery status: one write, kept by record writes", deliveryKept},
		{"delivery status: any order, same record", deliveryAnyOrder},
		{"delivery status: no change", deliveryNoChange},
		{"delivery status: another message's callback data", deliveryCollision},
		{"templates and accounts", templatesAndAccounts},
		{"claims", claims},
		{"parking", parking},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := &Clock{t: t0}
			c.run(t, open(t, clk), clk)
		})
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newSender(id, phone string) *sender.Sender {
	return &sender.Sender{ID: id, Type: sender.TypeExternal, PhoneNumber: phone, WABAID: "waba-1",
		DisplayName: "Shop", Status: sender.StatusPending, QualityRating: sender.QualityNew, Assistants: []string{"a1"}}
}

func senders(t *testing.T, s Subject, _ *Clock) {
	must(t, s.CreateSender(ctx, newSender("111", "+40721234567")))
	must(t, s.CreateSender(ctx, newSender("112", "+40721234568")))
	if err := s.CreateSender(ctx, newSender("111", "+40721234569")); !errors.Is(err, store.ErrSenderExists) {
		t.Fatalf("same id: %v", err)
	}
	if err := s.CreateSender(ctx, newSender("113", "+40721234567")); !errors.Is(err, store.ErrPhoneTaken) {
		t.Fatalf("same phone: %v", err)
	}
	if _, err := s.GetSender(ctx, "nope"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	got, err := s.GetSenderByPhone(ctx, "+40721234568")
	if err != nil || got.ID != "112" || got.Version != 1 {
		t.Fatalf("by phone: %+v %v", got, err)
	}
	upd, err := s.UpdateSender(ctx, "111", func(x *sender.Sender) (*sender.Sender, error) {
		x.Status = sender.StatusOnline
		return x, nil
	})
	if err != nil || upd.Status != sender.StatusOnline || upd.Version != 2 {
		t.Fatalf("update: %+v %v", upd, err)
	}
	same, err := s.UpdateSender(ctx, "111", func(*sender.Sender) (*sender.Sender, error) { return nil, persist.ErrNoChange })
	if err != nil || same.Status != sender.StatusOnline || same.Version != 2 {
		t.Fatalf("no change: %+v %v", same, err)
	}
	refused := errors.New("refused")
	if _, err := s.UpdateSender(ctx, "111", func(*sender.Sender) (*sender.Sender, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("closure error: %v", err)
	}
	called := false
	if _, err := s.UpdateSender(ctx, "nope", func(x *sender.Sender) (*sender.Sender, error) { called = true; return x, nil }); !errors.Is(err, persist.ErrNotFound) || called {
		t.Fatalf("update missing: %v (closure called %v)", err, called)
	}
	list, err := s.ListSendersByWABA(ctx, "waba-1")
	if err != nil || len(list) != 2 || list[0].ID != "111" || list[1].ID != "112" {
		t.Fatalf("list: %v %v", list, err)
	}
	if list, _ := s.ListSendersByWABA(ctx, "other"); len(list) != 0 {
		t.Fatalf("other waba: %v", list)
	}
	// Archiving needs the version read: a stale copy is a conflict, the current one frees the number.
	stale := *list[0]
	stale.Version = 1
	if err := s.ArchiveSender(ctx, &stale, t0); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("archive with a stale version: %v", err)
	}
	if err := s.ArchiveSender(ctx, upd, t0); err != nil {
		t.Fatalf("archive: %v", err)
	}
	if _, err := s.GetSender(ctx, "111"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("archived sender still there: %v", err)
	}
	if err := s.CreateSender(ctx, newSender("114", "+40721234567")); err != nil {
		t.Fatalf("number not freed by the archive: %v", err)
	}
}

func portfolio(t *testing.T, s Subject, _ *Clock) {
	if ok, err := s.SetPortfolioTier(ctx, "biz:1", "TIER_10K", t0); !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	if ok, err := s.SetPortfolioTier(ctx, "biz:1", "TIER_2K", t0.Add(-time.Minute)); ok || err != nil {
		t.Fatalf("older: %v %v", ok, err)
	}
	p, err := s.GetPortfolio(ctx, "biz:1")
	if err != nil || p.Tier != "TIER_10K" {
		t.Fatalf("portfolio: %+v %v", p, err)
	}
	// Two events at the same time: the higher tier wins whatever the order (sender.NewerTier).
	if ok, err := s.SetPortfolioTier(ctx, "biz:1", "TIER_100K", t0); !ok || err != nil {
		t.Fatalf("same time, higher: %v %v", ok, err)
	}
	if ok, err := s.SetPortfolioTier(ctx, "biz:1", "TIER_2K", t0); ok || err != nil {
		t.Fatalf("same time, lower: %v %v", ok, err)
	}
	if p, err := s.GetPortfolio(ctx, "biz:1"); err != nil || p.Tier != "TIER_100K" {
		t.Fatalf("portfolio after a tie: %+v %v", p, err)
	}
	if _, err := s.GetPortfolio(ctx, "biz:2"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("missing portfolio: %v", err)
	}
}

// windowsAnyOrder applies the same messages and close in every order to separate customers:
// each ends with the same window.
func windowsAnyOrder(t *testing.T, s Subject, _ *Clock) {
	ref := func(i int) customer.Ref { return customer.Ref{UserID: "US." + string(rune('A'+i))} }
	plain := customer.WindowFor(t0, false, 72*time.Hour)
	free := customer.WindowFor(t0.Add(-time.Hour), true, 72*time.Hour)
	later := customer.WindowFor(t0.Add(time.Hour), false, 72*time.Hour)
	closeAt := t0.Add(30 * time.Minute)
	steps := []func(c customer.Ref) error{
		func(c customer.Ref) error { return s.OpenWindow(ctx, "pn", c, plain) },
		func(c customer.Ref) error { return s.OpenWindow(ctx, "pn", c, free) },
		func(c customer.Ref) error { return s.CloseWindowAt(ctx, "pn", c, closeAt) },
		func(c customer.Ref) error { return s.OpenWindow(ctx, "pn", c, later) },
	}
	orders := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}, {0, 1, 2, 3, 0, 2}}
	var want customer.Window
	for i, order := range orders {
		for _, j := range order {
			must(t, steps[j](ref(i)))
		}
		got, err := s.GetWindow(ctx, "pn", "waba", ref(i))
		must(t, err)
		if i == 0 {
			want = got
			continue
		}
		if !got.ExpiresAt.Equal(want.ExpiresAt) || got.FreeEntry != want.FreeEntry || !got.LastInboundAt.Equal(want.LastInboundAt) {
			t.Fatalf("order %v: %+v, want %+v", order, got, want)
		}
	}
	// The later plain message after the close gives 24 h from it; the free-entry window was
	// capped by the close.
	if !want.ExpiresAt.Equal(later.ExpiresAt) || want.FreeEntry {
		t.Fatalf("window %+v, want until %v, not free entry", want, later.ExpiresAt)
	}
	if _, err := s.GetWindow(ctx, "pn", "waba", customer.Ref{Phone: "+4000"}); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("no window: %v", err)
	}
}

func inbound(t *testing.T, s Subject, _ *Clock) {
	c := customer.Ref{UserID: "US.1", Phone: "+16505551234"}
	w := customer.WindowFor(t0, false, 72*time.Hour)
	m := webhook.InboundMessage{WAMID: "wamid.A.1==", PhoneNumberID: "pn", Customer: c, Window: &w}
	for i := 0; i < 2; i++ { // a redelivery without a mark is not known as forwarded
		fwd, err := s.RecordInbound(ctx, m)
		if err != nil || fwd {
			t.Fatalf("record %d: %v %v", i, fwd, err)
		}
	}
	got, err := s.GetWindow(ctx, "pn", "waba", c)
	if err != nil || !got.ExpiresAt.Equal(w.ExpiresAt) {
		t.Fatalf("window after the message: %+v %v", got, err)
	}
	solo := webhook.InboundMessage{WAMID: "wamid.group.1", PhoneNumberID: "pn", Customer: c}
	must(t, s.MarkForwarded(ctx, []webhook.InboundMessage{m, solo}))
	for _, x := range []webhook.InboundMessage{m, solo} {
		if fwd, err := s.RecordInbound(ctx, x); err != nil || !fwd {
			t.Fatalf("after the mark, %s: %v %v", x.WAMID, fwd, err)
		}
	}
	// Another message of the same customer is not marked, and still moves the window.
	w2 := customer.WindowFor(t0.Add(time.Hour), false, 72*time.Hour)
	fwd, err := s.RecordInbound(ctx, webhook.InboundMessage{WAMID: "wamid.A.2==", PhoneNumberID: "pn", Customer: c, Window: &w2})
	if err != nil || fwd {
		t.Fatalf("next message: %v %v", fwd, err)
	}
	if got, err := s.GetWindow(ctx, "pn", "waba", c); err != nil || !got.ExpiresAt.Equal(w2.ExpiresAt) {
		t.Fatalf("window after the next message: %+v %v", got, err)
	}
	// A close after a mark still closes.
	must(t, s.CloseWindowAt(ctx, "pn", c, t0.Add(2*time.Hour)))
	if got, _ := s.GetWindow(ctx, "pn", "waba", c); !got.ExpiresAt.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("closed window: %+v", got)
	}
	if _, err := s.RecordInbound(ctx, webhook.InboundMessage{}); err == nil {
		t.Fatal("a message without a wamid was recorded")
	}
}

func aliases(t *testing.T, s Subject, _ *Clock) {
	must(t, s.PutAliasAt(ctx, "waba", customer.Ref{UserID: "US.new", Phone: "+1555"}, t0))
	must(t, s.PutAliasAt(ctx, "waba", customer.Ref{UserID: "US.old", Phone: "+1555"}, t0.Add(-time.Hour))) // late, older
	got, err := s.ResolveCustomer(ctx, "waba", customer.Ref{Phone: "+1555"})
	if err != nil || got.UserID != "US.new" {
		t.Fatalf("resolve by phone: %+v %v", got, err)
	}
	got, err = s.ResolveCustomer(ctx, "waba", customer.Ref{UserID: "US.new"})
	if err != nil || got.Phone != "+1555" {
		t.Fatalf("resolve by BSUID: %+v %v", got, err)
	}
	if got, _ := s.ResolveCustomer(ctx, "other", customer.Ref{Phone: "+1555"}); got.UserID != "" {
		t.Fatalf("alias leaked to another WABA: %+v", got)
	}
}

func optOuts(t *testing.T, s Subject, _ *Clock) {
	c := customer.Ref{Phone: "+1555"}
	// A resume older than the stop changes nothing, whatever the arrival order.
	must(t, s.ApplyOptOut(ctx, "waba", c, webhook.OptOutEvent{Stop: true, Keyword: true, Source: "keyword", At: t0}))
	must(t, s.ApplyOptOut(ctx, "waba", c, webhook.OptOutEvent{Stop: false, Source: "user_preferences", At: t0.Add(-time.Minute)}))
	o, err := s.GetOptOut(ctx, "waba", c)
	if err != nil || !o.Marketing || !o.Keyword {
		t.Fatalf("after stop and older resume: %+v %v", o, err)
	}
	// The customer changes number: their opt-out follows, and so does a later stop of the old one.
	next := customer.Ref{Phone: "+1666"}
	must(t, s.CopyOptOut(ctx, "waba", c, next))
	if o, _ := s.GetOptOut(ctx, "waba", next); !o.Marketing || !o.Keyword {
		t.Fatalf("copied opt-out: %+v", o)
	}
	must(t, s.ApplyOptOut(ctx, "waba", c, webhook.OptOutEvent{Stop: false, Source: "user_preferences", At: t0.Add(time.Minute)}))
	if o, _ := s.GetOptOut(ctx, "waba", next); o.Active() {
		t.Fatalf("a resume of the old number did not follow: %+v", o)
	}
	if o, _ := s.GetOptOut(ctx, "waba", customer.Ref{Phone: "+1777"}); o.Active() {
		t.Fatalf("stranger opted out: %+v", o)
	}
}

func deliverability(t *testing.T, s Subject, _ *Clock) {
	c := customer.Ref{UserID: "US.9"}
	must(t, s.MarkDeliverability(ctx, "waba", c, customer.Deliverability{UndeliverableUntil: t0.Add(time.Hour), Reason: "131026"}))
	must(t, s.MarkDeliverability(ctx, "waba", c, customer.Deliverability{UndeliverableUntil: t0, Reason: "older"}))
	must(t, s.MarkDeliverability(ctx, "waba", c, customer.Deliverability{MarketingCappedUntil: t0.Add(2 * time.Hour), Reason: "131049"}))
	d, err := s.GetDeliverability(ctx, "waba", c)
	if err != nil || !d.UndeliverableUntil.Equal(t0.Add(time.Hour)) || !d.MarketingCappedUntil.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("deliverability: %+v %v", d, err)
	}

	// A 131026 mark is lifted by the delivery of the message that set it, not of another one.
	c2 := customer.Ref{UserID: "US.10"}
	must(t, s.MarkDeliverability(ctx, "waba", c2, customer.Deliverability{UndeliverableUntil: t0.Add(72 * time.Hour), Reason: "131026", UndeliverableWAMID: "wamid.1"}))
	must(t, s.MarkDeliverability(ctx, "waba", c2, customer.Deliverability{DeliveredWAMID: "wamid.2"}))
	if d, err := s.GetDeliverability(ctx, "waba", c2); err != nil || !d.UndeliverableUntil.Equal(t0.Add(72*time.Hour)) {
		t.Fatalf("after another message's delivery: %+v %v", d, err)
	}
	must(t, s.MarkDeliverability(ctx, "waba", c2, customer.Deliverability{DeliveredWAMID: "wamid.1"}))
	if d, err := s.GetDeliverability(ctx, "waba", c2); err != nil || !d.UndeliverableUntil.IsZero() {
		t.Fatalf("after the marking message's delivery: %+v %v", d, err)
	}
}

func status(id, st string, at int64) whatsapp.Status {
	return whatsapp.Status{ID: id, Status: st, Timestamp: whatsapp.UnixTime(at)}
}

func records(t *testing.T, s Subject, _ *Clock) {
	if _, err := s.UpdateKnownRecord(ctx, "nope", func(r *outbound.Record) (*outbound.Record, error) { return r, nil }); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("update missing record: %v", err)
	}
	must(t, s.PutRecord(ctx, outbound.Record{ID: "req-1", WAMID: "wamid.R1", Status: outbound.StatusSent}))
	if id, err := s.RequestIDForWAMID(ctx, "wamid.R1"); err != nil || id != "req-1" {
		t.Fatalf("wamid lookup: %q %v", id, err)
	}
	if _, err := s.RequestIDForWAMID(ctx, "wamid.none"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("unknown wamid: %v", err)
	}
	rec, err := s.UpdateKnownRecord(ctx, "req-1", func(*outbound.Record) (*outbound.Record, error) { return nil, persist.ErrNoChange })
	if err != nil || rec.Status != outbound.StatusSent {
		t.Fatalf("no change: %+v %v", rec, err)
	}
	// Statuses that came before the record was known are kept, then applied once.
	must(t, s.PutOrphanStatus(ctx, webhook.OrphanStatus{Status: status("wamid.R1", "delivered", 1764000100)}))
	must(t, s.PutOrphanStatus(ctx, webhook.OrphanStatus{Status: status("wamid.R1", "read", 1764000200)}))
	must(t, s.PutOrphanStatus(ctx, webhook.OrphanStatus{Status: status("wamid.R1", "read", 1764000150)})) // older, dropped
	rec, err = s.ApplyOrphans(ctx, "wamid.R1", "req-1")
	if err != nil || rec == nil || rec.Status != outbound.StatusRead || !rec.StatusAt.Equal(time.Unix(1764000200, 0)) {
		t.Fatalf("orphans applied: %+v %v", rec, err)
	}
	got, err := s.GetRecord(ctx, "req-1")
	if err != nil || got.Status != outbound.StatusRead {
		t.Fatalf("record: %+v %v", got, err)
	}
	if rec, err := s.ApplyOrphans(ctx, "wamid.none", "nope"); err != nil || rec != nil {
		t.Fatalf("orphans of an unknown record: %+v %v", rec, err)
	}
}

func templatesAndAccounts(t *testing.T, s Subject, _ *Clock) {
	skip := func(*webhook.TemplateState) (*webhook.TemplateState, error) { return nil, persist.ErrNoChange }
	if ts, err := s.UpdateTemplateState(ctx, "waba", "t", "en-US", skip); err != nil || ts.Status != "" {
		t.Fatalf("no change to nothing: %+v %v", ts, err)
	}
	if _, err := s.GetTemplate(ctx, "waba", "t", "en_US"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("template written by a no-change: %v", err)
	}
	ts, err := s.UpdateTemplateState(ctx, "waba", "t", "en-US", func(cur *webhook.TemplateState) (*webhook.TemplateState, error) {
		if cur != nil {
			t.Error("closure got a template that does not exist")
		}
		return &webhook.TemplateState{Template: template.Template{Status: "APPROVED"}}, nil
	})
	if err != nil || ts.Status != "APPROVED" || ts.Language != "en_US" || ts.Name != "t" || ts.WABAID != "waba" {
		t.Fatalf("template: %+v %v", ts, err)
	}
	if tp, err := s.GetTemplate(ctx, "waba", "t", "en-US"); err != nil || tp.Status != "APPROVED" {
		t.Fatalf("get template: %+v %v", tp, err)
	}
	if list, err := s.ListTemplates(ctx, "waba"); err != nil || len(list) != 1 || list[0].Name != "t" {
		t.Fatalf("list templates: %+v %v", list, err)
	}
	if list, _ := s.ListTemplates(ctx, "wab"); len(list) != 0 {
		t.Fatalf("templates of another WABA: %+v", list)
	}
	if _, err := s.GetAccount(ctx, "waba"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("missing account: %v", err)
	}
	a, err := s.UpdateAccount(ctx, "waba", func(*webhook.Account) (*webhook.Account, error) { return nil, persist.ErrNoChange })
	if err != nil || a == nil || a.WABAID != "waba" {
		t.Fatalf("no change to no account: %+v %v", a, err)
	}
	a, err = s.UpdateAccount(ctx, "waba", func(cur *webhook.Account) (*webhook.Account, error) {
		return &webhook.Account{UpdatedAt: t0}, nil
	})
	if err != nil || a.WABAID != "waba" || !a.UpdatedAt.Equal(t0) {
		t.Fatalf("account: %+v %v", a, err)
	}
	if got, err := s.GetAccount(ctx, "waba"); err != nil || !got.UpdatedAt.Equal(t0) {
		t.Fatalf("get account: %+v %v", got, err)
	}
}

func claims(t *testing.T, s Subject, clk *Clock) {
	lease := 30 * time.Second
	for _, c := range []struct {
		owner string
		want  webhook.ClaimState
	}{{"a", webhook.Claimed}, {"b", webhook.Held}} {
		if st, err := s.Claim(ctx, "fallback:1", c.owner, lease); err != nil || st != c.want {
			t.Fatalf("claim by %s: %v %v, want %v", c.owner, st, err, c.want)
		}
	}
	must(t, s.Release(ctx, "fallback:1", "b")) // not b's: nothing happens
	if st, _ := s.Claim(ctx, "fallback:1", "c", lease); st != webhook.Held {
		t.Fatalf("released by another owner: %v", st)
	}
	clk.Set(t0.Add(lease + time.Second))
	if st, _ := s.Claim(ctx, "fallback:1", "c", lease); st != webhook.Claimed {
		t.Fatalf("expired lease not taken over: %v", st)
	}
	must(t, s.MarkDone(ctx, []string{"fallback:1"}))
	if st, _ := s.Claim(ctx, "fallback:1", "d", lease); st != webhook.AlreadyDone {
		t.Fatalf("after done: %v", st)
	}
	if st, err := s.ClaimStatus(ctx, "fallback:1"); err != nil || st != "done" {
		t.Fatalf("status: %q %v", st, err)
	}
	if st, _ := s.Claim(ctx, "fallback:2", "a", lease); st != webhook.Claimed {
		t.Fatal("second id")
	}
	must(t, s.Release(ctx, "fallback:2", "a"))
	if _, err := s.ClaimStatus(ctx, "fallback:2"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("released claim still there: %v", err)
	}
}

func parking(t *testing.T, s Subject, _ *Clock) {
	p := webhook.Parked{Reason: "unknown_field", WABAID: "waba", Field: "x", Detail: "d", Body: []byte(`{"object":"x"}`), ReceivedAt: t0}
	must(t, s.Park(ctx, p))
	must(t, s.Park(ctx, p)) // Meta's redelivery on the same day
	got, err := s.ParkedOn(ctx, t0)
	if err != nil || len(got) != 1 || string(got[0].Body) != `{"object":"x"}` || got[0].Reason != "unknown_field" {
		t.Fatalf("parked: %+v %v", got, err)
	}
	if got, _ := s.ParkedOn(ctx, t0.Add(24*time.Hour)); len(got) != 0 {
		t.Fatalf("parked the next day: %+v", got)
	}
}

// applyStatus is ApplyDeliveryStatus's record before the write and whether it wrote.
func applyStatus(s Subject, id string, d webhook.DeliveryStatus) (*outbound.Record, bool, error) {
	w, err := s.ApplyDeliveryStatus(ctx, id, d)
	return w.Prev, w.Applied, err
}

// delivered is the delivery status of the webhook's statuses of one message, applied at t0.
func delivered(t *testing.T, sts ...whatsapp.Status) webhook.DeliveryStatus {
	t.Helper()
	d, ok := webhook.FoldStatuses(sts, t0)
	if !ok {
		t.Fatalf("no known status in %+v", sts)
	}
	return d
}

func failedStatus(id string, at int64, code int, title string) whatsapp.Status {
	st := status(id, "failed", at)
	st.Errors = []whatsapp.ErrorInfo{{Code: whatsapp.FlexInt(code), Title: title}}
	return st
}

// sameJSON fails unless a and b are the same record, field by field.
func sameJSON(t *testing.T, what string, a, b *outbound.Record) {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("%s:\n%s\n%s", what, ja, jb)
	}
}

// deliveryKept: a status is one write that never reads, is no version, and survives the
// outbound consumer's writes of the record's document, in either order: a status before the
// sent write and one after it leave the same record; a document update sees the status.
func deliveryKept(t *testing.T, s Subject, _ *Clock) {
	if _, _, err := applyStatus(s, "none", delivered(t, status("wamid.K0", "delivered", 1764000100))); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("status of a missing record: %v", err)
	}
	sending := func(id string) outbound.Record {
		return outbound.Record{ID: id, Status: outbound.StatusSending, Attempts: 1, CreatedAt: t0, UpdatedAt: t0}
	}
	sent := func(id, wamid string) outbound.Record {
		r := sending(id)
		r.Status, r.WAMID, r.Mode = outbound.StatusSent, wamid, outbound.ModeFreeform
		return r
	}
	d := delivered(t, status("wamid.K1", "delivered", 1764000100))

	// Status first, then the consumer's sent write (a blind write of the document).
	must(t, s.PutRecord(ctx, sending("req-k1")))
	prev, applied, err := applyStatus(s, "req-k1", d)
	if err != nil || !applied || prev.Status != outbound.StatusSending {
		t.Fatalf("status before the send was recorded: %+v %v %v", prev, applied, err)
	}
	must(t, s.PutRecord(ctx, sent("req-k1", "wamid.K1")))
	first, err := s.GetRecord(ctx, "req-k1")
	if err != nil || first.Status != outbound.StatusDelivered || first.WAMID != "wamid.K1" || !first.StatusAt.Equal(time.Unix(1764000100, 0)) {
		t.Fatalf("status then sent write: %+v %v", first, err)
	}

	// The sent write first, then the status: the same record.
	d2 := d
	must(t, s.PutRecord(ctx, sent("req-k1b", "wamid.K1")))
	prev, applied, err = applyStatus(s, "req-k1b", d2)
	if err != nil || !applied || prev.Status != outbound.StatusSent || prev.WAMID != "wamid.K1" {
		t.Fatalf("status after the sent write: %+v %v %v", prev, applied, err)
	}
	second, err := s.GetRecord(ctx, "req-k1b")
	if err != nil {
		t.Fatal(err)
	}
	second.ID = first.ID
	sameJSON(t, "status then sent write vs sent write then status", first, second)

	// A document update (the template fallback id) sees the status and keeps it.
	rec, err := s.UpdateKnownRecord(ctx, "req-k1", func(r *outbound.Record) (*outbound.Record, error) {
		if r.Status != outbound.StatusDelivered {
			t.Errorf("update closure sees %s, want the status merged", r.Status)
		}
		r.FallbackID = "fb-1"
		return r, nil
	})
	if err != nil || rec.Status != outbound.StatusDelivered || rec.FallbackID != "fb-1" {
		t.Fatalf("document update after a status: %+v %v", rec, err)
	}
	// A status after that update is still one write, not refused by the update's version.
	if _, applied, err := applyStatus(s, "req-k1", delivered(t, status("wamid.K1", "read", 1764000200))); err != nil || !applied {
		t.Fatalf("status after a document update: %v %v", applied, err)
	}
	if got, err := s.GetRecord(ctx, "req-k1"); err != nil || got.Status != outbound.StatusRead || got.FallbackID != "fb-1" {
		t.Fatalf("record: %+v %v", got, err)
	}
}

// deliveryAnyOrder: the statuses of one message, one write each, in any order or all at once,
// leave the same record; a delivery over a 131026 clears the failure.
func deliveryAnyOrder(t *testing.T, s Subject, _ *Clock) {
	sts := []whatsapp.Status{
		status("wamid.O1", "sent", 1764000100),
		failedStatus("wamid.O1", 1764000150, 131026, "Message undeliverable"),
		status("wamid.O1", "delivered", 1764000200),
		status("wamid.O1", "read", 1764000300),
		failedStatus("wamid.O1", 1764000160, 131000, "Something went wrong"),
	}
	orders := [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {1, 4, 0, 3, 2}, {2, 0, 4, 1, 3}}
	var want *outbound.Record
	for i, order := range orders {
		id := fmt.Sprintf("req-o%d", i)
		must(t, s.PutRecord(ctx, outbound.Record{ID: id, WAMID: "wamid.O1", Status: outbound.StatusSent, CreatedAt: t0, UpdatedAt: t0}))
		for _, j := range order {
			if _, _, err := applyStatus(s, id, delivered(t, sts[j])); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetRecord(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got.ID = ""
		if want == nil {
			want = got
			if got.Status != outbound.StatusRead || got.ErrorCode != 0 || got.Reason != "" || !got.StatusAt.Equal(time.Unix(1764000300, 0)) {
				t.Fatalf("after every status: %+v", got)
			}
			continue
		}
		sameJSON(t, fmt.Sprintf("order %v", order), want, got)
	}
	// All at once, against the consumer's own document write: no conflict, the same record.
	must(t, s.PutRecord(ctx, outbound.Record{ID: "req-oc", Status: outbound.StatusSending, CreatedAt: t0, UpdatedAt: t0}))
	var wg sync.WaitGroup
	errs := make(chan error, len(sts)+1)
	for _, st := range sts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := applyStatus(s, "req-oc", delivered(t, st)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- s.PutRecord(ctx, outbound.Record{ID: "req-oc", WAMID: "wamid.O1", Status: outbound.StatusSent, CreatedAt: t0, UpdatedAt: t0})
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got, err := s.GetRecord(ctx, "req-oc")
	if err != nil {
		t.Fatal(err)
	}
	got.ID = ""
	sameJSON(t, "concurrent statuses and sent write", want, got)

	// A 131026 stays known after a delivery overrides it, and only for its own wamid.
	must(t, s.PutRecord(ctx, outbound.Record{ID: "req-ou", WAMID: "wamid.O1", Status: outbound.StatusSent, CreatedAt: t0, UpdatedAt: t0}))
	for i, st := range []whatsapp.Status{sts[0], sts[1], sts[2], sts[3]} {
		w, err := s.ApplyDeliveryStatus(ctx, "req-ou", delivered(t, st))
		if err != nil || !w.Applied || w.Undeliverable != (i >= 2) {
			t.Fatalf("status %d (%s): %+v %v", i, st.Status, w, err)
		}
	}

	// Failures alone: the higher code wins whatever the order.
	for i, order := range [][]int{{1, 4}, {4, 1}} {
		id := fmt.Sprintf("req-of%d", i)
		must(t, s.PutRecord(ctx, outbound.Record{ID: id, WAMID: "wamid.O1", Status: outbound.StatusSent, CreatedAt: t0, UpdatedAt: t0}))
		for _, j := range order {
			if _, _, err := applyStatus(s, id, delivered(t, sts[j])); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.GetRecord(ctx, id); err != nil || got.Status != outbound.StatusFailed || got.ErrorCode != 131026 || got.Reason != webhook.ReasonUndeliverable {
			t.Fatalf("failures in order %v: %+v %v", order, got, err)
		}
	}
}

// deliveryNoChange: a lower or equal status after a higher one, a replay of the same status
// (its answer lost), and a status of another wamid change nothing and are no error; each still
// returns the record.
func deliveryNoChange(t *testing.T, s Subject, _ *Clock) {
	must(t, s.PutRecord(ctx, outbound.Record{ID: "req-n1", WAMID: "wamid.N1", Status: outbound.StatusSent, CreatedAt: t0, UpdatedAt: t0}))
	read := delivered(t, status("wamid.N1", "read", 1764000300))
	if _, applied, err := applyStatus(s, "req-n1", read); err != nil || !applied {
		t.Fatalf("read: %v %v", applied, err)
	}
	before, err := s.GetRecord(ctx, "req-n1")
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]webhook.DeliveryStatus{
		"lower after higher":  delivered(t, status("wamid.N1", "delivered", 1764000400)),
		"the same again":      read,
		"another wamid":       delivered(t, status("wamid.OTHER", "played", 1764000500)),
		"a failure after all": delivered(t, failedStatus("wamid.N1", 1764000500, 131047, "Re-engagement message")),
	} {
		prev, applied, err := applyStatus(s, "req-n1", d)
		if err != nil || applied {
			t.Fatalf("%s: applied %v, %v", name, applied, err)
		}
		sameJSON(t, name+": returned record", before, prev)
	}
	after, err := s.GetRecord(ctx, "req-n1")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "record after statuses that change nothing", before, after)

	// Before the send recorded its wamid, the first status binds the record to its own.
	must(t, s.PutRecord(ctx, outbound.Record{ID: "req-n2", Status: outbound.StatusSending, CreatedAt: t0, UpdatedAt: t0}))
	if _, applied, err := applyStatus(s, "req-n2", delivered(t, status("wamid.N2", "sent", 1764000100))); err != nil || !applied {
		t.Fatalf("first status: %v %v", applied, err)
	}
	if _, applied, err := applyStatus(s, "req-n2", delivered(t, status("wamid.OTHER", "read", 1764000200))); err != nil || applied {
		t.Fatalf("status of another wamid on a bound record: %v %v", applied, err)
	}
	if got, err := s.GetRecord(ctx, "req-n2"); err != nil || got.Status != outbound.StatusSent || !got.StatusAt.Equal(time.Unix(1764000100, 0)) {
		t.Fatalf("record: %+v %v", got, err)
	}
}

// deliveryCollision: another system's message carries our request id as its callback data and
// its status comes before our send is recorded. It binds the record to its wamid, so our own
// statuses wait as orphans instead of being written beside it; our send's record write binds
// the record to our wamid, hides the other status, and the orphans then apply.
func deliveryCollision(t *testing.T, s Subject, _ *Clock) {
	must(t, s.PutRecord(ctx, outbound.Record{ID: "req-c", Status: outbound.StatusSending, CreatedAt: t0, UpdatedAt: t0}))
	if w, err := s.ApplyDeliveryStatus(ctx, "req-c", delivered(t, status("wamid.THEIRS", "delivered", 1764000100))); err != nil || !w.Applied || w.WAMID != "" {
		t.Fatalf("their status: %+v %v", w, err)
	}
	ours := status("wamid.OURS", "read", 1764000200)
	if w, err := s.ApplyDeliveryStatus(ctx, "req-c", delivered(t, ours)); err != nil || w.Applied || w.WAMID != "wamid.THEIRS" {
		t.Fatalf("our status on their binding: %+v %v", w, err)
	}
	must(t, s.PutOrphanStatus(ctx, webhook.OrphanStatus{Status: ours}))
	if rec, err := s.ApplyOrphans(ctx, "wamid.OURS", "req-c"); err != nil || rec != nil {
		t.Fatalf("orphans on their binding: %+v %v", rec, err)
	}
	must(t, s.PutRecord(ctx, outbound.Record{ID: "req-c", WAMID: "wamid.OURS", Status: outbound.StatusSent, CreatedAt: t0, UpdatedAt: t0}))
	if rec, err := s.GetRecord(ctx, "req-c"); err != nil || rec.Status != outbound.StatusSent {
		t.Fatalf("after our send's record write: %+v %v", rec, err)
	}
	if rec, err := s.ApplyOrphans(ctx, "wamid.OURS", "req-c"); err != nil || rec == nil || rec.Status != outbound.StatusRead {
		t.Fatalf("orphans after our send's record write: %+v %v", rec, err)
	}
	if rec, err := s.GetRecord(ctx, "req-c"); err != nil || rec.Status != outbound.StatusRead || rec.WAMID != "wamid.OURS" {
		t.Fatalf("record: %+v %v", rec, err)
	}
}
