package app

import (
	"testing"

	"github.com/aloro/wa-senders/shared/stack"
)

// TestOutboundSettingsMatchTemplate ties the consumer's pacing and retry maths to the settings
// they model, which live in template.yaml (and, through the drift test, in infra/stack.go).
func TestOutboundSettingsMatchTemplate(t *testing.T) {
	t.Parallel()
	tmpl, err := stack.LoadRepo(".", stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn := tmpl.Function("OutboundFunction")
	if fn == nil {
		t.Fatal("template.yaml has no OutboundFunction")
	}
	var ev *stack.Event
	for i := range fn.Events {
		if fn.Events[i].Type == "SQS" && fn.Events[i].Queue == "OutboundQueue" {
			ev = &fn.Events[i]
		}
	}
	if ev == nil {
		t.Fatal("OutboundFunction has no SQS event on OutboundQueue")
	}
	if ev.MaximumConcurrency != outboundMaxConcurrency {
		t.Errorf("template.yaml's MaximumConcurrency is %d, the consumer paces for %d instances (outboundMaxConcurrency)",
			ev.MaximumConcurrency, outboundMaxConcurrency)
	}
	q := tmpl.Queue("OutboundQueue")
	if q == nil || q.MaxReceiveCount != outboundMaxReceiveCount {
		t.Errorf("template.yaml's OutboundQueue maxReceiveCount is %v, the consumer counts to %d (outboundMaxReceiveCount)",
			q, outboundMaxReceiveCount)
	}
}
