package twilio_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/carrier/twilio"
	"github.com/aloro/wa-senders/shared/carrierfake"
)

func setup(t *testing.T) (*twilio.Client, *carrierfake.Fake) {
	t.Helper()
	fake := carrierfake.New(carrierfake.Options{})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return twilio.New(twilio.Options{BaseURL: srv.URL, AccountSID: fake.AccountSID(), AuthToken: fake.AuthToken()}), fake
}

func TestBrowseBuyFindRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, fake := setup(t)
	list, err := c.Available(ctx, "RO", carrier.KindMobile, 10)
	if err != nil || len(list) == 0 {
		t.Fatalf("available: %v, %d numbers", err, len(list))
	}
	n := list[0]
	if !n.Capabilities.SMS || !n.Capabilities.Voice || n.Country != "RO" || n.E164[0] != '+' {
		t.Fatalf("available number: %+v", n)
	}
	hooks := carrier.Hooks{SMSURL: "https://x.example/carrier/sms", VoiceURL: "https://x.example/carrier/voice"}
	owned, err := c.Buy(ctx, n.E164, hooks, "pool")
	if err != nil || owned.SID == "" || owned.E164 != n.E164 {
		t.Fatalf("buy: %+v %v", owned, err)
	}
	if p := fake.Purchases(); len(p) != 1 || p[0].Hooks != hooks {
		t.Fatalf("purchases: %+v", p)
	}
	// Bought numbers leave the stock; buying again is Twilio's 21422, a definite refusal.
	_, err = c.Buy(ctx, n.E164, hooks, "pool")
	var ce *carrier.Error
	if !errors.As(err, &ce) || ce.Code != 21422 || !carrier.IsDefinite(err) {
		t.Fatalf("second buy: %v", err)
	}
	if got, err := c.Find(ctx, n.E164); err != nil || got.SID != owned.SID {
		t.Fatalf("find: %+v %v", got, err)
	}
	if err := c.Release(ctx, owned.SID); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := c.Release(ctx, owned.SID); err != nil {
		t.Fatalf("release twice must be quiet: %v", err)
	}
	if _, err := c.Find(ctx, n.E164); !errors.Is(err, carrier.ErrNotOwned) {
		t.Fatalf("find after release: %v", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, fake := setup(t)
	bad := twilio.New(twilio.Options{BaseURL: "http://127.0.0.1:1", AccountSID: "AC1", AuthToken: "x"})
	var te *twilio.TransportError
	if _, err := bad.Available(ctx, "RO", carrier.KindMobile, 5); !errors.As(err, &te) || carrier.IsDefinite(err) {
		t.Fatalf("transport: %v", err)
	}
	if _, err := twilio.New(twilio.Options{}).Available(ctx, "RO", carrier.KindMobile, 5); !errors.Is(err, twilio.ErrNoCredentials) {
		t.Fatalf("no credentials: %v", err)
	}
	fake.AddFault(carrierfake.Fault{Op: "buy", Status: 500, Code: 20500})
	_, err := c.Buy(ctx, "+40721000001", carrier.Hooks{}, "")
	var ce *carrier.Error
	if !errors.As(err, &ce) || ce.HTTPStatus != 500 || carrier.IsDefinite(err) {
		t.Fatalf("500: %v", err)
	}
	if _, err := c.Available(ctx, "XX", carrier.KindMobile, 5); err == nil {
		t.Fatal("bad country accepted")
	}
	// Wrong token: 401 / 20003.
	srvURL := fakeURL(t, fake)
	wrong := twilio.New(twilio.Options{BaseURL: srvURL, AccountSID: fake.AccountSID(), AuthToken: "nope"})
	if _, err := wrong.Available(ctx, "RO", carrier.KindMobile, 5); !errors.As(err, &ce) || ce.Code != 20003 {
		t.Fatalf("401: %v", err)
	}
}

func fakeURL(t *testing.T, f *carrierfake.Fake) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}
