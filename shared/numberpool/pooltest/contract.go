// Package pooltest is the contract every numberpool.Store passes: the in-memory store in the
// logic tests and the DynamoDB store against DynamoDB Local.
package pooltest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/persist"
)

// RunStoreContract checks newStore's stores (each test gets a fresh one).
func RunStoreContract(t *testing.T, newStore func(t *testing.T) numberpool.Store) {
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)

	t.Run("intents", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GetIntent(ctx, "r1"); !errors.Is(err, persist.ErrNotFound) {
			t.Fatalf("missing intent: %v", err)
		}
		if _, err := s.UpdateIntent(ctx, "r1", func(cur *numberpool.Intent) (*numberpool.Intent, error) {
			return nil, persist.ErrNoChange
		}); !errors.Is(err, persist.ErrNotFound) {
			t.Fatalf("no change on a missing intent: %v", err)
		}
		create := func(id string, st numberpool.IntentState) {
			t.Helper()
			if _, err := s.UpdateIntent(ctx, id, func(cur *numberpool.Intent) (*numberpool.Intent, error) {
				if cur != nil {
					t.Fatalf("cur = %+v, want nil", cur)
				}
				return &numberpool.Intent{RequestID: id, E164: "+40721000001", State: st, CreatedAt: at}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		create("r1", numberpool.IntentPending)
		create("r2", numberpool.IntentDone)
		open, err := s.OpenIntents(ctx)
		if err != nil || len(open) != 1 || open[0].RequestID != "r1" {
			t.Fatalf("open intents: %+v %v", open, err)
		}
		got, err := s.UpdateIntent(ctx, "r1", func(cur *numberpool.Intent) (*numberpool.Intent, error) {
			next := *cur
			next.State, next.CarrierSID = numberpool.IntentDone, "PN1"
			return &next, nil
		})
		if err != nil || got.State != numberpool.IntentDone {
			t.Fatalf("update: %+v %v", got, err)
		}
		if open, _ := s.OpenIntents(ctx); len(open) != 0 {
			t.Fatalf("closed intent still open: %+v", open)
		}
		back, err := s.GetIntent(ctx, "r1")
		if err != nil || back.CarrierSID != "PN1" {
			t.Fatalf("read back: %+v %v", back, err)
		}
		boom := errors.New("refused")
		if _, err := s.UpdateIntent(ctx, "r1", func(*numberpool.Intent) (*numberpool.Intent, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("closure error: %v", err)
		}
	})

	t.Run("numbers", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GetNumber(ctx, "+40721000001"); !errors.Is(err, persist.ErrNotFound) {
			t.Fatalf("missing number: %v", err)
		}
		for _, e := range []string{"+40721000002", "+40721000001"} {
			if _, err := s.UpdateNumber(ctx, e, func(cur *numberpool.Number) (*numberpool.Number, error) {
				return &numberpool.Number{E164: e, State: numberpool.StateUnverified, Seen: []string{"SM1"}, CreatedAt: at}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.UpdateNumber(ctx, "+40721000001", func(cur *numberpool.Number) (*numberpool.Number, error) {
			next := *cur
			next.State, next.VerifiedUntil = numberpool.StateVerified, at.Add(time.Hour)
			return &next, nil
		})
		if err != nil || n.State != numberpool.StateVerified {
			t.Fatalf("update: %+v %v", n, err)
		}
		list, err := s.ListNumbers(ctx)
		if err != nil || len(list) != 2 || list[0].E164 != "+40721000001" || !list[0].VerifiedUntil.Equal(at.Add(time.Hour)) ||
			len(list[1].Seen) != 1 {
			t.Fatalf("list: %+v %v", list, err)
		}
	})
}
