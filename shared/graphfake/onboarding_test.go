package graphfake_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
)

// TestEmbeddedSignup: a code exchanges once (then Meta's OAuth error), debug_token tells what
// the token grants, the token reaches its own business's assets only (Meta's #200 elsewhere),
// subscribed_apps and phone_numbers answer for its WABA, and every send records whose token.
func TestEmbeddedSignup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, c := newPair(t, graphfake.Options{}, 0)
	code := f.AddBusiness(graphfake.Business{ID: "11", WABAID: "21", PhoneNumberIDs: []string{"31"}, VerifiedName: "Eleven"})
	f.AddBusiness(graphfake.Business{ID: "12", WABAID: "22", PhoneNumberIDs: []string{"32"}})
	app, secret := graphfake.DefaultAppID, graphfake.DefaultAppSecret

	if _, err := c.ExchangeCode(ctx, app, "wrong-secret", code); graph.Code(err) != 101 {
		t.Errorf("exchange with a wrong app secret: %v", err)
	}
	tok, err := c.ExchangeCode(ctx, app, secret, code)
	if err != nil || tok == "" {
		t.Fatalf("exchange: %q %v", tok, err)
	}
	if _, err := c.ExchangeCode(ctx, app, secret, code); graph.Code(err) != graph.CodeInvalidParam {
		t.Errorf("second exchange of the code: %v, want Meta's code 100", err)
	}

	info, err := c.DebugToken(ctx, app, secret, tok)
	if err != nil || !info.Valid || info.AppID != app || !info.Grants(graph.ScopeManagement, "21") || info.Grants(graph.ScopeManagement, "22") {
		t.Errorf("debug_token: %+v %v", info, err)
	}
	if info, _ := c.DebugToken(ctx, app, secret, "not-a-token"); info.Valid {
		t.Error("debug_token says an unknown token is valid")
	}

	bctx := graph.WithToken(ctx, tok)
	if owner, err := c.WABAOwner(bctx, "21"); err != nil || owner != "11" {
		t.Errorf("owner: %q %v", owner, err)
	}
	if list, err := c.ListPhoneNumbers(bctx, "21"); err != nil || len(list) != 1 || list[0].ID != "31" || list[0].Status != "PENDING" {
		t.Errorf("phone numbers: %+v %v", list, err)
	}
	if err := c.SubscribeApp(bctx, "21"); err != nil || !f.Subscribed("21") {
		t.Errorf("subscribe: %v", err)
	}
	var ge *graph.Error
	for _, node := range []string{"22", "32"} {
		_, err := c.GetPhoneNumber(bctx, node)
		if graph.Code(err) != 200 || !errors.As(err, &ge) || ge.HTTPStatus != http.StatusForbidden {
			t.Errorf("business token on another business's %s: %v, want Meta's (#200) permission error", node, err)
		}
	}
	if err := c.Register(bctx, "31", "123456"); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(bctx, "31", "654321"); !graph.IsWrongPIN(err) {
		t.Errorf("register with another PIN: %v, want 133005", err)
	}
	if err := c.SetPIN(bctx, "31", "654321"); err != nil || f.PIN("31") != "654321" {
		t.Errorf("set pin: %v", err)
	}
	if _, err := c.SendMessage(bctx, "31", hello); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, "40", hello); err != nil { // the platform token reaches everything
		t.Fatal(err)
	}
	s := f.Sends()
	if len(s) != 2 || s[0].TokenOwner != "11" || s[0].TokenFingerprint != graphfake.TokenFingerprint(tok) || s[1].TokenOwner != graphfake.PlatformOwner {
		t.Errorf("sends record their tokens wrongly: %+v", s)
	}
	f.RevokeBusinessTokens("11")
	if _, err := c.SendMessage(bctx, "31", hello); !graph.IsTokenInvalid(err) {
		t.Errorf("send with a revoked token: %v, want 190", err)
	}
	for _, r := range f.Requests() {
		if len(r.Query) > 0 && (strings.Contains(r.Query, secret) || strings.Contains(r.Query, tok)) {
			t.Errorf("a recorded query holds a secret: %s", r.Path)
		}
	}
}
