package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
)

// Fault scenarios. Each says what must hold; the run's own end-state checks (nothing lost,
// nothing duplicated, every window and record right) apply on top of each.
var faultCatalogue = map[string]string{
	"ddb-pause": "DynamoDB Local stopped (SIGSTOP) mid-run, then continued: webhooks fail (500) while it is " +
		"stopped and are accepted when redelivered after; nothing is half-applied (every message forwarded once, " +
		"every window right, every request in a terminal record)",
	"sqs-pause": "the SQS emulator stopped (SIGSTOP) mid-run, then continued: webhooks fail while the inbound " +
		"queue is unreachable and are accepted after (a batch SQS took while the webhook timed out is dropped as a repeat by the FIFO queue); enqueues are retried; every message forwarded once, " +
		"every request ends terminal, none sent twice",
	"graph-errors": "the Graph API answers bursts of 130429 (throughput), 503, 131000 (transient), 131056 " +
		"(pair rate), dropped connections and timeouts: every affected request is retried and sent exactly once",
	"poison": "requests that are not requests (not JSON, wrong types, no content, text over 4,096 characters, " +
		"an unknown media type) end in a rejected/failed record or in the DLQ, are never sent, and do not block " +
		"the next request of their conversation",
	"lambda-timeout": "the consumer's deadline (the Lambda timeout) falls mid-batch while the Graph API is slow, and " +
		"once mid-send (the invocation ended by Lambda, the whole batch redelivered): everything not sent is retried " +
		"(none given up to the DLQ), nothing is sent twice",
}

// faultRun is one fault scenario in a run.
type faultRun struct {
	name string
	t    *target
	o    options

	mu       sync.Mutex
	from, to time.Time
	during   map[string]int // webhook answers while the fault was on
	runErr   error
	ids      []string // requests the scenario enqueued itself (the drain waits for them)
	noIDBody string   // the poison body that carries no id
	// noIDMessageID is SQS's id of that body: without an id of its own, its record can only be
	// keyed by the delivery.
	noIDMessageID string
	okID          string // the valid request queued behind a poison one
	scripted      int
	hitsAfter     int64
	cutAfter      int64
	wantKill      bool
	lostAnswers   int       // lost-answer: answers lost, statuses posted
	campaignStart time.Time // campaign: when its enqueue began
	// sendOnce are requests of ids that must go out exactly once (a campaign's).
	sendOnce map[string]bool
}

func newFault(name string, t *target, o options) (*faultRun, error) {
	if _, ok := faultCatalogue[name]; !ok {
		return nil, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(faultList(), ", "))
	}
	return &faultRun{name: name, t: t, o: o, during: map[string]int{}}, nil
}

func faultList() []string {
	return []string{"ddb-pause", "sqs-pause", "graph-errors", "poison", "lambda-timeout", "campaign", "lost-answer", "graph-down"}
}

// observe sees every webhook answer; those while the fault is on (plus one request timeout,
// for requests sent just before it ended) are counted.
func (f *faultRun) observe(at time.Time, a answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.from.IsZero() || at.Before(f.from) || (!f.to.IsZero() && at.After(f.to.Add(f.o.RequestTimeout))) {
		return
	}
	f.during[a.label()]++
}

func (f *faultRun) setWindow(from, to time.Time) {
	f.mu.Lock()
	if !from.IsZero() {
		f.from = from
	}
	if !to.IsZero() {
		f.to = to
	}
	f.mu.Unlock()
}

func (f *faultRun) fail(err error) {
	f.mu.Lock()
	f.runErr = err
	f.mu.Unlock()
}

// run applies the fault; it returns when the fault is over.
func (f *faultRun) run(ctx context.Context, r *runner) {
	fmt.Fprintf(r.out, "fault %s: on\n", f.name)
	defer fmt.Fprintf(r.out, "fault %s: off\n", f.name)
	switch f.name {
	case "ddb-pause":
		f.pauseFor(ctx, f.t.DDBPID, "DynamoDB Local")
	case "sqs-pause":
		f.pauseFor(ctx, f.t.SQSPID, "the SQS emulator")
	case "graph-errors":
		f.graphErrors(ctx, r)
	case "poison":
		f.poison(ctx, r)
	case "lambda-timeout":
		f.lambdaTimeout(ctx, r)
	case "campaign":
		f.campaign(ctx, r)
	case "lost-answer":
		f.lostAnswer(ctx, r)
	case "graph-down":
		f.graphDown(ctx, r)
	}
}

