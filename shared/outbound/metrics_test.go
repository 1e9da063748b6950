package outbound_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/sender"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestOutboundMetricsPerInvocation: one invocation that sends one message and meets an expired
// token writes one EMF line with the send, the Graph error by class and the deferral by reason,
// which the template's alarms watch; the next invocation starts from zero.
func TestOutboundMetricsPerInvocation(t *testing.T) {
	var out lockedBuffer
	h := newHarness(t, func(o *outbound.Options) { o.Metrics = &out })
	// Two businesses: the 190 pauses only the second one's sends, so the first one's send does
	// not depend on which group of the batch runs first.
	snd := h.newSender(func(s *sender.Sender) { s.BusinessID = "metrics-biz-ok" })
	bad := h.newSender(func(s *sender.Sender) { s.BusinessID = "metrics-biz-190" })
	okTo, badTo := h.recipient(), h.recipient()
	h.openWindow(snd, customer.Ref{Phone: okTo})
	h.openWindow(bad, customer.Ref{Phone: badTo})
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: bad.ID, Recipient: badTo, ErrorCode: 190})

	event := func(ds ...outbound.Delivery) events.SQSEvent {
		var ev events.SQSEvent
		for _, d := range ds {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: d.MessageID, ReceiptHandle: d.ReceiptHandle, Body: d.Body,
				Attributes: map[string]string{"ApproximateReceiveCount": "1", "MessageGroupId": d.GroupID}})
		}
		return ev
	}
	if _, err := h.c.HandleEvent(h.ctx, event(h.delivery(textReq("m-ok", snd, okTo)), h.delivery(textReq("m-190", bad, badTo)))); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.b.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one EMF line per invocation, got %d:\n%s", len(lines), out.b.String())
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &doc); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		outbound.MetricSent: 1, outbound.MetricGraphErrors: 1, outbound.MetricGraphErrors + "_token_invalid": 1,
		outbound.MetricDeferred: 1, outbound.MetricDeferred + "_" + outbound.ReasonTokenInvalid: 1,
	} {
		if got, _ := doc[name].(float64); got != want {
			t.Errorf("%s = %v, want %v (line %s)", name, doc[name], want, lines[0])
		}
	}
	if doc["Function"] != outbound.MetricFunction {
		t.Errorf("Function = %v", doc["Function"])
	}

	// An invocation with nothing to count writes nothing: the counters were taken.
	out.b.Reset()
	if _, err := h.c.HandleEvent(h.ctx, events.SQSEvent{}); err != nil {
		t.Fatal(err)
	}
	if out.b.Len() != 0 {
		t.Errorf("empty invocation wrote %q", out.b.String())
	}
}
