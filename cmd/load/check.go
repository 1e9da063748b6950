package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
)

// deleteRecordItem removes the outbound record of a request (key layout: shared/store/keys.go).
func deleteRecordItem(ctx context.Context, t *target, id string) error {
	_, err := t.DDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(t.Table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "MSG#" + id},
			"sk": &types.AttributeValueMemberS{Value: "#MSG"},
		},
	})
	if err != nil {
		return fmt.Errorf("delete record %s: %w", id, err)
	}
	return nil
}

// checkCounts are the check's tallies, for the report.
type checkCounts struct {
	inboundUnique, inboundSeen, inboundCopies, inboundMissing, inboundStray int
	windows, windowsWrong                                                   int
	requests, terminal, inDLQ, sentOK, rejected, failed                     int
	modeWrong, statusWrong, sendsMissing, sendCopies                        int
	statusChecked, statusRegressed                                          int
	limits, limitsWrong                                                     int
	accountOK                                                               bool
}

// check computes lost and duplicated from the end state: the inbound queue read to exhaustion,
// the table, the DLQ and the fake's record of sends.
func (r *runner) check(ctx context.Context) (*report, error) {
	rep := &report{}
	var c checkCounts

	// 1. Inbound: every unique message forwarded exactly once.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	bodies, err := drainQueue(cctx, r.t.SQS, r.t.InboundQueueURL, 3*time.Second)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("read inbound queue: %w", err)
	}
	seen := map[string]int{}
	msgPrefix := "wamid.LOAD" + r.p.prefix
	for _, b := range bodies {
		w := findString([]byte(b), "wamid")
		if !strings.HasPrefix(w, msgPrefix) {
			if w == "" {
				c.inboundStray++
			}
			continue
		}
		seen[w]++
	}
	c.inboundUnique = r.p.uniqueMessages()
	for _, m := range r.p.msgs {
		n := seen[m.WAMID]
		switch {
		case n == 0:
			c.inboundMissing++
			rep.problem("inbound %s (customer %s, sender %s) never reached the inbound queue", m.WAMID, m.Cust.UserID, m.Cust.Sender.ID)
		case n > 1:
			c.inboundCopies += n - 1
			rep.problem("inbound %s forwarded %d times", m.WAMID, n)
		}
		delete(seen, m.WAMID)
		c.inboundSeen += min(n, 1)
	}
	for w, n := range seen {
		rep.problem("inbound queue holds %s (%d times), which the run never sent", w, n)
		c.inboundCopies += n
	}

	// 2. Windows: the newest message's expiry, to the millisecond, for every customer who wrote.
	type winCheck struct {
		c   *customerSpec
		exp time.Time
	}
	var wins []winCheck
	for _, s := range r.p.trafficSenders() {
		for _, cu := range s.custs {
			if exp, ok := cu.windowFor(r.t.FreeEntry); ok {
				wins = append(wins, winCheck{cu, exp})
			}
		}
	}
	c.windows = len(wins)
	var mu sync.Mutex
	parallel(ctx, len(wins), 8, func(ctx context.Context, i int) {
		w := wins[i]
		ref := customer.Ref{UserID: w.c.UserID, Phone: w.c.Phone}
		got, err := r.st.GetWindow(ctx, w.c.Sender.ID, w.c.Sender.WABA, ref)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, persist.ErrNotFound) && w.c.Kind == stale:
			// A closed window's TTL is in the past: DynamoDB may already have deleted it.
		case err != nil:
			c.windowsWrong++
			rep.problem("window of %s customer %s at sender %s: %v (want expiry %s)", w.c.Kind, w.c.UserID, w.c.Sender.ID, err, w.exp.UTC().Format(time.RFC3339))
		case got.ExpiresAt.UnixMilli() != w.exp.UnixMilli():
			c.windowsWrong++
			rep.problem("window of %s customer %s at sender %s expires %s, want %s", w.c.Kind, w.c.UserID, w.c.Sender.ID,
				got.ExpiresAt.UTC().Format(time.RFC3339), w.exp.UTC().Format(time.RFC3339))
		}
	})

	// 3. Outbound: every request in a terminal record or the DLQ, sent at most once.
	cctx, cancel = context.WithTimeout(ctx, time.Minute)
	sends, err := r.fk.AllSends(cctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("read the fake's sends: %w", err)
	}
	sendsBy := map[string][]graphfake.Send{}
	for _, s := range sends {
		if strings.HasPrefix(s.BizOpaqueCallbackData, r.p.prefix+"-") {
			sendsBy[s.BizOpaqueCallbackData] = append(sendsBy[s.BizOpaqueCallbackData], s)
		}
	}
	r.readDLQ(ctx)
	inDLQ := r.dlqIDs()
	all := r.gen.list()
	c.requests = len(all)
	recs := make([]*outbound.Record, len(all))
	recErrs := make([]error, len(all))
	parallel(ctx, len(all), 8, func(ctx context.Context, i int) {
		recs[i], recErrs[i] = r.st.GetRecord(ctx, all[i].ID)
	})
	for i, in := range all {
		rec, err := recs[i], recErrs[i]
		ss := sendsBy[in.ID]
		n := len(ss)
		delete(sendsBy, in.ID)
		if n > 1 {
			c.sendCopies += n - 1
			rep.problem("request %s sent %d times (wamids %s)", in.ID, n, wamids(ss))
		}
		switch {
		case err == nil && terminal(rec.Status):
			c.terminal++
		case inDLQ[in.ID]:
			c.inDLQ++
			continue
		case err != nil && errors.Is(err, persist.ErrNotFound):
			rep.problem("request %s (%s): no record and not in the DLQ (fake sends: %d)", in.ID, in.Exp.Why, n)
			continue
		case err != nil:
			rep.problem("request %s: read record: %v", in.ID, err)
			continue
		default:
			rep.problem("request %s (%s): record is %q (reason %q), not terminal, and not in the DLQ", in.ID, in.Exp.Why, rec.Status, rec.Reason)
			continue
		}
		switch {
		case rec.Status.Rank() > 0:
			c.sentOK++
		case rec.Status == outbound.StatusRejected:
			c.rejected++
		case rec.Status == outbound.StatusFailed:
			c.failed++
		}
		if !in.Exp.allows(rec.Status) {
			c.statusWrong++
			rep.problem("request %s (%s): status %q reason %q code %d, want one of %v", in.ID, in.Exp.Why, rec.Status, rec.Reason, rec.ErrorCode, in.Exp.Statuses)
		} else if in.Exp.Mode != "" && rec.Mode != in.Exp.Mode {
			c.modeWrong++
			rep.problem("request %s (%s): mode %q, want %q", in.ID, in.Exp.Why, rec.Mode, in.Exp.Mode)
		}
		switch {
		case rec.Status.Rank() > 0 && n == 0:
			c.sendsMissing++
			rep.problem("request %s: record says %q (wamid %s) but the Graph API never received it", in.ID, rec.Status, rec.WAMID)
		case rec.Status.Rank() == 0 && n > 0:
			c.statusWrong++
			rep.problem("request %s: record says %q but the Graph API accepted it %d time(s)", in.ID, rec.Status, n)
		}
		if want, ok := r.statusWant[in.ID]; ok {
			c.statusChecked++
			if rec.Status != want {
				c.statusRegressed++
				rep.problem("request %s: after its status webhooks the record is %q, want %q", in.ID, rec.Status, want)
			}
		}
	}
	// Requests a fault scenario enqueued itself: poison ones must never go out, the valid one
	// queued behind them and a campaign's exactly once.
	for _, f := range r.faults {
		for _, id := range f.ids {
			n := len(sendsBy[id])
			delete(sendsBy, id)
			switch {
			case f.sendOnce[id] && n > 1:
				c.sendCopies += n - 1
				rep.problem("request %s (%s) sent %d times", id, f.name, n)
			case f.sendOnce[id]:
			case id == f.okID && n > 1:
				c.sendCopies += n - 1
				rep.problem("request %s (queued behind poison ones) sent %d times", id, n)
			case id != f.okID && n > 0:
				c.statusWrong++
				rep.problem("poison request %s reached the Graph API %d time(s)", id, n)
			}
		}
	}
	for id, ss := range sendsBy {
		rep.problem("the Graph API received %d send(s) for %s, which the run never requested", len(ss), id)
		c.sendCopies += len(ss)
	}

	// 4. Messaging limits: the newest event's tier, whatever the arrival order.
	for waba, tier := range r.p.tiers {
		c.limits++
		var key string
		for _, s := range r.p.trafficSenders() {
			if s.WABA == waba {
				v, err := r.adm.Get(ctx, s.ID)
				if err != nil {
					rep.problem("limit of %s: %v", waba, err)
					c.limitsWrong++
					break
				}
				key = v.MessagingLimit
			}
		}
		if key != "" && key != tier {
			c.limitsWrong++
			rep.problem("WABA %s messaging limit %q, want %q (the newest event's)", waba, key, tier)
		}
	}

	// 5. The account sender: suspended by the ban, back online after the reinstatement.
	if v, err := r.adm.Get(ctx, r.p.account.ID); err != nil {
		rep.problem("account sender: %v", err)
	} else {
		c.accountOK = v.Status == "online" && r.accountMidStatus == "suspended"
		if !c.accountOK {
			rep.problem("account sender %s: %q after the ban (want suspended), %q after the reinstatement (want online)", r.p.account.ID, r.accountMidStatus, v.Status)
		}
	}

	for _, f := range r.faults {
		if probs := f.check(ctx, r, inDLQ); len(probs) > 0 {
			rep.FaultFailures += len(probs)
			for _, p := range probs {
				rep.problem("fault %s: %s", f.name, p)
			}
		}
	}

	lostOutbound := c.requests - c.terminal - c.inDLQ + c.sendsMissing
	rep.Lost = c.inboundMissing + lostOutbound
	rep.Duplicated = c.inboundCopies + c.sendCopies
	rep.Wrong = c.windowsWrong + c.modeWrong + c.statusWrong + c.statusRegressed + c.limitsWrong
	if !c.accountOK {
		rep.Wrong++
	}
	r.counts = c
	return rep, nil
}

func wamids(ss []graphfake.Send) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.WAMID)
	}
	return strings.Join(out, ",")
}

// parallel runs fn(i) for i in [0,n) on k workers, each call with a bounded context.
func parallel(ctx context.Context, n, k int, fn func(ctx context.Context, i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				fn(cctx, i)
				cancel()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
