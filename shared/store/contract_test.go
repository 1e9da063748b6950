package store_test

import (
	"context"
	"testing"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/store/storetest"
	"github.com/aloro/wa-senders/shared/testenv"
)

// seeded is the DynamoDB store with the contract's seeding of outbound records.
type seeded struct{ *store.Store }

func (s seeded) PutRecord(ctx context.Context, rec outbound.Record) error {
	if _, err := s.UpdateRecord(ctx, rec.ID, func(*outbound.Record) (*outbound.Record, error) { return &rec, nil }); err != nil {
		return err
	}
	if rec.WAMID == "" {
		return nil
	}
	return s.PutWAMID(ctx, rec.WAMID, rec.ID)
}

// TestContract runs the store contract against DynamoDB Local: the same cases the memory store
// passes, so logic tests on the memory store say something about the real one.
func TestContract(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	storetest.Run(t, func(t *testing.T, clk *storetest.Clock) storetest.Subject {
		return seeded{store.New(ddb, testenv.Table(t, ddb), clk.Now)}
	})
}

// TestOutboundContract runs the outbound contract against DynamoDB Local.
func TestOutboundContract(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	storetest.RunOutbound(t, func(t *testing.T, clk *storetest.Clock) storetest.OutboundSubject {
		return store.New(ddb, testenv.Table(t, ddb), clk.Now).Outbound()
	})
}

// TestAdminContract runs the admin contract against DynamoDB Local.
func TestAdminContract(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	storetest.RunAdmin(t, func(t *testing.T) storetest.AdminSubject { return store.New(ddb, testenv.Table(t, ddb), nil) })
}
