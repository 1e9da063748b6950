package outbound_test

import (
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// statusArrives applies a status webhook the way the webhook does: correlated by
// biz_opaque_callback_data (the request id), the wamid being unknown to the record.
func (h *harness) statusArrives(id, status string) {
	h.t.Helper()
	st := whatsapp.Status{ID: "wamid.from-webhook-" + id, Status: status, BizOpaqueCallbackData: id,
		Timestamp: whatsapp.UnixTime(h.clock.Now().Unix())}
	d, _ := webhook.FoldStatuses([]whatsapp.Status{st}, h.clock.Now())
	if _, err := h.st.ApplyDeliveryStatus(h.ctx, id, d); err != nil {
		h.t.Fatal(err)
	}
}

// redeliver is SQS handing the same message back (one more receive).
func redeliver(d outbound.Delivery) outbound.Delivery {
	d.ReceiveCount++
	return d
}

// TestLostAnswerSendsOnce: Meta accepts a send and the answer is lost. The request is not sent
// again while a status webhook may still come, and not at all once one came; only when none
// arrived within the bound is it sent again.
func TestLostAnswerSendsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    string        // status webhook arriving after the lost answer ("" = none)
		wait      time.Duration // time before the redelivery
		sends     int
		failed    bool
		recStatus outbound.Status
	}{
		{name: "sent status arrives", status: "sent", wait: 10 * time.Second, sends: 1, recStatus: outbound.StatusSent},
		{name: "delivered status arrives late in the bound", status: "delivered", wait: outbound.DefaultAnswerWait - time.Second, sends: 1, recStatus: outbound.StatusDelivered},
		{name: "failed status arrives", status: "failed", wait: time.Minute, sends: 1, recStatus: outbound.StatusFailed},
		{name: "redelivered early, no status yet", wait: 30 * time.Second, sends: 1, failed: true, recStatus: outbound.StatusSending},
		{name: "no status within the bound: sent again", wait: outbound.DefaultAnswerWait, sends: 2, recStatus: outbound.StatusSent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			snd := h.newSender(nil)
			to := h.recipient()
			h.openWindow(snd, customer.Ref{Phone: to})
			h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: snd.ID, LoseAnswer: true})

			d, failed := h.send(textReq("req", snd, to))
			if !failed {
				t.Fatal("a lost answer was acknowledged")
			}
			if rec := h.record("req"); rec.Status != outbound.StatusSending || rec.Reason != outbound.ReasonAnswerLost {
				t.Fatalf("after the lost answer: record %s/%s, want sending/answer_lost", rec.Status, rec.Reason)
			}
			if got, _ := h.vis.delayOf(d.ReceiptHandle); got != outbound.AnswerPoll {
				t.Errorf("redelivery delay %v, want the first answer poll %v", got, outbound.AnswerPoll)
			}
			if tc.status != "" {
				h.statusArrives("req", tc.status)
			}
			h.clock.Advance(tc.wait)
			d2 := redeliver(d)
			if got := h.handle(d2)[d2.MessageID]; got != tc.failed {
				t.Errorf("redelivery failed = %v, want %v", got, tc.failed)
			}
			if n := len(h.sendsFrom(snd.ID)); n != tc.sends {
				t.Errorf("Meta got %d sends, want %d", n, tc.sends)
			}
			if rec := h.record("req"); rec.Status != tc.recStatus {
				t.Errorf("record %s/%s, want %s", rec.Status, rec.Reason, tc.recStatus)
			}
			if tc.failed {
				if got, _ := h.vis.delayOf(d2.ReceiptHandle); got != 2*outbound.AnswerPoll {
					t.Errorf("early redelivery delay %v, want the second answer poll %v", got, 2*outbound.AnswerPoll)
				}
			}
		})
	}
}

// TestCrashAfterSendingRecorded: the process died between recording the attempt and writing
// its outcome (the call may or may not have reached Meta): the redelivery does not send.
func TestCrashAfterSendingRecorded(t *testing.T) {
	t.Parallel()
	h := newStackHarness(t)
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	req := textReq("req", snd, to)
	if _, err := h.st.UpdateRecord(h.ctx, "req", func(*outbound.Record) (*outbound.Record, error) {
		return &outbound.Record{Status: outbound.StatusSending, SendingAt: h.clock.Now(), Request: &req, Attempts: 1,
			CreatedAt: h.clock.Now()}, nil
	}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5 * time.Second)
	if _, failed := h.send(req); !failed {
		t.Error("redelivery of an attempt in flight was acknowledged")
	}
	if n := h.callsFrom(snd.ID); n != 0 {
		t.Errorf("Meta got %d calls during the answer wait, want 0", n)
	}
}
