package numberpool_test

import (
	"context"
	"testing"

	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

// The hands-free loop and the purchase race against DynamoDB Local (the store's conditional
// writes, not the memory store's mutex, keep one purchase per request id).

func dynamoEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	return newEnvWithStore(t, store.New(ddb, testenv.Table(t, ddb), nil), opts...)
}

func TestDynamoBuyVerifyClaim(t *testing.T) {
	for _, voice := range []bool{false, true} {
		e := dynamoEnv(t, func(o *numberpool.Options) {
			if voice {
				o.VoiceCountries = []string{"RO"}
			}
		})
		e.deliverCodes()
		ctx := context.Background()
		if _, err := e.pool.Buy(ctx, "req-d", num1); err != nil {
			t.Fatal(err)
		}
		v := e.waitState(t, num1, numberpool.StateVerified)
		if voice != (v.Method == numberpool.MethodVoice) {
			t.Fatalf("method %s, voice %v", v.Method, voice)
		}
		if ok, err := e.pool.Claim(ctx, num1, "777000111", "106540352299001"); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		e.assertNothingLeaked(t)
	}
}

func TestDynamoConcurrentBuysBuyOnce(t *testing.T) {
	concurrentBuys(t, dynamoEnv(t))
}
