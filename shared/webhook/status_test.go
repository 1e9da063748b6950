package webhook_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

func st(status string, at int64, code int, title string) whatsapp.Status {
	s := whatsapp.Status{ID: "wamid.S", Status: status, Timestamp: whatsapp.UnixTime(at)}
	if code != 0 {
		s.Errors = []whatsapp.ErrorInfo{{Code: whatsapp.FlexInt(code), Title: title}}
	}
	return s
}

var statusNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// TestMergeDelivery: what one status does to a record the outbound consumer wrote.
func TestMergeDelivery(t *testing.T) {
	t.Parallel()
	sent := outbound.Record{ID: "r", WAMID: "wamid.S", Status: outbound.StatusSent, Detail: "kept"}
	for _, tc := range []struct {
		name    string
		base    outbound.Record
		sts     []whatsapp.Status
		changed bool
		want    outbound.Record
	}{
		{"delivered over sent", sent, []whatsapp.Status{st("delivered", 100, 0, "")}, true,
			outbound.Record{ID: "r", WAMID: "wamid.S", Status: outbound.StatusDelivered, StatusAt: time.Unix(100, 0), Detail: "kept", UpdatedAt: statusNow}},
		{"Meta's sent timestamps the consumer's sent", sent, []whatsapp.Status{st("sent", 90, 0, "")}, true,
			outbound.Record{ID: "r", WAMID: "wamid.S", Status: outbound.StatusSent, StatusAt: time.Unix(90, 0), Detail: "kept", UpdatedAt: statusNow}},
		{"131047 over sent", sent, []whatsapp.Status{st("failed", 100, 131047, "Re-engagement message")}, true,
			outbound.Record{ID: "r", WAMID: "wamid.S", Status: outbound.StatusFailed, StatusAt: time.Unix(100, 0), ErrorCode: 131047,
				ErrorTitle: "Re-engagement message", Reason: webhook.ReasonWindowClosed, Detail: "kept", UpdatedAt: statusNow}},
		{"delivered after a 131026 clears it", sent, []whatsapp.Status{st("failed", 100, 131026, "x"), st("delivered", 90, 0, "")}, true,
			outbound.Record{ID: "r", WAMID: "wamid.S", Status: outbound.StatusDelivered, StatusAt: time.Unix(90, 0), Detail: "kept", UpdatedAt: statusNow}},
		{"a retry's reason is cleared by a delivery", outbound.Record{ID: "r", Status: outbound.StatusQueued, Reason: "transient", ErrorCode: 500},
			[]whatsapp.Status{st("delivered", 100, 0, "")}, true,
			outbound.Record{ID: "r", Status: outbound.StatusDelivered, StatusAt: time.Unix(100, 0), UpdatedAt: statusNow}},
		{"another wamid", sent, []whatsapp.Status{{ID: "wamid.OTHER", Status: "read", Timestamp: 100}}, false, sent},
		{"an unknown status", sent, []whatsapp.Status{st("deleted", 100, 0, "")}, false, sent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.base
			changed := false
			if d, ok := webhook.FoldStatuses(tc.sts, statusNow); ok {
				changed = webhook.MergeDelivery(&got, d)
			}
			if changed != tc.changed || !sameRecord(got, tc.want) {
				t.Fatalf("changed %v, record\n%+v\nwant\n%+v", changed, got, tc.want)
			}
		})
	}
}

func sameRecord(a, b outbound.Record) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestDeliveryAnyOrder: a record ends the same whether its statuses are folded into one write,
// merged one by one in any order, repeated, or absorbed into the document by a consumer write
// in between (the document then holds a status the webhook's attributes hold too).
func TestDeliveryAnyOrder(t *testing.T) {
	t.Parallel()
	pool := []whatsapp.Status{
		st("sent", 100, 0, ""), st("sent", 101, 0, ""), st("delivered", 120, 0, ""), st("read", 130, 0, ""),
		st("played", 140, 0, ""), st("failed", 110, 131026, "Message undeliverable"), st("failed", 115, 131047, "Re-engagement message"),
		st("failed", 112, 131000, "Something went wrong"), st("failed", 112, 131000, "Other title"),
	}
	base := outbound.Record{ID: "r", WAMID: "wamid.S", Status: outbound.StatusSent, UpdatedAt: statusNow.Add(-time.Minute)}
	rng := rand.New(rand.NewPCG(7, 11))
	for round := 0; round < 500; round++ {
		var set []whatsapp.Status
		for _, s := range pool {
			if rng.IntN(2) == 0 {
				set = append(set, s)
			}
		}
		if len(set) == 0 {
			continue
		}
		folded := base
		d, _ := webhook.FoldStatuses(set, statusNow)
		webhook.MergeDelivery(&folded, d)

		oneByOne := base
		attrs := webhook.DeliveryStatus{} // what the store's status attributes hold
		for _, i := range rng.Perm(len(set)) {
			x, _ := webhook.FoldStatuses([]whatsapp.Status{set[i]}, statusNow)
			if x.Key > attrs.Key {
				attrs = x
			}
			if rng.IntN(3) == 0 { // a consumer write absorbs the merged record into the document
				webhook.MergeDelivery(&oneByOne, attrs)
			}
		}
		webhook.MergeDelivery(&oneByOne, attrs)
		if !sameRecord(folded, oneByOne) {
			t.Fatalf("statuses %+v:\nfolded     %+v\none by one %+v", set, folded, oneByOne)
		}
	}
}
