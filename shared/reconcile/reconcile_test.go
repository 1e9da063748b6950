package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/reconcile"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// countingPacer lets every call through and counts them.
type countingPacer struct{ n atomic.Int64 }

func (p *countingPacer) Wait(ctx context.Context) error { p.n.Add(1); return ctx.Err() }

type rig struct {
	store *store.Store
	fake  *graphfake.Fake
	graph *graph.Client
	pace  *countingPacer
	logs  *bytes.Buffer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	testenv.Integration(t)
	ddb := testenv.DynamoDB(t)
	r := &rig{store: store.New(ddb, testenv.Table(t, ddb), func() time.Time { return now }), pace: &countingPacer{}, logs: &bytes.Buffer{}}
	var u string
	r.fake, u = graphfake.ServeNew(t, graphfake.Options{StrictPhoneNumbers: true})
	r.graph = graph.New(graph.Options{BaseURL: u, Version: "v24.0", Token: graphfake.DefaultToken})
	return r
}

func (r *rig) reconciler(pageSize int, requeue reconcile.RequeueFunc) *reconcile.Reconciler {
	return reconcile.New(reconcile.Options{Store: app.ReconcileStore{S: r.store}, Graph: r.graph,
		Log: logging.New(r.logs, "DEBUG"), Now: func() time.Time { return now }, Pace: r.pace, PageSize: pageSize, Requeue: requeue})
}

