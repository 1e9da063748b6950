package numberpool_test

import (
	"testing"

	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/numberpool/pooltest"
)

func TestMemStoreContract(t *testing.T) {
	t.Parallel()
	pooltest.RunStoreContract(t, func(*testing.T) numberpool.Store { return numberpool.NewMemStore() })
}