func (f *faultRun) pauseFor(ctx context.Context, pid int, what string) {
	if pid == 0 {
		f.fail(fmt.Errorf("no pid for %s: the harness did not start it", what))
		return
	}
	if err := pause(pid); err != nil {
		f.fail(err)
		return
	}
	f.setWindow(time.Now(), time.Time{})
	// Always continue it, whatever happens: a stopped emulator would hang everything after.
	defer func() {
		if err := resume(pid); err != nil {
			f.fail(err)
		}
		f.setWindow(time.Time{}, time.Now())
	}()
	select {
	case <-ctx.Done():
	case <-time.After(f.o.FaultFor):
	}
}

// bursts are the Graph API answers of the graph-errors scenario, consumed in order.
func (f *faultRun) bursts() []graphfake.Script {
	n := func(times int) int {
		if f.o.Burst > 0 {
			return min(times, f.o.Burst)
		}
		return times
	}
	return []graphfake.Script{
		{Path: graphfake.PathMessages, ErrorCode: 130429, Times: n(4)},
		{Path: graphfake.PathMessages, Status: http.StatusServiceUnavailable, Times: n(4)},
		{Path: graphfake.PathMessages, ErrorCode: 131000, Times: n(3)},
		{Path: graphfake.PathMessages, ErrorCode: 131056, Times: n(3)},
		{Path: graphfake.PathMessages, Drop: true, Times: n(3)},
		// Longer than the backend's Graph client timeout: the client gives up; the fake records
		// no send for an answer nobody waited for.
		{Path: graphfake.PathMessages, Delay: f.o.GraphTimeout + 500*time.Millisecond, Times: n(2)},
	}
}

func (f *faultRun) graphErrors(ctx context.Context, r *runner) {
	bursts := f.bursts()
	for _, b := range bursts {
		f.scripted += b.Times
	}
	f.setWindow(time.Now(), time.Time{})
	if err := r.fk.Script(ctx, bursts...); err != nil {
		f.fail(fmt.Errorf("script the fake: %w", err))
		return
	}
	// Traffic of its own, so the bursts are met whatever the run's pace.
	f.inject(ctx, r, f.scripted+5)
	// Leave the bursts to be consumed by the traffic; the check looks at what was used.
	f.setWindow(time.Time{}, time.Now())
}

// poisonBodies are SQS messages that are not valid requests.
func (f *faultRun) poison(ctx context.Context, r *runner) {
	f.setWindow(time.Now(), time.Time{})
	defer f.setWindow(time.Time{}, time.Now())
	s := r.p.trafficSenders()[0]
	var cust *customerSpec
	for _, c := range s.custs {
		if c.Phone != "" {
			cust = c
			break
		}
	}
	if cust == nil {
		f.fail(fmt.Errorf("no customer with a phone for the poison scenario"))
		return
	}
	id := func(n int) string { return fmt.Sprintf("%s-poison-%d", r.p.prefix, n) }
	f.noIDBody = "this is not JSON {" + r.p.prefix
	group := s.ID + "#" + strings.TrimPrefix(cust.Phone, "+")
	bodies := []struct {
		body, group, dedupe string
		hasID               bool
	}{
		{f.noIDBody, "poison-" + r.p.prefix, id(1), false},
		{fmt.Sprintf(`{"id":%q,"senderId":12345,"to":true}`, id(2)), "poison-" + r.p.prefix, id(2), true},
		{fmt.Sprintf(`{"id":%q,"senderId":%q,"to":%q}`, id(3), s.ID, cust.Phone), group, id(3), true},
		{fmt.Sprintf(`{"id":%q,"senderId":%q,"to":%q,"text":%q}`, id(4), s.ID, cust.Phone, strings.Repeat("x", 5000)), group, id(4), true},
		{fmt.Sprintf(`{"id":%q,"senderId":%q,"to":%q,"media":{"type":"hologram","link":"https://example.invalid/x"}}`, id(5), s.ID, cust.Phone), group, id(5), true},
	}
	for _, b := range bodies {
		msgID, err := r.enqueueForID(ctx, []byte(b.body), b.group, b.dedupe)
		if err != nil {
			f.fail(err)
			return
		}
		if b.hasID {
			f.ids = append(f.ids, b.dedupe)
		} else {
			f.noIDMessageID = msgID
		}
	}
	// A valid request queued behind the poison ones in the same conversation: FIFO order must
	// not let a poison request block it.
	f.okID = id(6)
	ok, _ := jsonBytes(outbound.Request{ID: f.okID, SenderID: s.ID, To: cust.Phone, Text: "after the poison", Template: sampleTemplate})
	if err := r.enqueueRetrying(ctx, ok, group, f.okID); err != nil {
		f.fail(err)
		return
	}
	f.ids = append(f.ids, f.okID)
}

