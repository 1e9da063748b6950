package graphfake_test

import (
	"context"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
)

func TestPreVerifiedLifecycle(t *testing.T) {
	t.Parallel()
	f, c := newPair(t, graphfake.Options{StrictPhoneNumbers: true}, 2*time.Second)
	ctx := context.Background()
	codes := make(chan string, 2)
	f.SetCodeSender(func(_ context.Context, e164, method, code string) error {
		if e164 != "+40721000001" || method != "SMS" {
			t.Errorf("code sent to %s by %s", e164, method)
		}
		codes <- code
		return nil
	})
	id, err := c.AddPreVerifiedNumber(ctx, "555000111", "+40721000001")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.AddPreVerifiedNumber(ctx, "555000111", "+40721000001"); err != nil || again != id {
		t.Fatalf("adding again: %s %v, want the same id %s", again, err, id)
	}
	p, err := c.PreVerifiedNumber(ctx, id)
	if err != nil || p.CodeVerificationStatus != graph.VerificationNotVerified || !p.ExpiresAt.IsZero() {
		t.Fatalf("before: %+v %v", p, err)
	}
	if err := c.RequestCode(ctx, id, graph.CodeMethodSMS, "en_US"); err != nil {
		t.Fatal(err)
	}
	code := <-codes
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if err := c.VerifyCode(ctx, id, wrong); !graph.IsWrongCode(err) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := c.VerifyCode(ctx, id, code); err != nil {
		t.Fatal(err)
	}
	p, err = c.PreVerifiedNumber(ctx, id)
	if err != nil || p.CodeVerificationStatus != graph.VerificationVerified || time.Until(p.ExpiresAt) < 89*24*time.Hour {
		t.Fatalf("after: %+v %v", p, err)
	}
	if err := f.ClaimPreVerified(id, "106540352200001"); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, "106540352200001", "123456"); err != nil {
		t.Fatalf("register the claimed number: %v", err)
	}
}

func TestWABAPhoneNumberPath(t *testing.T) {
	t.Parallel()
	f, c := newPair(t, graphfake.Options{StrictPhoneNumbers: true}, 2*time.Second)
	ctx := context.Background()
	codes := make(chan string, 1)
	f.SetCodeSender(func(_ context.Context, _, _, code string) error { codes <- code; return nil })
	id, err := c.AddWABAPhoneNumber(ctx, "102290129340398", "40", "721000002", "Lucky Shrub")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RequestCode(ctx, id, graph.CodeMethodVoice, "en_US"); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyCode(ctx, id, <-codes); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, id, "123456"); err != nil {
		t.Fatalf("register: %v", err)
	}
	if _, err := c.AddWABAPhoneNumber(ctx, "102290129340398", "", "1", "x"); err == nil {
		t.Fatal("missing cc accepted")
	}
}
