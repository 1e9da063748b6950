package main

import (
	"fmt"
	"time"
)

// memoryBudgetKB is each function's memory target: 128 MB.
const memoryBudgetKB = 128 * 1024

func (r *runner) fillFigures(rep *report, cpu time.Duration, cpuErr error) {
	wl := r.m.webhookLatency.summary()
	sl := r.m.sendLatency.summary()
	f := &rep.Figures
	f.Prefix, f.Seed = r.p.prefix, r.o.Seed
	f.Posts = r.m.webhookAccepted.Load()
	f.Attempts = r.m.webhookAttempts.Load()
	f.Messages = r.p.uniqueMessages()
	f.TrafficSeconds = r.trafficTime.Seconds()
	f.PostsPerSecond = rate(r.postsDone.Load(), r.trafficTime)
	f.MessagesPerSecond = rate(r.m.webhookMessages.Load(), r.trafficTime)
	f.WebhookP50ms = wl.P50.Seconds() * 1000
	f.WebhookP99ms = wl.P99.Seconds() * 1000
	f.Enqueued = r.m.enqueued.Load()
	f.SendP50ms = sl.P50.Seconds() * 1000
	f.SendP99ms = sl.P99.Seconds() * 1000
	f.Errors = r.m.webhookAttempts.Load() - r.m.webhookAnswers.get("200") + r.m.enqueueErrors.total()
	r.sendsMu.Lock()
	var first, last time.Time
	for _, ss := range r.sendsBy {
		f.Sends += len(ss)
		for _, s := range ss {
			if first.IsZero() || s.Time.Before(first) {
				first = s.Time
			}
			if s.Time.After(last) {
				last = s.Time
			}
		}
	}
	r.sendsMu.Unlock()
	if f.Sends > 1 {
		f.SendSpanSeconds = last.Sub(first).Seconds()
		if f.SendSpanSeconds > 0 {
			f.SendsPerSecondSpan = float64(f.Sends-1) / f.SendSpanSeconds
		}
	}
	f.SendLatencyMs = r.o.SendLatency.Seconds() * 1000
	if r.o.SendLatency > 0 {
		// One poller, batches of ten: if the only cost were the fake's answer time and every
		// message of a batch were in flight at once, sends/s would be 10 / latency.
		f.LatencyBound = pollerBatch / r.o.SendLatency.Seconds()
	}
	// The consumers share each sender's throughput (80/s) through the table, so even one
	// poller may send at the whole rate.
	f.PacingBound = float64(len(r.p.trafficSenders())) * defaultThroughput
	if bound := minPositive(f.LatencyBound, f.PacingBound); bound > 0 {
		f.ConsumerRatio = f.SendsPerSecondSpan / bound
	}
	if span := r.trafficTime + r.drainTime; span > 0 {
		f.SendsPerSecond = float64(f.Sends) / span.Seconds()
	}
	f.BackendPeakRSSKB = r.peakRSSKB
	if r.memErr != nil || r.peakRSSKB == 0 {
		f.BackendPeakRSSKB, f.BackendRSSNotMeasured = 0, notMeasured(r.memErr)
	}
	switch {
	case cpuErr != nil:
		f.BackendCPUNotMeasured = notMeasured(cpuErr)
	case cpu <= 0:
		// A live process that served thousands of requests used CPU; zero means a wrong pid.
		f.BackendCPUNotMeasured = "the backend process used no CPU time: not the process that served the run"
	default:
		f.BackendCPUSeconds = cpu.Seconds()
		if n := r.m.webhookMessages.Load(); n > 0 {
			f.CPUPerMessageMicro = float64(cpu.Microseconds()) / float64(n)
		}
	}
	if fl := r.floors; fl.DecodeCPUPerMessage > 0 {
		f.FloorDecodeMicro = float64(fl.DecodeCPUPerMessage.Nanoseconds()) / 1000
		if f.CPUPerMessageMicro > 0 {
			f.CPURatio = f.CPUPerMessageMicro / f.FloorDecodeMicro
		}
		f.FloorDDBWrites = fl.DDBWritesPerSecond
		if fl.DDBWritesPerSecond > 0 {
			f.ThroughputRatio = f.MessagesPerSecond / fl.DDBWritesPerSecond
		}
	}
	f.Lost, f.Duplicated = rep.Lost, rep.Duplicated
	f.Wrong, f.FaultFailures = rep.Wrong, rep.FaultFailures
}

// The outbound event source's settings (template.yaml, shared/app/outbound.go) and the
// default per-sender throughput (shared/config); TestBoundsMatchTemplate ties them.
const (
	pollerBatch       = 10 // BatchSize
	defaultThroughput = 80 // SENDER_THROUGHPUT_PER_SECOND
)

