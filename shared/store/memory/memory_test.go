package memory_test

import (
	"testing"

	"github.com/aloro/wa-senders/shared/store/memory"
	"github.com/aloro/wa-senders/shared/store/storetest"
)

// TestContract runs the store contract against the memory store (no stack needed).
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(_ *testing.T, clk *storetest.Clock) storetest.Subject { return memory.New(clk.Now) })
}

// TestOutboundContract runs the outbound contract against the memory store.
func TestOutboundContract(t *testing.T) {
	t.Parallel()
	storetest.RunOutbound(t, func(_ *testing.T, clk *storetest.Clock) storetest.OutboundSubject {
		return memory.New(clk.Now).Outbound()
	})
}

// TestAdminContract runs the admin contract against the memory store.
func TestAdminContract(t *testing.T) {
	t.Parallel()
	storetest.RunAdmin(t, func(*testing.T) storetest.AdminSubject { return memory.New(nil) })
}
