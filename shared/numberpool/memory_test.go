package numberpool_test

import (
	"testing"

	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/numberpool/pooltest"
	"github.com/aloro/wa-senders/shared/store/memory"
)

// TestMemoryStoreContract runs the pool store contract against the memory store.
func TestMemoryStoreContract(t *testing.T) {
	t.Parallel()
	pooltest.RunStoreContract(t, func(*testing.T) numberpool.Store { return memory.New(nil) })
}