// notMeasured words why a figure is missing.
func notMeasured(err error) string {
	if err == nil {
		return "no reading"
	}
	return err.Error()
}

func minPositive(a, b float64) float64 {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

func (r *runner) print(rep *report) {
	c := r.counts
	f := rep.Figures
	out := r.out
	fmt.Fprintf(out, "\n== results (run %s, seed %d)\n", f.Prefix, f.Seed)
	fmt.Fprintf(out, "webhook:  %d POSTs accepted (%d attempts) in %.1fs: %.1f POSTs/s, %.1f messages/s; latency %s\n",
		f.Posts, f.Attempts, f.TrafficSeconds, f.PostsPerSecond, f.MessagesPerSecond, r.m.webhookLatency.summary())
	fmt.Fprintf(out, "          answers: %s; gave up: %d\n", r.m.webhookAnswers.String(), r.m.webhookGaveUp.Load())
	fmt.Fprintf(out, "outbound: %d requests enqueued (enqueue latency %s; errors %s); %d sends in %.1fs of traffic + %.1fs of drain (%.1f sends/s)\n",
		f.Enqueued, r.m.enqueueLatency.summary(), r.m.enqueueErrors.String(), f.Sends, r.trafficTime.Seconds(), r.drainTime.Seconds(), f.SendsPerSecond)
	fmt.Fprintf(out, "          enqueue → Graph API send latency %s; first to last send %.1fs (%.1f sends/s; bounds: fake latency %s → %.0f sends/s, pacing %d senders × 80/s → %.0f sends/s)\n",
		r.m.sendLatency.summary(), f.SendSpanSeconds, f.SendsPerSecondSpan, r.o.SendLatency, f.LatencyBound, len(r.p.trafficSenders()), f.PacingBound)
	if f.FloorDecodeMicro > 0 {
		fmt.Fprintf(out, "ratios:   webhook CPU per message / (HMAC + map decode) = %.1f; webhook messages/s / raw DynamoDB Local conditional writes/s = %.2f; sends/s / min(bounds) = %.2f\n",
			f.CPURatio, f.ThroughputRatio, f.ConsumerRatio)
	}
	if f.BackendRSSNotMeasured != "" {
		fmt.Fprintf(out, "memory:   backend peak RSS not measured (%s)\n", f.BackendRSSNotMeasured)
	} else {
		verdict := "within"
		if f.BackendPeakRSSKB > memoryBudgetKB {
			verdict = "OVER"
		}
		fmt.Fprintf(out, "memory:   backend (all four functions in one localrun process) peak RSS %.1f MB (VmHWM), %s the 128 MB budget of each function\n",
			float64(f.BackendPeakRSSKB)/1024, verdict)
	}
	if f.BackendCPUNotMeasured != "" {
		fmt.Fprintf(out, "cpu:      backend CPU not measured (%s)\n", f.BackendCPUNotMeasured)
	} else {
		fmt.Fprintf(out, "cpu:      backend %.2fs of CPU for the run (%.0f µs per inbound message delivered, everything included)\n",
			f.BackendCPUSeconds, f.CPUPerMessageMicro)
	}
	fmt.Fprintf(out, "checks:   inbound: %d/%d unique messages forwarded (%d missing, %d extra copies, %d queue messages without a wamid)\n",
		c.inboundSeen, c.inboundUnique, c.inboundMissing, c.inboundCopies, c.inboundStray)
	fmt.Fprintf(out, "          windows: %d/%d right\n", c.windows-c.windowsWrong, c.windows)
	fmt.Fprintf(out, "          outbound: %d requests, %d terminal (%d sent, %d rejected, %d failed), %d in the DLQ; %d modes wrong, %d statuses wrong, %d sent records the Graph API never saw, %d extra sends\n",
		c.requests, c.terminal, c.sentOK, c.rejected, c.failed, c.inDLQ, c.modeWrong, c.statusWrong, c.sendsMissing, c.sendCopies)
	fmt.Fprintf(out, "          delivery statuses: %d/%d records at the newest status posted\n", c.statusChecked-c.statusRegressed, c.statusChecked)
	fmt.Fprintf(out, "          messaging limits: %d/%d at the newest event's tier; account sender suspended then reinstated: %v\n",
		c.limits-c.limitsWrong, c.limits, c.accountOK)
	for _, fr := range r.faults {
		fmt.Fprintf(out, "fault %s: %s\n", fr.name, faultCatalogue[fr.name])
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(out, "problems (%d wrong end states, %d fault check failures):\n", rep.Wrong, rep.FaultFailures)
		for _, p := range rep.Problems {
			fmt.Fprintf(out, "  - %s\n", p)
		}
	}
	fmt.Fprintf(out, "errors: %d (webhook attempts not answered 200, enqueue retries)\n", f.Errors)
}