// put stores a sender in a status with the fields of a healthy number.
func (r *rig) put(t *testing.T, id string, st sender.Status, edit func(*sender.Sender)) {
	t.Helper()
	s := sender.New(id, sender.TypeExternal, fmt.Sprintf("+4072123%04s", id[len(id)-4:]), "2001", "", "Shop", nil, sender.SourceOperator, now.Add(-24*time.Hour))
	s.Status, s.QualityRating, s.MessagingLimit, s.MetaStatus = st, sender.QualityHigh, "TIER_2K", "CONNECTED"
	s.ThroughputLevel, s.DisplayNameStatus, s.CanSendMessage = "STANDARD", "APPROVED", "AVAILABLE"
	if edit != nil {
		edit(s)
	}
	if err := r.store.CreateSender(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	r.fake.SetPhoneNumber(id, graphfake.PhoneNumberState{})
}

func (r *rig) get(t *testing.T, id string) *sender.Sender {
	t.Helper()
	s, err := r.store.GetSender(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (r *rig) calls(id string) int {
	n := 0
	for _, q := range r.fake.Requests() {
		if q.PhoneNumberID == id {
			n++
		}
	}
	return n
}

// TestReconcileCorrectsDrift: missed webhooks left one sender's quality, limit and throughput
// stale, another online although Meta banned it, a third suspended by an earlier run although
// Meta has restored it. One run puts all three right, with source reconciler.
func TestReconcileCorrectsDrift(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()

	r.put(t, "1001", sender.StatusOnline, func(s *sender.Sender) {
		s.QualityRating, s.MessagingLimit, s.ThroughputLevel = sender.QualityNew, "", ""
	})
	r.fake.SetPhoneNumber("1001", graphfake.PhoneNumberState{QualityRating: "YELLOW", MessagingLimit: "TIER_10K",
		Throughput: &graphfake.Throughput{Level: "HIGH"}})

	r.put(t, "1002", sender.StatusOnline, nil)
	r.fake.SetPhoneNumber("1002", graphfake.PhoneNumberState{Status: "BANNED"})

	r.put(t, "1003", sender.StatusOffline, func(s *sender.Sender) {
		_ = s.Suspend("Meta phone number status RESTRICTED", time.Time{}, false, sender.SourceReconciler, now.Add(-time.Hour))
	})

	r.put(t, "1004", sender.StatusPending, nil) // not registered: Meta is not asked
	r.put(t, "1005", sender.StatusOnline, nil)  // in sync: nothing written

	requeued := 0
	rep, err := r.reconciler(2, func(context.Context, time.Time) (int, error) { requeued++; return 3, nil }).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := reconcile.Report{Examined: 4, Skipped: 1, Corrected: 3, StatusChanges: 2, Complete: true, Requeued: 3}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("report = %+v, want %+v", rep, want)
	}
	if requeued != 1 {
		t.Errorf("requeue ran %d times", requeued)
	}

	s := r.get(t, "1001")
	if s.QualityRating != sender.QualityMedium || s.MessagingLimit != "TIER_10K" || s.ThroughputLevel != "HIGH" || s.Status != sender.StatusOnline {
		t.Errorf("1001 = quality %s limit %s throughput %s status %s", s.QualityRating, s.MessagingLimit, s.ThroughputLevel, s.Status)
	}
	if p, err := r.store.GetPortfolio(ctx, s.PortfolioKey()); err != nil || p.Tier != "TIER_10K" {
		t.Errorf("portfolio = %+v, %v", p, err)
	}

	s = r.get(t, "1002")
	last := s.StatusHistory[len(s.StatusHistory)-1]
	if s.Status != sender.StatusSuspended || s.MetaStatus != "BANNED" || s.Suspension.Previous != sender.StatusOnline ||
		last.Source != sender.SourceReconciler || !strings.Contains(last.Reason, "BANNED") {
		t.Errorf("1002 = %s %+v %+v", s.Status, s.Suspension, last)
	}

	s = r.get(t, "1003")
	last = s.StatusHistory[len(s.StatusHistory)-1]
	if s.Status != sender.StatusOffline || s.Suspension != nil || last.Source != sender.SourceReconciler || last.From != sender.StatusSuspended {
		t.Errorf("1003 = %s %+v", s.Status, last)
	}

	if n := r.calls("1004"); n != 0 {
		t.Errorf("pending sender cost %d Graph calls", n)
	}
	if v := r.get(t, "1005").Version; v != 1 {
		t.Errorf("in-sync sender rewritten (version %d)", v)
	}
	if got := r.pace.n.Load(); got != 4 {
		t.Errorf("paced %d calls, want 4 (1 per examined sender: fields= on one read)", got)
	}
	if !strings.Contains(r.logs.String(), `"source":"reconciler"`) {
		t.Error("corrections are not logged with their source")
	}

	// A second run finds nothing to do.
	rep, err = r.reconciler(2, nil).Run(ctx)
	if err != nil || rep.Corrected != 0 || !rep.Complete {
		t.Errorf("second run = %+v, %v", rep, err)
	}
}

// TestReconcileStopsOnCallRate: Meta's 80007 ends the run early without failing it; the next
// run resumes at the page where it stopped instead of starting over.
func TestReconcileStopsOnCallRate(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		r.put(t, fmt.Sprintf("100%d", i), sender.StatusOnline, nil)
	}
	if err := r.fake.Script(graphfake.Script{Path: graphfake.PathNode, Method: "GET", PhoneNumberID: "1003", ErrorCode: 80007, Times: -1}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.reconciler(2, nil).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stopped != reconcile.StopCallRate || rep.StopCode != 80007 || rep.Complete || rep.Examined != 2 {
		t.Fatalf("report = %+v", rep)
	}
	if r.calls("1004") != 0 {
		t.Error("the run went on after the call-rate error")
	}

	r.fake.ClearScripts()
	rep, err = r.reconciler(2, nil).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.Examined != 3 {
		t.Fatalf("resumed run = %+v", rep)
	}
	for id, want := range map[string]int{"1001": 1, "1002": 1, "1003": 2, "1004": 1, "1005": 1} {
		if got := r.calls(id); got != want {
			t.Errorf("%s: %d Graph calls, want %d", id, got, want)
		}
	}
	// The pass completed: the next one starts from the beginning.
	if c, err := r.store.GetReconcileCursor(ctx); err != nil || c != "" {
		t.Errorf("cursor after a complete pass = %q, %v", c, err)
	}
}

// TestReconcileGraphErrors: a number Meta does not know is counted and skipped; an invalid
// token stops the run.
func TestReconcileGraphErrors(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.put(t, "1001", sender.StatusOnline, nil)
	r.put(t, "1002", sender.StatusOnline, nil)
	r.fake.Reset() // strict mode: both numbers are now unknown to Meta
	rep, err := r.reconciler(10, nil).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.GraphErrors != 2 || !rep.Complete || rep.Corrected != 0 {
		t.Errorf("report = %+v", rep)
	}
	if err := r.fake.Script(graphfake.Script{ErrorCode: 190, Times: -1}); err != nil {
		t.Fatal(err)
	}
	rep, err = r.reconciler(10, nil).Run(ctx)
	// One refused token: its portfolio is left for the next run after one call, the run ends.
	if err != nil || !rep.Complete || rep.Stopped != "" || len(rep.TokenRefused) != 1 || rep.GraphErrors != 1 || rep.Skipped != 1 {
		t.Errorf("report = %+v, %v", rep, err)
	}
}

// TestRefusedTokenSkipsOnlyItsPortfolio: Meta refusing one business's token (190) leaves that
// portfolio's senders for the next run; another portfolio's senders are still reconciled.
func TestRefusedTokenSkipsOnlyItsPortfolio(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.put(t, "1001", sender.StatusOnline, func(s *sender.Sender) { s.WABAID, s.BusinessID = "2001", "biz-a" })
	r.put(t, "1002", sender.StatusOnline, func(s *sender.Sender) { s.WABAID, s.BusinessID = "2001", "biz-a" })
	r.put(t, "1003", sender.StatusOnline, func(s *sender.Sender) { s.WABAID, s.BusinessID = "2002", "biz-b" })
	for _, id := range []string{"1001", "1002"} {
		if err := r.fake.Script(graphfake.Script{PhoneNumberID: id, ErrorCode: 190, Status: 401, Times: -1}); err != nil {
			t.Fatal(err)
		}
	}
	r.fake.UpdatePhoneNumber("1003", func(p *graphfake.PhoneNumberState) { p.QualityRating = "YELLOW" })
	rep, err := r.reconciler(10, nil).Run(ctx)
	if err != nil || !rep.Complete || len(rep.TokenRefused) != 1 || rep.Examined != 1 {
		t.Fatalf("report = %+v, %v", rep, err)
	}
	if q := r.get(t, "1003").QualityRating; q != sender.QualityMedium {
		t.Errorf("the other business's sender was not reconciled: quality %s", q)
	}
}

// TestReconcilerApp runs the composed function on an empty table, as the scheduled Lambda does.
func TestReconcilerApp(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	run, err := app.Reconciler(app.Deps{Store: r.store, Graph: r.graph, Log: logging.New(r.logs, "INFO"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Reconciler(app.Deps{}); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("missing deps accepted: %v", err)
	}
}

// TestReconcilerAppRequeues: the scheduled run puts deferred outbound requests that are due
// back on the outbound queue (outbound.Consumer.Requeue), whatever the Graph API says.
func TestReconcilerAppRequeues(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	sq := testenv.SQS(t)
	outURL, _, _ := testenv.Queues(t, sq)
	ctx := context.Background()
	req := &outbound.Request{ID: "req-due", SenderID: "1001", To: "+16505551234", Text: "later"}
	if _, err := r.store.UpdateRecord(ctx, req.ID, func(cur *outbound.Record) (*outbound.Record, error) {
		if cur == nil {
			cur = &outbound.Record{}
		}
		*cur = outbound.Record{SenderID: "1001", To: req.To, Status: outbound.StatusDeferred, Reason: "budget",
			NextAttemptAt: now.Add(-time.Minute), Request: req, CreatedAt: now.Add(-time.Hour)}
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	run, err := app.Reconciler(app.Deps{Config: config.Config{OutboundQueueURL: outURL}, Store: r.store, SQS: sq,
		Graph: r.graph, Log: logging.New(r.logs, "INFO"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := run(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(outURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || !strings.Contains(aws.ToString(out.Messages[0].Body), `"req-due"`) {
		t.Fatalf("queue = %+v", out.Messages)
	}
	rec, err := r.store.GetRecord(ctx, req.ID)
	if err != nil || rec.Status != outbound.StatusQueued {
		t.Errorf("record after requeue = %+v, %v", rec, err)
	}
}
