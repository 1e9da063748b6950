package store_test

import (
	"testing"

	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/numberpool/pooltest"
)

func TestPoolStoreContract(t *testing.T) {
	pooltest.RunStoreContract(t, func(t *testing.T) numberpool.Store {
		s, _ := newStore(t)
		return s
	})
}
