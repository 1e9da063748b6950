package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/store"
)

// options bound and shape a run.
type options struct {
	sizes
	WebhookRate    float64       // POSTs per second; 0 = as fast as the workers go
	OutboundRate   float64       // requests enqueued per second; 0 = as fast as possible
	Workers        int           // concurrent webhook deliveries
	RequestTimeout time.Duration // one HTTP attempt
	RetryFor       time.Duration // how long a POST or an enqueue is retried (Meta: 7 days)
	DrainTimeout   time.Duration // how long the outbound pipeline may take to finish after traffic
	SendLatency    time.Duration // the Graph API fake's answer time
	Faults         []string
	FaultFor       time.Duration
	// GraphDown is how long the graph-down scenario keeps the Graph API down.
	GraphDown time.Duration
	// AnswerWait is the in-process consumer's wait for the status of a send whose answer was
	// lost (0: the consumer's default).
	AnswerWait time.Duration
	Selftest   string // "drop": delete one record behind the harness's back
	Seed       uint64
	Prefix     string
	Progress   time.Duration
	// GraphTimeout is the backend's Graph client timeout, so a "timeout" burst outlasts it.
	GraphTimeout time.Duration
	// OutboundAfterWebhooks holds the outbound requests back until every webhook is in.
	OutboundAfterWebhooks bool
	// Burst caps each error burst of the graph-errors scenario (0: the full bursts).
	Burst int
	// Floor measures the reference figures (HMAC + decode, raw DynamoDB writes) in the run.
	Floor bool
}

func (o options) withDefaults() options {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 90 * time.Second
	}
	if o.DrainTimeout <= 0 {
		// Past the consumer's 3-minute wait for the status of a send whose answer was lost.
		o.DrainTimeout = 5 * time.Minute
	}
	if o.GraphDown <= 0 {
		o.GraphDown = 20 * time.Second
	}
	if o.FaultFor <= 0 {
		o.FaultFor = 10 * time.Second
	}
	if o.Progress <= 0 {
		o.Progress = 2 * time.Second
	}
	if o.GraphTimeout <= 0 {
		o.GraphTimeout = 10 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	return o
}

// runner is one run in progress.
type runner struct {
	t   *target
	o   options
	out io.Writer
	p   *plan
	m   metrics
	wh  *webhook
	adm adminAPI
	fk  fakeAPI
	st  *store.Store
	gen *intents

	openMu sync.Mutex

	// sends seen by the poller, by request id (biz_opaque_callback_data).
	sendsMu sync.Mutex
	sendSeq int64
	sendsBy map[string][]graphfake.Send

	// dlq bodies read while draining (reading deletes them).
	dlqMu sync.Mutex
	dlq   []string

	postsDone  atomic.Int64
	postsTotal int

	faults []*faultRun

	// statuses: the final delivery status expected per request id after the statuses phase.
	statusWant map[string]outbound.Status
	// account observations.
	accountMidStatus string

	counts checkCounts
	floors floors

	trafficTime time.Duration
	drainTime   time.Duration
	webhookCPU  time.Duration // backend CPU during the webhook-only share, when measured

	// peakRSSKB is the backend's highest VmHWM seen; memErr says why none was read.
	peakRSSKB int64
	memErr    error
}

// report is the outcome of a run.
type report struct {
	Lost, Duplicated int
	// Wrong counts end states that are neither lost nor duplicated but not what they must be
	// (a window, a mode, a status, a limit); FaultFailures the fault scenarios' own checks.
	Wrong         int
	FaultFailures int
	Problems      []string
	Figures       figures
}