// consumerReserve is the outbound consumer's default Reserve (shared/outbound Options): the
// time it keeps back before its deadline, starting no message with less left.
const consumerReserve = 12 * time.Second

func (f *faultRun) lambdaTimeout(ctx context.Context, r *runner) {
	if f.t.batchDeadline == nil {
		f.fail(fmt.Errorf("this backend cannot shorten the outbound consumer's deadline (run with -backend inprocess)"))
		return
	}
	// 0.3 s of work per invocation past the consumer's reserve, with a slow Graph API: the
	// deadline falls mid-batch and the consumer hands back what it did not start.
	short := consumerReserve + 300*time.Millisecond
	if err := r.fk.SetLatency(ctx, 300*time.Millisecond); err != nil {
		f.fail(err)
		return
	}
	hits0, cut0 := f.counter(f.t.deadlineHits), f.counter(f.t.cutBatches)
	f.setWindow(time.Now(), time.Time{})
	begin := time.Now()
	f.t.batchDeadline(short)
	f.inject(ctx, r, 30)
	// One send that outlives the deadline itself: Lambda ends the invocation mid-send and the
	// whole batch comes back. Only possible when the Graph client waits longer than the reserve.
	// Scripted once the invocations already running (with the long deadline) are done.
	if f.o.GraphTimeout > short {
		f.wantKill = true
		time.Sleep(2 * time.Second)
		if err := r.fk.Script(ctx, graphfake.Script{Path: graphfake.PathMessages, Delay: short + 2*time.Second}); err != nil {
			f.fail(err)
		}
		f.inject(ctx, r, 10)
	}
	select {
	case <-ctx.Done():
	case <-time.After(f.o.FaultFor - time.Since(begin)):
	}
	f.t.batchDeadline(0)
	_ = r.fk.SetLatency(context.WithoutCancel(ctx), f.o.SendLatency)
	f.setWindow(time.Time{}, time.Now())
	f.hitsAfter = f.counter(f.t.deadlineHits) - hits0
	f.cutAfter = f.counter(f.t.cutBatches) - cut0
}

// inject enqueues n more of the run's requests at once, so that a fault meets traffic.
func (f *faultRun) inject(ctx context.Context, r *runner, n int) {
	for range n {
		in := r.gen.next()
		if err := r.submit(ctx, in); err != nil {
			f.fail(err)
			return
		}
		in.setEnqueued(time.Now())
	}
}

func (f *faultRun) counter(fn func() int64) int64 {
	if fn == nil {
		return 0
	}
	return fn()
}

