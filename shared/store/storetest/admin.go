package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
)

// AdminSubject is what the admin contract exercises: the sender listing the admin API pages
// through.
type AdminSubject interface {
	CreateSender(ctx context.Context, snd *sender.Sender) error
	UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error)
	ListSenders(ctx context.Context, f store.SenderFilter, limit int, cursor string) ([]*sender.Sender, string, error)
	ListSendersByBusiness(ctx context.Context, business string) ([]*sender.Sender, error)
}

// OpenAdmin returns a fresh, empty implementation.
type OpenAdmin func(t *testing.T) AdminSubject

// RunAdmin runs every case of the admin contract against open.
func RunAdmin(t *testing.T, open OpenAdmin) {
	t.Run("sender pages", func(t *testing.T) {
		t.Parallel()
		senderPages(t, open(t))
	})
}

func senderPages(t *testing.T, s AdminSubject) {
	// Six senders: 101–104 pending (102 and 104 of assistant a2), 105–106 online.
	for i := 1; i <= 6; i++ {
		snd := newSender(fmt.Sprint(100+i), fmt.Sprintf("+4072123450%d", i))
		if i%2 == 0 {
			snd.Assistants = []string{"a2"}
			snd.BusinessID = "b2"
		}
		must(t, s.CreateSender(ctx, snd))
		if i > 4 {
			_, err := s.UpdateSender(ctx, snd.ID, func(x *sender.Sender) (*sender.Sender, error) {
				x.Status = sender.StatusOnline
				return x, nil
			})
			must(t, err)
		}
	}
	ids := func(list []*sender.Sender) string {
		var out []string
		for _, x := range list {
			out = append(out, x.ID)
		}
		return fmt.Sprint(out)
	}
	walk := func(f store.SenderFilter, limit int) []string {
		t.Helper()
		var pages []string
		cursor := ""
		for range 10 {
			list, next, err := s.ListSenders(ctx, f, limit, cursor)
			must(t, err)
			pages = append(pages, ids(list))
			if next == "" {
				return pages
			}
			cursor = next
		}
		t.Fatalf("%+v: no end after 10 pages: %v", f, pages)
		return nil
	}
	for _, c := range []struct {
		f     store.SenderFilter
		limit int
		want  string
	}{
		// Ordered by status, then id ("online" before "pending").
		{store.SenderFilter{}, 0, "[[105 106 101 102 103 104]]"},
		{store.SenderFilter{}, 4, "[[105 106 101 102] [103 104]]"},
		// A page that ends on the last sender still says there may be more.
		{store.SenderFilter{}, 3, "[[105 106 101] [102 103 104] []]"},
		{store.SenderFilter{Status: sender.StatusPending}, 2, "[[101 102] [103 104] []]"},
		{store.SenderFilter{Status: sender.StatusOnline}, 0, "[[105 106]]"},
		// The assistant is filtered after the read: a short page reads on, and may overfill.
		{store.SenderFilter{Assistant: "a2"}, 2, "[[106 102] [104]]"},
		{store.SenderFilter{Assistant: "a2"}, 3, "[[106 102 104] []]"},
	} {
		if got := fmt.Sprint(walk(c.f, c.limit)); got != c.want {
			t.Errorf("%+v limit %d: pages %s, want %s", c.f, c.limit, got, c.want)
		}
	}
	_, next, err := s.ListSenders(ctx, store.SenderFilter{}, 2, "")
	must(t, err)
	for _, c := range []struct {
		name   string
		f      store.SenderFilter
		cursor string
	}{
		{"garbage", store.SenderFilter{}, "not a cursor"},
		{"another filter", store.SenderFilter{Status: sender.StatusOnline}, next},
		{"too long", store.SenderFilter{}, string(make([]byte, 2000))},
	} {
		if _, _, err := s.ListSenders(ctx, c.f, 2, c.cursor); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s cursor: %v", c.name, err)
		}
	}
	list, err := s.ListSendersByBusiness(ctx, "b2")
	if err != nil || ids(list) != "[106 102 104]" {
		t.Errorf("by business: %s %v", ids(list), err)
	}
}
