package graphfake_test

import (
	"context"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
)

// TestClientProfileAndName: business profile, display-name request and the one-read
// observation, client against fake.
func TestClientProfileAndName(t *testing.T) {
	t.Parallel()
	f, c := newPair(t, graphfake.Options{}, 2*time.Second)
	ctx := context.Background()
	const id = "300"
	f.SetPhoneNumber(id, graphfake.PhoneNumberState{Status: "CONNECTED", QualityRating: "GREEN", MessagingLimit: "TIER_2K"})

	about, site := "Tyres", []string{"https://acme.example"}
	if err := c.UpdateBusinessProfile(ctx, id, graph.BusinessProfileUpdate{About: &about, Websites: &site}); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetBusinessProfile(ctx, id)
	if err != nil || p.About != "Tyres" || len(p.Websites) != 1 {
		t.Fatalf("profile = %+v, %v", p, err)
	}
	bad := "SPACESHIPS"
	if err := c.UpdateBusinessProfile(ctx, id, graph.BusinessProfileUpdate{Vertical: &bad}); graph.Code(err) != graph.CodeInvalidParam {
		t.Fatalf("bad vertical = %v, want Meta's 100", err)
	}

	if err := c.RequestDisplayName(ctx, id, "Acme Tyres"); err != nil {
		t.Fatal(err)
	}
	if f.DisplayNameRequest(id) != "Acme Tyres" {
		t.Fatalf("fake got %q", f.DisplayNameRequest(id))
	}
	pn, h, err := c.GetPhoneNumberWithHealth(ctx, id)
	if err != nil || pn.NameStatus != "PENDING_REVIEW" || pn.QualityRating != "GREEN" || h == nil || h.CanSendMessage != graph.CanSendAvailable {
		t.Fatalf("observation = %+v %+v, %v", pn, h, err)
	}
	var reads int
	for _, q := range f.Requests() {
		if q.Method == "GET" && q.PhoneNumberID == id && q.Edge == "" {
			reads++
		}
	}
	if reads != 1 {
		t.Errorf("%d reads for one observation", reads)
	}
}