// figures are the measured numbers, also written as JSON for cmd/bench.
type figures struct {
	Prefix            string  `json:"prefix"`
	Seed              uint64  `json:"seed"`
	Posts             int64   `json:"webhook_posts_accepted"`
	Attempts          int64   `json:"webhook_attempts"`
	Messages          int     `json:"unique_inbound_messages"`
	TrafficSeconds    float64 `json:"traffic_seconds"`
	PostsPerSecond    float64 `json:"webhook_posts_per_second"`
	MessagesPerSecond float64 `json:"webhook_messages_per_second"`
	WebhookP50ms      float64 `json:"webhook_p50_ms"`
	WebhookP99ms      float64 `json:"webhook_p99_ms"`
	Enqueued          int64   `json:"outbound_enqueued"`
	Sends             int     `json:"graph_sends"`
	SendsPerSecond    float64 `json:"outbound_sends_per_second"`
	SendP50ms         float64 `json:"enqueue_to_send_p50_ms"`
	SendP99ms         float64 `json:"enqueue_to_send_p99_ms"`
	Errors            int64   `json:"errors"`
	// The backend's figures are absent (never zero) when they could not be measured; the
	// *NotMeasured fields then say why.
	BackendPeakRSSKB      int64   `json:"backend_peak_rss_kb,omitempty"`
	BackendRSSNotMeasured string  `json:"backend_peak_rss_not_measured,omitempty"`
	BackendCPUSeconds     float64 `json:"backend_cpu_seconds,omitempty"`
	BackendCPUNotMeasured string  `json:"backend_cpu_not_measured,omitempty"`
	CPUPerMessageMicro    float64 `json:"backend_cpu_per_inbound_message_us,omitempty"`
	// Floors and ratios (set with -floor).
	FloorDecodeMicro   float64 `json:"floor_hmac_decode_cpu_per_message_us,omitempty"`
	CPURatio           float64 `json:"webhook_cpu_over_floor,omitempty"`
	FloorDDBWrites     float64 `json:"floor_ddb_conditional_writes_per_second,omitempty"`
	ThroughputRatio    float64 `json:"webhook_messages_per_second_over_floor,omitempty"`
	SendSpanSeconds    float64 `json:"send_span_seconds"`
	SendsPerSecondSpan float64 `json:"sends_per_second_first_to_last"`
	SendLatencyMs      float64 `json:"fake_send_latency_ms"`
	LatencyBound       float64 `json:"latency_bound_sends_per_second"`
	PacingBound        float64 `json:"pacing_bound_sends_per_second"`
	ConsumerRatio      float64 `json:"sends_per_second_over_latency_bound"`
	Lost               int     `json:"lost"`
	Duplicated         int     `json:"duplicated"`
	Wrong              int     `json:"wrong_end_states"`
	FaultFailures      int     `json:"fault_check_failures"`
}

func (r *report) problem(format string, args ...any) {
	if len(r.Problems) < 40 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == 40 {
		r.Problems = append(r.Problems, "… more problems not shown")
	}
}

// run drives a whole run against t and returns its report.
func run(ctx context.Context, t *target, o options, out io.Writer) (*report, error) {
	o = o.withDefaults()
	start := time.Now()
	p, err := newPlan(o.Prefix, o.Seed, o.sizes, start)
	if err != nil {
		return nil, err
	}
	hc := newHTTPClient(o.RequestTimeout, o.Workers)
	r := &runner{
		t: t, o: o, out: out, p: p,
		adm:        adminAPI{base: t.AdminURL, hc: hc},
		fk:         fakeAPI{base: t.FakeURL, hc: hc},
		st:         t.store(),
		sendsBy:    map[string][]graphfake.Send{},
		postsTotal: len(p.posts),
		statusWant: map[string]outbound.Status{},
	}
	r.wh = &webhook{url: t.WebhookURL, secret: []byte(t.AppSecret), hc: hc, m: &r.m, retryFor: o.RetryFor}
	r.gen = &intents{p: p, rng: rand.New(rand.NewPCG(o.Seed+1, o.Seed+2))}
	for _, name := range o.Faults {
		f, err := newFault(name, t, o)
		if err != nil {
			return nil, err
		}
		r.faults = append(r.faults, f)
	}
	r.wh.onAnswer = func(at time.Time, a answer) {
		for _, f := range r.faults {
			f.observe(at, a)
		}
	}

	fmt.Fprintf(out, "load: run %s (seed %d): %d senders (+1 for account events), %d customers, %d unique inbound messages in %d POSTs, %d outbound requests, faults: %s\n",
		o.Prefix, o.Seed, o.Senders, o.Senders*o.CustomersPerSender, p.uniqueMessages(), len(p.posts), o.Outbound, faultNames(o.Faults))

	if err := r.setup(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	if o.Floor {
		r.floors.DecodeCPUPerMessage = measureDecodeFloor(p, []byte(t.AppSecret), time.Second)
		if r.floors.DDBWritesPerSecond, err = measureDDBFloor(ctx, t, p.prefix, 3000, o.Workers); err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
		fmt.Fprintf(out, "floors: HMAC + map decode %.1f µs of CPU per message; DynamoDB Local %.0f conditional writes/s at concurrency %d\n",
			float64(r.floors.DecodeCPUPerMessage.Nanoseconds())/1000, r.floors.DDBWritesPerSecond, o.Workers)
	}
	// The fake's record of sends, followed until the check.
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	go r.pollSends(pollCtx)
	cpu0, cpuErr0 := r.backendCPU()
	if err := r.traffic(ctx); err != nil {
		return nil, fmt.Errorf("traffic: %w", err)
	}
	cpu1, cpuErr1 := r.backendCPU()
	// The peak is read now, while the backend surely runs; the check below adds little.
	r.sampleMemory()
	if err := r.drain(ctx); err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	if err := r.statuses(ctx); err != nil {
		return nil, fmt.Errorf("statuses: %w", err)
	}
	if o.Selftest == "drop" {
		if err := r.dropOne(ctx); err != nil {
			return nil, fmt.Errorf("selftest: %w", err)
		}
	}
	rep, err := r.check(ctx)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	r.sampleMemory()
	r.fillFigures(rep, cpu1-cpu0, errors.Join(cpuErr0, cpuErr1))
	r.print(rep)
	return rep, nil
}

func faultNames(f []string) string {
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, ",")
}