// check returns what did not hold.
func (f *faultRun) check(ctx context.Context, r *runner, inDLQ map[string]bool) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var probs []string
	if f.runErr != nil {
		return []string{"could not run: " + f.runErr.Error()}
	}
	failedDuring := 0
	for k, n := range f.during {
		if k != "200" {
			failedDuring += n
		}
	}
	if n := r.m.webhookAnswers.get("unexpected_4xx"); n > 0 {
		probs = append(probs, fmt.Sprintf("%d correctly signed POSTs were answered 4xx", n))
	}
	if n := r.m.webhookGaveUp.Load(); n > 0 {
		probs = append(probs, fmt.Sprintf("%d POSTs were still refused after %s of retries", n, f.o.RetryFor))
	}
	switch f.name {
	case "ddb-pause", "sqs-pause":
		if failedDuring == 0 {
			probs = append(probs, fmt.Sprintf("no webhook failed while it was stopped (answers: %v): the fault did not bite", f.during))
		} else if f.during["500"] == 0 {
			probs = append(probs, fmt.Sprintf("while it was stopped the webhook never answered 500 but held requests past %s (answers: %v): the handler needs its own deadline",
				f.o.RequestTimeout, f.during))
		}
		fmt.Fprintf(r.out, "fault %s: webhook answers while stopped: %v\n", f.name, f.during)
	case "graph-errors":
		st, err := r.fk.Stats(ctx)
		if err != nil {
			probs = append(probs, "read fake stats: "+err.Error())
			break
		}
		if st.Scripted < int64(f.scripted) {
			probs = append(probs, fmt.Sprintf("only %d of %d scripted error answers were used: too little traffic after the fault started", st.Scripted, f.scripted))
		}
		fmt.Fprintf(r.out, "fault %s: fake answered %d scripted errors (by code %v, by status %v, dropped %d, client gone %d)\n",
			f.name, st.Scripted, st.ByCode, st.ByStatus, st.Dropped, st.ClientGone)
	case "poison":
		for _, id := range f.ids {
			rec, err := r.st.GetRecord(ctx, id)
			switch {
			case id == f.okID:
				if err != nil || rec.Status.Rank() == 0 {
					probs = append(probs, fmt.Sprintf("the valid request %s behind the poison ones did not go out (%v %v)", id, recStatus(rec), err))
				}
			case inDLQ[id]:
			case err != nil:
				probs = append(probs, fmt.Sprintf("poison %s: no record and not in the DLQ (%v)", id, err))
			case rec.Status != outbound.StatusRejected && rec.Status != outbound.StatusFailed:
				probs = append(probs, fmt.Sprintf("poison %s ended %q (reason %q), want rejected or failed", id, rec.Status, rec.Reason))
			}
		}
		if !inDLQ[f.noIDBody] && !f.recordedRejected(ctx, r, fmt.Sprintf("%s-poison-1", r.p.prefix), "sqs-"+f.noIDMessageID) {
			probs = append(probs, fmt.Sprintf("the body that is not JSON (SQS message %s) is neither in the DLQ nor in a rejected record (looked under its deduplication id and sqs-<message id>)", f.noIDMessageID))
		}
	case "lambda-timeout":
		if f.cutAfter == 0 && f.hitsAfter == 0 {
			probs = append(probs, "no invocation was cut short by its deadline: the fault did not bite")
		}
		if f.wantKill && f.hitsAfter == 0 {
			// Timing on a loaded machine can let the held send finish inside its invocation;
			// the cut-short case above is what must bite, and the end state is checked either way.
			fmt.Fprintf(r.out, "fault %s: note: no invocation outlived its deadline this run (the held send finished in time)\n", f.name)
		}
		// "Everything unsent is retried": a request pushed into the DLQ by short invocations
		// was given up, not retried.
		for _, in := range r.gen.list() {
			if inDLQ[in.ID] {
				probs = append(probs, fmt.Sprintf("request %s ended in the DLQ: short invocations used up its receives", in.ID))
			}
		}
		fmt.Fprintf(r.out, "fault %s: %d invocations handed back unstarted messages at their deadline, %d outlived it (ended mid-send)\n",
			f.name, f.cutAfter, f.hitsAfter)
	case "campaign", "lost-answer", "graph-down":
		probs = append(probs, f.checkOutbound(ctx, r, inDLQ)...)
	}
	return probs
}

// recordedRejected reports whether a rejected or failed record exists under one of ids.
func (f *faultRun) recordedRejected(ctx context.Context, r *runner, ids ...string) bool {
	for _, id := range ids {
		rec, err := r.st.GetRecord(ctx, id)
		if err == nil && (rec.Status == outbound.StatusRejected || rec.Status == outbound.StatusFailed) {
			return true
		}
	}
	return false
}

func recStatus(rec *outbound.Record) string {
	if rec == nil {
		return "no record"
	}
	return string(rec.Status) + " " + rec.Reason
}
