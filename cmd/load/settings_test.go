package main

import (
	"testing"

	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/stack"
)

// TestBoundsMatchTemplate ties the bounds the report divides by to template.yaml's event source
// and to the configured default throughput.
func TestBoundsMatchTemplate(t *testing.T) {
	tmpl, err := stack.LoadRepo(".", stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn := tmpl.Function("OutboundFunction")
	if fn == nil || len(fn.Events) == 0 {
		t.Fatal("template.yaml has no OutboundFunction event")
	}
	ev := fn.Events[0]
	// MaximumConcurrency no longer enters the bounds: consumers share each sender's rate through
	// the table (shared/app ties it to the consumer's settings).
	if ev.BatchSize != pollerBatch {
		t.Errorf("template.yaml: BatchSize %d; the report assumes %d", ev.BatchSize, pollerBatch)
	}
	if config.DefaultThroughput != defaultThroughput {
		t.Errorf("config.DefaultThroughput = %d, the report assumes %d", config.DefaultThroughput, defaultThroughput)
	}
}
