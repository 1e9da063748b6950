package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
)

// Outbound fault scenarios: Meta's answer lost after it accepted a send, and the Graph API down
// for a while (-graph-down, scaled so CI stays short). The run's end-state checks (0 lost, 0
// duplicated, every request terminal, nothing in the DLQ unless expected) apply on top.
func init() {
	faultCatalogue["lost-answer"] = "Meta accepts sends and the answer is lost (the connection is reset after the " +
		"send was recorded); Meta's sent status (biz_opaque_callback_data = the request id) follows within a second: " +
		"each such request is sent once, never twice"
	faultCatalogue["campaign"] = "a template campaign from one portfolio: 10 batches of 10 templates to new " +
		"recipients enqueued at once: every one ends sent once (none bounced by the messaging-limit budget); " +
		"the run prints the campaign's sends/s"
	faultCatalogue["graph-down"] = "every send answers 503 for -graph-down (default 20 s): the retries wait it out, " +
		"nothing reaches the DLQ, nothing is sent twice, each conversation keeps its order"
}

// defaultFaults are the scenarios of a run without -fault: the outbound pipeline under a
// campaign, a lost answer and a Meta outage.
var defaultFaults = []string{"campaign", "lost-answer", "graph-down"}

// campaign enqueues 10 batches of 10 templates to new recipients from one sender, at once.
func (f *faultRun) campaign(ctx context.Context, r *runner) {
	f.setWindow(time.Now(), time.Time{})
	defer f.setWindow(time.Time{}, time.Now())
	s := r.p.trafficSenders()[0]
	f.campaignStart = time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for b := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				req := outbound.Request{ID: fmt.Sprintf("%s-campaign-%d-%d", r.p.prefix, b, i), SenderID: s.ID,
					To: fmt.Sprintf("+4479111234%02d", b*10+i), Template: sampleTemplate}
				body, _ := jsonBytes(req)
				if err := r.enqueueRetrying(ctx, body, outbound.GroupID(req), req.ID); err != nil {
					f.fail(err)
					return
				}
				mu.Lock()
				f.ids = append(f.ids, req.ID)
				if f.sendOnce == nil {
					f.sendOnce = map[string]bool{}
				}
				f.sendOnce[req.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// lostAnswer scripts lost answers and plays Meta's status webhook for each of those sends.
func (f *faultRun) lostAnswer(ctx context.Context, r *runner) {
	const n = 5
	f.scripted = n
	f.setWindow(time.Now(), time.Time{})
	defer f.setWindow(time.Time{}, time.Now())
	since := int64(0)
	if reqs, err := r.fk.Requests(ctx, 0); err == nil && len(reqs) > 0 {
		since = reqs[len(reqs)-1].Seq
	}
	if err := r.fk.Script(ctx, graphfake.Script{Path: graphfake.PathMessages, LoseAnswer: true, Times: n}); err != nil {
		f.fail(fmt.Errorf("script the fake: %w", err))
		return
	}
	f.inject(ctx, r, n+5)
	// Meta sends the status whether or not the answer reached us: post it for every lost one.
	deadline := time.Now().Add(2 * time.Minute)
	for f.lostAnswers < n && time.Now().Before(deadline) && ctx.Err() == nil {
		reqs, err := r.fk.Requests(ctx, since)
		if err == nil {
			for _, q := range reqs {
				since = max(since, q.Seq)
				if !q.Scripted || !q.Dropped || q.WAMID == "" {
					continue
				}
				id, _ := q.JSON()["biz_opaque_callback_data"].(string)
				if err := f.postSent(ctx, r, q.PhoneNumberID, q.WAMID, id); err != nil {
					f.fail(err)
					return
				}
				f.lostAnswers++
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// postSent posts Meta's "sent" status of one send.
func (f *faultRun) postSent(ctx context.Context, r *runner, phoneNumberID, wamid, requestID string) error {
	for _, s := range r.p.senders {
		if s.ID != phoneNumberID {
			continue
		}
		ev := statusEvent{WAMID: wamid, Status: "sent", RequestID: requestID, TS: time.Now().Unix()}
		for _, po := range statusPosts(s, []statusEvent{ev}) {
			if a := r.wh.post(ctx, po.Body); a.Status != http.StatusOK {
				return fmt.Errorf("post the status of a lost answer: %s", a.label())
			}
		}
		return nil
	}
	return fmt.Errorf("a lost answer from an unknown sender %s", phoneNumberID)
}

// graphDown makes every send fail for the scenario's duration, with traffic during it.
func (f *faultRun) graphDown(ctx context.Context, r *runner) {
	f.setWindow(time.Now(), time.Time{})
	defer f.setWindow(time.Time{}, time.Now())
	if err := r.fk.Script(ctx, graphfake.Script{Path: graphfake.PathMessages, Status: http.StatusServiceUnavailable,
		Body: "upstream connect error", Times: -1}); err != nil {
		f.fail(fmt.Errorf("script the fake: %w", err))
		return
	}
	f.inject(ctx, r, 20)
	select {
	case <-ctx.Done():
	case <-time.After(f.o.GraphDown):
	}
	if err := r.fk.ClearScripts(ctx); err != nil {
		f.fail(fmt.Errorf("clear the outage: %w", err))
	}
}

// checkOutbound is the outbound scenarios' own check.
func (f *faultRun) checkOutbound(ctx context.Context, r *runner, inDLQ map[string]bool) []string {
	var probs []string
	switch f.name {
	case "campaign":
		var first, last time.Time
		sent := 0
		for _, id := range f.ids {
			rec, err := r.st.GetRecord(ctx, id)
			if err != nil || rec.Status.Rank() == 0 {
				probs = append(probs, fmt.Sprintf("campaign request %s did not go out: %s %v", id, recStatus(rec), err))
				continue
			}
			sent++
			if first.IsZero() || rec.CreatedAt.Before(first) {
				first = rec.CreatedAt
			}
			if rec.UpdatedAt.After(last) {
				last = rec.UpdatedAt
			}
		}
		rate := 0.0
		if d := last.Sub(f.campaignStart).Seconds(); d > 0 {
			rate = float64(sent) / d
		}
		fmt.Fprintf(r.out, "fault %s: %d of %d templates sent, %.1f sends/s from enqueue to the last send\n", f.name, sent, len(f.ids), rate)
	case "lost-answer":
		if f.lostAnswers == 0 {
			probs = append(probs, "no answer was lost: the fault did not bite")
		}
		fmt.Fprintf(r.out, "fault %s: %d answers lost after Meta accepted the send, each followed by its status\n", f.name, f.lostAnswers)
	case "graph-down":
		st, err := r.fk.Stats(ctx)
		if err != nil {
			return []string{"read fake stats: " + err.Error()}
		}
		if st.Scripted == 0 {
			probs = append(probs, "no send met the outage: the fault did not bite")
		}
		for id := range inDLQ {
			probs = append(probs, fmt.Sprintf("request %s reached the DLQ during a %s Graph outage", id, f.o.GraphDown))
		}
		fmt.Fprintf(r.out, "fault %s: %d sends refused during the %s outage\n", f.name, st.Scripted, f.o.GraphDown)
	}
	return probs
}
