package outbound

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/graph"
)

func TestSendMetricsNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status Status
		reason string
		want   map[string]int64
	}{
		{"sent", StatusSent, "", map[string]int64{MetricSent: 1}},
		{"refused by reason", StatusRejected, ReasonOptedOut, map[string]int64{MetricRefused: 1, MetricRefused + "_opted_out": 1}},
		{"budget wait", StatusDeferred, ReasonMessagingLimit, map[string]int64{MetricDeferred: 1, MetricDeferred + "_messaging_limit": 1, MetricBudgetWaits: 1}},
		{"pacing wait", StatusQueued, ReasonPaced, map[string]int64{MetricPacingWaits: 1}},
		{"dead-lettered", StatusQueued, ReasonDeadLettered, map[string]int64{MetricDeadLettered: 1}},
		{"retry", StatusQueued, "transient", map[string]int64{MetricRetries: 1}},
		{"requeued is not a retry", StatusQueued, ReasonRequeued, map[string]int64{}},
		{"failed", StatusFailed, "invalid_param", map[string]int64{MetricFailed: 1, MetricFailed + "_invalid_param": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newSendMetrics(nil)
			m.recorded(tc.status, tc.reason)
			if diff := cmp.Diff(tc.want, m.c.Take()); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
	m := newSendMetrics(nil)
	m.graphError(graph.ClassNone)
	m.graphError(graph.ClassThroughput)
	if diff := cmp.Diff(map[string]int64{MetricGraphErrors: 1, MetricGraphErrors + "_throughput": 1}, m.c.Take()); diff != "" {
		t.Errorf("graph errors (-want +got):\n%s", diff)
	}
}
