package outbound_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
)

// holdsDown is the real store with its state reads and conversation holds failing (a
// throttled partition); plain record writes still work.
type holdsDown struct{ outbound.Store }

func (holdsDown) ReadState(context.Context, outbound.StateQuery) (outbound.State, error) {
	return outbound.State{}, errors.New("throttled")
}

func (holdsDown) UpdateHold(context.Context, string, persist.Update[outbound.Hold]) error {
	return errors.New("throttled")
}

// TestLastReceiveStoreFailureRecordsDeadLetter: a message whose processing fails on the table
// on its last receive cannot be parked either; it goes to the DLQ and its record says so.
func TestLastReceiveStoreFailureRecordsDeadLetter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *outbound.Options) { o.Store = holdsDown{o.Store} })
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	d := h.delivery(textReq("req", snd, to))
	d.ReceiveCount = 8
	if !h.handle(d)[d.MessageID] {
		t.Fatal("acknowledged although nothing could be written")
	}
	rec := h.record("req")
	if rec.Reason != outbound.ReasonDeadLettered {
		t.Errorf("record %s/%s, want %s", rec.Status, rec.Reason, outbound.ReasonDeadLettered)
	}
	if len(h.sendsFrom(snd.ID)) != 0 {
		t.Error("sent although the state could not be read")
	}
}

// TestPacedOnLastReceiveIsParked: a message held back by pacing on its last receive is parked
// in the table, not dead-lettered.
func TestPacedOnLastReceiveIsParked(t *testing.T) {
	t.Parallel()
	p := outbound.NewPacer()
	h := newHarness(t, func(o *outbound.Options) { o.Pacer = p })
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	// Exhaust the pair's burst so the next send must wait longer than an invocation sleeps.
	for range outbound.PairBurst + 1 {
		p.Reserve(h.clock.Now(), snd.ID, "tel:"+to, 80, time.Hour)
	}
	d := h.delivery(textReq("req", snd, to))
	d.ReceiveCount = 8
	if h.handle(d)[d.MessageID] {
		t.Fatal("a paced message on its last receive was handed back to SQS (next stop: the DLQ)")
	}
	if rec := h.record("req"); rec.Status != outbound.StatusDeferred || rec.Reason != outbound.ReasonPaced {
		t.Errorf("record %s/%s, want deferred/paced", rec.Status, rec.Reason)
	}
}
