package outbound

import (
	"io"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/metrics"
)

// The outbound consumer's EMF counters (namespace WaSenders, dimension Function=outbound). A
// counter followed by "_" and a reason or a Graph error class is written next to its total, so
// that an alarm watches the total and a person reads which reason or class moved it.
const (
	MetricSent         = "Sent"         // accepted by the Graph API
	MetricRefused      = "Refused"      // rejected for good (Refused_<reason>)
	MetricFailed       = "Failed"       // failed for good after Meta's answer (Failed_<reason>)
	MetricDeferred     = "Deferred"     // held until a later time (Deferred_<reason>)
	MetricDeadLettered = "DeadLettered" // the last receive failed: SQS moves it to the DLQ
	MetricGraphErrors  = "GraphErrors"  // a send the Graph API refused (GraphErrors_<class>)
	MetricBudgetWaits  = "BudgetWaits"  // deferred by the portfolio's messaging-limit budget
	MetricPacingWaits  = "PacingWaits"  // put back on the queue by pacing
	MetricRetries      = "Retries"      // handed back to SQS after a retryable failure
)

// MetricFunction is the Function dimension of the consumer's counters.
const MetricFunction = "outbound"

// sendMetrics counts outcomes across the consumer's work and writes them as one EMF line per
// invocation (flush). Counts of concurrent invocations of one process may share a line; none is
// lost or counted twice.
type sendMetrics struct {
	c    *metrics.Counters
	emit *metrics.Emitter
}

// newSendMetrics writes to w; nil discards (tests, tools).
func newSendMetrics(w io.Writer) *sendMetrics {
	return &sendMetrics{c: metrics.NewCounters(), emit: metrics.NewEmitter(w, MetricFunction)}
}

// recorded counts a record written with status and reason.
func (m *sendMetrics) recorded(status Status, reason string) {
	if m == nil {
		return
	}
	by := func(total string) {
		m.c.Inc(total)
		if reason != "" {
			m.c.Inc(total + "_" + reason)
		}
	}
	switch {
	case reason == ReasonDeadLettered:
		m.c.Inc(MetricDeadLettered)
	case status == StatusSent:
		m.c.Inc(MetricSent)
	case status == StatusRejected:
		by(MetricRefused)
	case status == StatusFailed:
		by(MetricFailed)
	case status == StatusDeferred:
		by(MetricDeferred)
		if reason == ReasonMessagingLimit {
			m.c.Inc(MetricBudgetWaits)
		}
	case status == StatusQueued && reason == ReasonPaced:
		m.c.Inc(MetricPacingWaits)
	case status == StatusQueued && reason != ReasonRequeued:
		m.c.Inc(MetricRetries)
	}
}

// graphError counts a send the Graph API refused, by class.
func (m *sendMetrics) graphError(class graph.Class) {
	if m == nil || class == graph.ClassNone {
		return
	}
	m.c.Inc(MetricGraphErrors)
	m.c.Inc(MetricGraphErrors + "_" + string(class))
}

// flush writes what was counted since the last flush as one EMF line and starts again.
func (m *sendMetrics) flush(at time.Time) error {
	if m == nil {
		return nil
	}
	snap := m.c.Take()
	return m.emit.FlushCounts(snap, at)
}
