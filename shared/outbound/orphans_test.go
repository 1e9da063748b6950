package outbound_test

import (
	"testing"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/outbound/outboundtest"
	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/testenv"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// TestStatusesThatOvertookTheSend: statuses the webhook kept for a wamid before the send was
// recorded are applied right after it; an early failed 131047 closes the window and enqueues
// the request's template as its own request, once.
func TestStatusesThatOvertookTheSend(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	sq := testenv.SQS(t)
	outboundURL, _, _ := testenv.Queues(t, sq)
	h := newHarness(t, func(o *outbound.Options) {
		o.Queue, o.QueueURL = queue.New(sq), outboundURL
	})
	// The store is the webhook's too: it keeps orphan statuses and applies them.
	c, err := outbound.NewConsumer(withOrphans(h))
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	snd := h.newSender(nil)

	answer := func(wamid string) graphfake.Script {
		return graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: snd.ID,
			Body: `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"` + wamid + `"}]}`}
	}
	keep := func(wamid, status string, code int) {
		t.Helper()
		st := whatsapp.Status{ID: wamid, Status: status, Timestamp: whatsapp.UnixTime(h.clock.Now().Unix())}
		if code != 0 {
			st.Errors = []whatsapp.ErrorInfo{{Code: whatsapp.FlexInt(code), Title: "Re-engagement message"}}
		}
		if err := h.st.PutOrphanStatus(h.ctx, webhook.OrphanStatus{PhoneNumberID: snd.ID, WABAID: snd.WABAID, Status: st}); err != nil {
			t.Fatal(err)
		}
	}

	// delivered before the send was recorded.
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	keep("wamid.EARLY1", "delivered", 0)
	h.script(answer("wamid.EARLY1"))
	h.send(textReq("early-delivered", snd, to))
	if r := h.record("early-delivered"); r.Status != outbound.StatusDelivered || r.WAMID != "wamid.EARLY1" || r.Mode != outbound.ModeFreeform {
		t.Fatalf("record %+v", r)
	}

	// failed 131047 before the send was recorded.
	to2 := h.recipient()
	ref2 := customer.Ref{Phone: to2}
	h.openWindow(snd, ref2)
	keep("wamid.EARLY2", "failed", 131047)
	h.script(answer("wamid.EARLY2"))
	req := textReq("early-131047", snd, to2)
	req.Template = templateReq("", snd, to2, outbound.CategoryUtility).Template
	h.send(req)
	r := h.record("early-131047")
	if r.Status != outbound.StatusFailed || r.ErrorCode != 131047 || r.FallbackID != "early-131047:t" {
		t.Fatalf("record %+v", r)
	}
	windowClosed(t, h, snd, ref2)
	if _, err := outboundtest.Drain(h.ctx, sq, outboundURL, h.c.HandleEvent, 3); err != nil {
		t.Fatal(err)
	}
	fb := h.record("early-131047:t")
	if fb.Status != outbound.StatusSent || fb.Mode != outbound.ModeTemplate {
		t.Fatalf("fallback record %+v", fb)
	}
}

func withOrphans(h *harness) outbound.Options {
	o := h.opts
	o.Orphans = h.st
	return o
}