// backendCPU reads the backend's CPU time so far; an error says why it could not (no separate
// backend process, or the process is gone), so that the figure is reported as not measured
// rather than as zero.
func (r *runner) backendCPU() (time.Duration, error) {
	if r.t.BackendPID == 0 {
		return 0, errNoBackendProcess
	}
	return cpuTime(r.t.BackendPID)
}

// errNoBackendProcess: the backend runs inside the harness (-backend inprocess), so its memory
// and CPU cannot be told apart from the harness's own.
var errNoBackendProcess = errors.New("the backend runs in the harness's own process")

// sampleMemory keeps the highest VmHWM read so far, or why none could be read.
func (r *runner) sampleMemory() {
	if r.t.BackendPID == 0 {
		r.memErr = errNoBackendProcess
		return
	}
	m, err := readMemory(r.t.BackendPID)
	if err != nil {
		if r.peakRSSKB == 0 {
			r.memErr = err
		}
		return
	}
	r.peakRSSKB, r.memErr = max(r.peakRSSKB, m.PeakKB), nil
}

// setup creates the senders and brings them online, and tells the fake what Meta would say
// about each number (so a reconciler run agrees with the webhooks).
func (r *runner) setup(ctx context.Context) error {
	if err := r.fk.Healthy(ctx, 30*time.Second); err != nil {
		return err
	}
	if err := r.fk.SetLatency(ctx, r.o.SendLatency); err != nil {
		return fmt.Errorf("fake latency: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(r.p.senders))
	for i, s := range r.p.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			limit := r.p.tiers[s.WABA]
			if limit == "" {
				limit = "TIER_2K"
			}
			if err := r.fk.SetPhoneNumber(ctx, s.ID, graphfake.PhoneNumberState{
				DisplayPhoneNumber: s.WaID(), MessagingLimit: limit,
				CodeVerificationStatus: "NOT_VERIFIED", Status: "PENDING",
			}); err != nil {
				errs[i] = fmt.Errorf("fake phone number %s: %w", s.ID, err)
				return
			}
			if err := r.adm.CreateOnline(ctx, s); err != nil {
				errs[i] = fmt.Errorf("sender %s: %w", s.ID, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// markOpen records that customers of an accepted POST now have an open window.
func (r *runner) markOpen(msgs []*inboundMsg) {
	r.openMu.Lock()
	defer r.openMu.Unlock()
	for _, m := range msgs {
		if m.Cust.Kind == active && !isOpen(m.Cust) {
			close(m.Cust.open)
		}
	}
}

// traffic sends the webhooks and the outbound requests concurrently, with the faults.
func (r *runner) traffic(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	begin := time.Now()

	// Webhooks: a feeder at the chosen rate, workers delivering with Meta's retries.
	work := make(chan *post)
	var whWG sync.WaitGroup
	for range r.o.Workers {
		whWG.Add(1)
		go func() {
			defer whWG.Done()
			for po := range work {
				a := r.wh.post(ctx, po.Body)
				if a.Status == http.StatusOK {
					r.m.webhookAccepted.Add(1)
					r.m.webhookMessages.Add(int64(len(po.msgs)))
					if po.Kind == "messages" {
						r.markOpen(po.msgs)
					}
				}
				r.postsDone.Add(1)
			}
		}()
	}
	go func() {
		defer close(work)
		tick := pacer(r.o.WebhookRate)
		for _, po := range r.p.posts {
			if !tick(ctx) {
				return
			}
			select {
			case work <- po:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Account events, in order: ban (twice), check, reinstate (twice).
	accountDone := make(chan error, 1)
	go func() { accountDone <- r.accountEvents(ctx) }()

	// Outbound requests, once a tenth of the webhooks are in (so some windows are open), or
	// all of them (-outbound-after: the consumer measured alone).
	outDone := make(chan error, 1)
	go func() {
		after := int64(r.postsTotal / 10)
		if r.o.OutboundAfterWebhooks {
			after = int64(r.postsTotal)
		}
		for r.postsDone.Load() < after && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		outDone <- r.enqueueAll(ctx)
	}()

	// Faults, each at its point of the webhook traffic.
	var faultWG sync.WaitGroup
	for i, f := range r.faults {
		at := int64(float64(r.postsTotal) * float64(i+1) / float64(len(r.faults)+2))
		faultWG.Add(1)
		go func() {
			defer faultWG.Done()
			for r.postsDone.Load() < at && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			f.run(ctx, r)
		}()
	}

	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progress(ctx, begin)
	}()

	whWG.Wait()
	var errs []error
	if err := <-accountDone; err != nil {
		errs = append(errs, err)
	}
	if err := <-outDone; err != nil {
		errs = append(errs, err)
	}
	faultWG.Wait()
	r.trafficTime = time.Since(begin)
	cancel()
	<-progressDone
	return errors.Join(errs...)
}

// pacer returns a function that blocks until the next tick at perSecond (0: never blocks).
func pacer(perSecond float64) func(context.Context) bool {
	if perSecond <= 0 {
		return func(ctx context.Context) bool { return ctx.Err() == nil }
	}
	interval := time.Duration(float64(time.Second) / perSecond)
	next := time.Now()
	return func(ctx context.Context) bool {
		now := time.Now()
		if next.After(now) {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(next.Sub(now)):
			}
		} else if now.Sub(next) > time.Second {
			next = now // do not burst to catch up after a stall
		}
		next = next.Add(interval)
		return ctx.Err() == nil
	}
}

func (r *runner) accountEvents(ctx context.Context) error {
	for i, po := range r.p.accountPosts {
		if a := r.wh.post(ctx, po.Body); a.Status != http.StatusOK {
			return fmt.Errorf("account event %d not accepted: %s", i, a.label())
		}
		if i == 1 {
			v, err := r.adm.Get(ctx, r.p.account.ID)
			if err != nil {
				return err
			}
			r.accountMidStatus = v.Status
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// enqueueAll enqueues the run's outbound requests at the chosen rate.
func (r *runner) enqueueAll(ctx context.Context) error {
	work := make(chan *intent)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range work {
				if err := r.submit(ctx, in); err != nil {
					failed.Add(1)
					continue
				}
				in.setEnqueued(time.Now())
			}
		}()
	}
	tick := pacer(r.o.OutboundRate)
	for range r.o.Outbound {
		if !tick(ctx) {
			break
		}
		in := r.gen.next()
		select {
		case work <- in:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d outbound requests could not be enqueued within %s (errors: %s)", n, r.o.RetryFor, r.m.enqueueErrors.String())
	}
	return nil
}

// submit hands a request to the pipeline: valid ones through POST /messages, invalid ones
// straight to the queue.
func (r *runner) submit(ctx context.Context, in *intent) error {
	if in.Invalid {
		return r.enqueueRetrying(ctx, in.Body, in.Group, in.ID)
	}
	return r.postMessage(ctx, in.Body)
}

// postMessage enqueues through the admin API like a well-behaved caller: retried on 5xx and
// transport errors (the same id makes a retry harmless); a 4xx is final.
func (r *runner) postMessage(ctx context.Context, body []byte) error {
	deadline := time.Now().Add(r.o.RetryFor)
	backoff := 100 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.t.AdminURL+"/messages", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		a := do(r.wh.hc, req)
		if a.Err == nil && a.Status == http.StatusAccepted {
			r.m.enqueued.Add(1)
			r.m.enqueueLatency.add(a.Latency)
			return nil
		}
		r.m.enqueueErrors.add("post_messages_"+a.label(), 1)
		if a.Err == nil && a.Status >= 400 && a.Status < 500 {
			return fmt.Errorf("POST /messages: %d %s", a.Status, truncate(a.Body, 300))
		}
		if ctx.Err() != nil || time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("POST /messages: %s", a.label())
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
}

// enqueueRetrying enqueues like a well-behaved caller: retried while SQS is unreachable.
func (r *runner) enqueueRetrying(ctx context.Context, body []byte, group, dedupe string) error {
	_, err := r.enqueueForID(ctx, body, group, dedupe)
	return err
}

// enqueueForID is enqueueRetrying returning SQS's message id.
func (r *runner) enqueueForID(ctx context.Context, body []byte, group, dedupe string) (string, error) {
	deadline := time.Now().Add(r.o.RetryFor)
	backoff := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, r.o.RequestTimeout)
		t0 := time.Now()
		id, err := enqueue(cctx, r.t.SQS, r.t.OutboundQueueURL, body, group, dedupe)
		cancel()
		if err == nil {
			r.m.enqueued.Add(1)
			r.m.enqueueLatency.add(time.Since(t0))
			return id, nil
		}
		r.m.enqueueErrors.add("sqs_error", 1)
		if ctx.Err() != nil || time.Now().Add(backoff).After(deadline) {
			return "", err
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
}

// pollSends follows the fake's record of sends.
func (r *runner) pollSends(ctx context.Context) {
	for ctx.Err() == nil {
		r.pollSendsOnce(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (r *runner) pollSendsOnce(ctx context.Context) {
	r.sendsMu.Lock()
	since := r.sendSeq
	r.sendsMu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	page, err := r.fk.Sends(cctx, since)
	cancel()
	if err != nil || len(page) == 0 {
		return
	}
	byID := map[string]*intent{}
	for _, in := range r.gen.list() {
		byID[in.ID] = in
	}
	r.sendsMu.Lock()
	defer r.sendsMu.Unlock()
	for _, s := range page {
		if s.Seq <= r.sendSeq {
			continue
		}
		r.sendSeq = s.Seq
		id := s.BizOpaqueCallbackData
		if !strings.HasPrefix(id, r.p.prefix+"-") {
			continue
		}
		r.sendsBy[id] = append(r.sendsBy[id], s)
		r.m.sends.Add(1)
		if in := byID[id]; in != nil && len(r.sendsBy[id]) == 1 {
			if t0 := in.enqueued(); !t0.IsZero() && s.Time.After(t0) {
				r.m.sendLatency.add(s.Time.Sub(t0))
			}
		}
	}
}

func (r *runner) progress(ctx context.Context, begin time.Time) {
	t := time.NewTicker(r.o.Progress)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		el := time.Since(begin)
		fmt.Fprintf(r.out, "progress %5.1fs: webhooks %d/%d POSTs (%.0f/s, %d attempts, answers %s) | outbound %d/%d enqueued, %d sent\n",
			el.Seconds(), r.postsDone.Load(), r.postsTotal, rate(r.postsDone.Load(), el), r.m.webhookAttempts.Load(),
			r.m.webhookAnswers.String(), r.m.enqueued.Load(), r.o.Outbound, r.m.sends.Load())
	}
}

// drain waits until every request has a terminal record or sits in the DLQ, re-delivering
// some requests under another deduplication id first.
func (r *runner) drain(ctx context.Context) error {
	begin := time.Now()
	defer func() { r.drainTime = time.Since(begin) }()
	for _, in := range r.gen.list() {
		if in.Again && !in.enqueued().IsZero() {
			if err := r.enqueueRetrying(ctx, in.Body, in.Group, in.ID+"-again"); err != nil {
				return err
			}
		}
	}
	pending := map[string]bool{}
	for _, in := range r.gen.list() {
		pending[in.ID] = true
	}
	for _, f := range r.faults {
		for _, id := range f.ids {
			pending[id] = true
		}
	}
	deadline := time.Now().Add(r.o.DrainTimeout)
	lastPrint := time.Now()
	for len(pending) > 0 && time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.readDLQ(ctx)
		inDLQ := r.dlqIDs()
		// The ids are read out first: the checks finish while the loop still runs, and the map
		// is only changed once they all have.
		var check []string
		for id := range pending {
			if inDLQ[id] {
				delete(pending, id)
				continue
			}
			check = append(check, id)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var done []string
		sem := make(chan struct{}, 8)
		for _, id := range check {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				rec, err := r.st.GetRecord(cctx, id)
				cancel()
				if err == nil && terminal(rec.Status) {
					mu.Lock()
					done = append(done, id)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, id := range done {
			delete(pending, id)
		}
		if time.Since(lastPrint) > r.o.Progress {
			lastPrint = time.Now()
			fmt.Fprintf(r.out, "progress drain %4.1fs: %d requests not yet in a terminal record or the DLQ, %d sent\n",
				time.Since(begin).Seconds(), len(pending), r.m.sends.Load())
		}
		if len(pending) > 0 {
			time.Sleep(300 * time.Millisecond)
		}
	}
	// The re-delivered copies and anything else still queued must be consumed too.
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := queueDepth(cctx, r.t.SQS, r.t.OutboundQueueURL)
		cancel()
		if err == nil && n == 0 {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	r.readDLQ(ctx)
	r.pollSendsOnce(ctx)
	return nil
}

func (r *runner) readDLQ(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	bodies, _ := drainQueue(cctx, r.t.SQS, r.t.OutboundDLQURL, 0)
	if len(bodies) == 0 {
		return
	}
	r.dlqMu.Lock()
	r.dlq = append(r.dlq, bodies...)
	r.dlqMu.Unlock()
}

// dlqIDs are the request ids of the bodies read from the DLQ (a body that is not JSON is
// keyed by itself, so a poison body can be found too).
func (r *runner) dlqIDs() map[string]bool {
	r.dlqMu.Lock()
	defer r.dlqMu.Unlock()
	out := map[string]bool{}
	for _, b := range r.dlq {
		if id := findString([]byte(b), "id"); id != "" {
			out[id] = true
		}
		out[b] = true
	}
	return out
}

// statuses posts Meta's delivery statuses for every send of the run: a random non-empty subset
// of sent/delivered/read per message, shuffled across POSTs, some POSTs twice.
func (r *runner) statuses(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(r.o.Seed+3, r.o.Seed+4))
	bySender := map[*senderSpec][]statusEvent{}
	for _, in := range r.gen.list() {
		if in.Cust == nil || !in.Exp.expectsSend() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rec, err := r.st.GetRecord(cctx, in.ID)
		cancel()
		if err != nil || rec.Status != outbound.StatusSent || rec.WAMID == "" {
			continue
		}
		sentAt := rec.UpdatedAt.Unix()
		var want outbound.Status
		for k, st := range []outbound.Status{outbound.StatusSent, outbound.StatusDelivered, outbound.StatusRead} {
			if rng.IntN(2) == 0 && !(k == 2 && want == "") {
				continue
			}
			want = st
			bySender[in.Sender] = append(bySender[in.Sender], statusEvent{
				WAMID: rec.WAMID, Status: string(st), RequestID: in.ID, TS: sentAt + int64(k), Cust: in.Cust,
			})
		}
		r.statusWant[in.ID] = want
	}
	var posts []*post
	for s, evs := range bySender {
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		posts = append(posts, statusPosts(s, evs)...)
	}
	for _, po := range posts[:len(posts):len(posts)] {
		if rng.Float64() < r.o.PostDupRate {
			posts = append(posts, po)
		}
	}
	rng.Shuffle(len(posts), func(i, j int) { posts[i], posts[j] = posts[j], posts[i] })
	work := make(chan *post)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range r.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for po := range work {
				if a := r.wh.post(ctx, po.Body); a.Status != http.StatusOK {
					failed.Add(1)
				} else {
					r.m.webhookAccepted.Add(1)
				}
			}
		}()
	}
	for _, po := range posts {
		work <- po
	}
	close(work)
	wg.Wait()
	fmt.Fprintf(r.out, "statuses: %d status POSTs for %d sends, %d not accepted\n", len(posts), len(r.statusWant), failed.Load())
	return nil
}

// dropOne deletes the record of one sent request behind the harness's back (LOAD_SELFTEST=drop):
// the check must find it lost.
func (r *runner) dropOne(ctx context.Context) error {
	for _, in := range r.gen.list() {
		if _, ok := r.statusWant[in.ID]; !ok {
			continue
		}
		if err := deleteRecordItem(ctx, r.t, in.ID); err != nil {
			return err
		}
		fmt.Fprintf(r.out, "selftest: deleted the record of request %s\n", in.ID)
		return nil
	}
	return errors.New("no sent request to drop")
}
