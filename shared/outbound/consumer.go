package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nyaruka/phonenumbers"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

// Delivery is one message received from the outbound queue.
type Delivery struct {
	MessageID     string
	ReceiptHandle string
	Body          string
	// GroupID is the FIFO MessageGroupId; empty on a standard queue (each message its own group).
	GroupID string
	// ReceiveCount is SQS's ApproximateReceiveCount (1 on the first delivery).
	ReceiveCount int
}

// Options configure a Consumer. Store, Graph and QueueURL are required.
type Options struct {
	Store Store
	// Orphans applies statuses the webhook stored before the send was recorded; nil skips it.
	Orphans OrphanStatuses
	Graph   Messenger
	// Visibility sets the retry delay of failed messages; nil leaves the queue's visibility
	// timeout in charge.
	Visibility Visibility
	// Queue re-enqueues deferred requests (Requeue); nil disables Requeue.
	Queue    Enqueuer
	QueueURL string
	Clock    Clock
	Pacer    *Pacer
	Log      *slog.Logger
	// ThroughputPerSecond is a sender's rate at the STANDARD throughput level (default 80).
	ThroughputPerSecond int
	// Instances divides each sender's rate: the number of consumers that may send for one
	// sender at once (the event source's maximum concurrency). Default 1.
	Instances int
	// Concurrency bounds the message groups of one batch processed at once (default 10).
	Concurrency int
	// MaxInlineWait is the longest pacing wait slept inside an invocation; longer ones put the
	// message back on the queue for that long (default 10 s).
	MaxInlineWait time.Duration
	// Reserve is the time kept back before the invocation's deadline: no message is started
	// with less left (default 12 s: a Graph call's timeout plus margin).
	Reserve time.Duration
	// MaxReceiveCount is the queue's redrive maxReceiveCount, to record that a message's last
	// failed receive sends it to the DLQ (default 8, template.yaml's).
	MaxReceiveCount int
	// Backoff is the retry delay of a retryable failure on a message's receiveCount-th receive
	// (default DefaultBackoff).
	Backoff func(class graph.Class, receiveCount int) time.Duration
	// Metrics receives the EMF counters (metrics.go), one line per invocation; nil discards.
	Metrics io.Writer
}

// State changes and waits applied after Meta's answers (reference §6).
const (
	// UndeliverableFor is how long a 131026 recipient is refused templates.
	UndeliverableFor = 24 * time.Hour
	// SpamPause is how long a sender is soft-suspended after 131048 (template and bulk traffic
	// paused; replies inside the window continue).
	SpamPause = 6 * time.Hour
	// LimitCutPause is how long a sender's templates are held after 131064.
	LimitCutPause = 24 * time.Hour
	// TokenPause is how long every send is held after 190 before Meta is asked again.
	TokenPause = 15 * time.Minute
	// PaymentPause is how long a WABA's chargeable sends are held after 131042.
	PaymentPause = time.Hour
	// TemplatePausedRetry is when a request whose template Meta paused (132015) is tried again:
	// Meta's first pause lasts 3 hours.
	TemplatePausedRetry = 3 * time.Hour
	// ThroughputHold is how long a sender's sends are held after 130429.
	ThroughputHold = time.Second
	// pauseCacheTTL bounds how stale a cached pause read may be.
	pauseCacheTTL = 5 * time.Second
)

// Consumer is the outbound pipeline: it decides, for each request on the queue, free-form,
// template or refusal, paces and sends through the Graph API, and records the outcome.
type Consumer struct {
	o   Options
	log *slog.Logger

	pmu    sync.Mutex
	pauses map[string]cachedPause

	m *sendMetrics
}

type cachedPause struct {
	p  Pause
	at time.Time
}

// NewConsumer checks o and fills its defaults.
func NewConsumer(o Options) (*Consumer, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("outbound consumer: no store")
	case o.Graph == nil:
		return nil, errors.New("outbound consumer: no Graph API client")
	case o.QueueURL == "":
		return nil, errors.New("outbound consumer: no queue URL")
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Pacer == nil {
		o.Pacer = NewPacer()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ThroughputPerSecond <= 0 {
		o.ThroughputPerSecond = 80
	}
	if o.Instances <= 0 {
		o.Instances = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 10
	}
	if o.MaxInlineWait <= 0 {
		o.MaxInlineWait = 10 * time.Second
	}
	if o.Reserve <= 0 {
		o.Reserve = 12 * time.Second
	}
	if o.MaxReceiveCount <= 0 {
		o.MaxReceiveCount = 8
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	return &Consumer{o: o, log: o.Log, pauses: map[string]cachedPause{}, m: newSendMetrics(o.Metrics)}, nil
}

// DefaultBackoff is the retry delay of a retryable failure: Meta's 4^X seconds for the pair
// rate limit (X = earlier receives), a minute for maintenance, 30 s doubling for the call-rate
// limits, 1 s doubling (capped at 5 minutes) otherwise; with up to 20 % jitter so that retries
// of one burst spread out.
func DefaultBackoff(class graph.Class, receiveCount int) time.Duration {
	n := max(receiveCount, 1) - 1
	var d time.Duration
	switch class {
	case graph.ClassPairRate:
		return graph.PairRateBackoff(n)
	case graph.ClassMaintenance:
		d = graph.ClassMaintenance.Wait()
	case graph.ClassCallRate:
		d = min(30*time.Second<<min(n, 5), 15*time.Minute)
	default:
		d = min(time.Second<<min(n, 9), 5*time.Minute)
	}
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// HandleEvent is the Lambda handler: failed messages are reported as batch item failures
// (keyed by MessageId) so that SQS redelivers them; everything else is deleted.
func (c *Consumer) HandleEvent(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ds := make([]Delivery, len(ev.Records))
	for i, r := range ev.Records {
		n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
		ds[i] = Delivery{MessageID: r.MessageId, ReceiptHandle: r.ReceiptHandle, Body: r.Body,
			GroupID: r.Attributes["MessageGroupId"], ReceiveCount: n}
	}
	failed := c.Handle(ctx, ds)
	defer func() { _ = c.m.flush(c.o.Clock.Now()) }()
	resp := events.SQSEventResponse{BatchItemFailures: make([]events.SQSBatchItemFailure, 0, len(failed))}
	for _, id := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return resp, nil
}

// Handle processes one batch and returns the MessageIds to redeliver. Groups run concurrently,
// the messages of a group in order; once one fails, the later ones of its group are failed
// unprocessed (FIFO order), with the same retry delay.
func (c *Consumer) Handle(ctx context.Context, batch []Delivery) []string {
	var order []string
	groups := map[string][]int{}
	for i, d := range batch {
		g := d.GroupID
		if g == "" {
			g = "\x00" + d.MessageID
		}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	results := make([]outcome, len(batch))
	sem := make(chan struct{}, c.o.Concurrency)
	var wg sync.WaitGroup
	for _, g := range order {
		idx := groups[g]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for k, i := range idx {
				var r outcome
				if c.outOfTime(ctx) {
					r = outcome{retry: true}
				} else {
					r = c.process(ctx, batch[i])
				}
				results[i] = r
				if r.retry {
					for _, later := range idx[k+1:] {
						results[later] = outcome{retry: true, delay: r.delay}
					}
					return
				}
			}
		}()
	}
	wg.Wait()

	var failed []string
	var changes []VisibilityChange
	for i, r := range results {
		if r.retry {
			failed = append(failed, batch[i].MessageID)
			if batch[i].ReceiptHandle != "" {
				changes = append(changes, VisibilityChange{ReceiptHandle: batch[i].ReceiptHandle, Delay: r.delay})
			}
		}
	}
	if len(changes) > 0 && c.o.Visibility != nil {
		// Without a deadline of our own the change could outlive a cancelled invocation.
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := c.o.Visibility.ChangeVisibility(vctx, c.o.QueueURL, changes); err != nil {
			// The queue's own visibility timeout then decides when they come back.
			c.log.Warn("outbound: change visibility of failed messages", "count", len(changes), "error", err.Error())
		}
	}
	return failed
}

// outcome is what one delivery ends in: acknowledged (deleted), or redelivered after delay.
type outcome struct {
	retry bool
	delay time.Duration
}

// outOfTime reports that the invocation has too little time left to start a message.
func (c *Consumer) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < c.o.Reserve
}

// inlineWait is the longest pacing wait to sleep now.
func (c *Consumer) inlineWait(ctx context.Context) time.Duration {
	w := c.o.MaxInlineWait
	if dl, ok := ctx.Deadline(); ok {
		w = min(w, time.Until(dl)-c.o.Reserve)
	}
	return max(w, 0)
}

// job is one request being processed.
type job struct {
	d        Delivery
	req      Request
	attempts int
	snd      *sender.Sender
	// ref is the recipient, completed from the alias table (phone and/or BSUID).
	ref customer.Ref
	// to is the normalised E.164 of the request's `to`, when given.
	to string
	// closedByMeta is set once Meta answered 131047 for this request (the template fallback
	// runs at most once).
	closedByMeta bool
	fallback     bool
}

// process takes one delivery to its outcome; every path that acknowledges it leaves a record.
func (c *Consumer) process(ctx context.Context, d Delivery) outcome {
	req, nums, err := decode([]byte(d.Body))
	if err != nil {
		return c.rejectInvalid(ctx, d, req, err)
	}
	rec, err := c.o.Store.GetRecord(ctx, req.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		rec = nil
	case err != nil:
		return c.storeFailed(d, "read record", err)
	}
	now := c.o.Clock.Now()
	j := &job{d: d, req: req}
	if rec != nil {
		if settled(rec) {
			c.log.Info("outbound: duplicate request acknowledged", "id", req.ID, "status", string(rec.Status))
			return outcome{}
		}
		if rec.Status == StatusDeferred && now.Before(rec.NextAttemptAt) {
			// Requeue brings it back when due; this copy (a caller's repeat) is redundant.
			c.log.Info("outbound: request already deferred", "id", req.ID, "next_attempt_at", rec.NextAttemptAt)
			return outcome{}
		}
		if rec.Request != nil {
			j.req = *rec.Request // the first request under an id wins
			nums, _ = validate(j.req)
		}
		j.attempts = rec.Attempts
	}
	j.to = nums.to
	snd, reason, detail, err := c.findSender(ctx, j.req, nums.from)
	if err != nil {
		return c.storeFailed(d, "read sender", err)
	}
	if reason != "" {
		return c.finish(ctx, j, final{status: StatusRejected, reason: reason, detail: detail})
	}
	j.snd = snd
	j.ref, err = c.o.Store.ResolveCustomer(ctx, snd.WABAID, customer.Ref{Phone: j.to, UserID: j.req.ToUserID})
	if err != nil {
		return c.storeFailed(d, "resolve customer", err)
	}
	return c.decideAndSend(ctx, j)
}

// settled reports a record that must not be sent again: sent (or further), failed, rejected.
func settled(r *Record) bool {
	return r.Status.Rank() > 0 || r.Status == StatusFailed || r.Status == StatusRejected
}

// findSender resolves the request's sender by phone_number_id and/or E.164. It returns a
// rejection reason when there is none (or the two name different senders).
func (c *Consumer) findSender(ctx context.Context, req Request, e164 string) (*sender.Sender, string, string, error) {
	var snd *sender.Sender
	if req.SenderID != "" {
		s, err := c.o.Store.GetSender(ctx, req.SenderID)
		if errors.Is(err, ErrNotFound) {
			return nil, ReasonUnknownSender, "no sender with phone_number_id " + req.SenderID, nil
		}
		if err != nil {
			return nil, "", "", err
		}
		snd = s
	}
	if req.From != "" {
		if snd != nil {
			if snd.PhoneNumber != e164 {
				return nil, ReasonSenderMismatch, "senderId " + req.SenderID + " is not the sender of from", nil
			}
			return snd, "", "", nil
		}
		s, err := c.o.Store.GetSenderByPhone(ctx, e164)
		if errors.Is(err, ErrNotFound) {
			return nil, ReasonUnknownSender, "no sender has the number in from", nil
		}
		if err != nil {
			return nil, "", "", err
		}
		snd = s
	}
	return snd, "", "", nil
}

// decideAndSend gathers the facts, decides and acts on the decision.
func (c *Consumer) decideAndSend(ctx context.Context, j *job) outcome {
	f, err := c.gather(ctx, j)
	if err != nil {
		return c.storeFailed(j.d, "read customer state", err)
	}
	dec := Decide(f)
	switch dec.Action {
	case ActionReject:
		return c.finish(ctx, j, final{status: StatusRejected, reason: dec.Reason, detail: dec.Detail})
	case ActionDefer:
		return c.finish(ctx, j, final{status: StatusDeferred, reason: dec.Reason, detail: dec.Detail, next: dec.RetryAt})
	}
	return c.send(ctx, j, dec)
}

// gather reads what Decide needs, concurrently.
func (c *Consumer) gather(ctx context.Context, j *job) (Facts, error) {
	snd, st := j.snd, c.o.Store
	f := Facts{Now: c.o.Clock.Now(), Request: j.req, Sender: snd, WindowClosedByMeta: j.closedByMeta,
		RecipientRegion: region(j.ref)}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(what string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
				mu.Unlock()
			}
		}()
	}
	run("window", func() error {
		w, err := st.GetWindow(ctx, snd.ID, snd.WABAID, j.ref)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		f.Window = w
		return err
	})
	run("opt-out", func() (err error) {
		f.OptOut, err = st.GetOptOut(ctx, snd.WABAID, j.ref)
		return err
	})
	if t := j.req.Template; t != nil {
		// Deliverability marks only ever hold back templates.
		run("deliverability", func() (err error) {
			f.Deliverability, err = st.GetDeliverability(ctx, snd.WABAID, j.ref)
			return err
		})
		run("template", func() error {
			tmpl, err := st.GetTemplate(ctx, snd.WABAID, t.Name, t.Language)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err == nil {
				f.Template = &tmpl
			}
			return err
		})
	}
	wg.Wait()
	return f, errors.Join(errs...)
}

// region is the recipient's ISO country when it may matter (the US marketing rule): from the
// phone number, else the BSUID's prefix. Only +1 numbers are parsed: the others are not US.
func region(ref customer.Ref) string {
	if strings.HasPrefix(ref.Phone, "+1") {
		if num, err := phonenumbers.Parse(ref.Phone, ""); err == nil {
			return phonenumbers.GetRegionCodeForNumber(num)
		}
	}
	if ref.Phone != "" {
		return ""
	}
	if cc, _, ok := strings.Cut(ref.UserID, "."); ok {
		return cc
	}
	return ""
}

// send applies the holds (token, payment), the messaging-limit budget and pacing, then sends.
func (c *Consumer) send(ctx context.Context, j *job, dec Decision) outcome {
	now := c.o.Clock.Now()
	p, err := c.pause(ctx, PauseScopeTokenOf(j.snd))
	if err != nil {
		return c.storeFailed(j.d, "read pause", err)
	}
	if p.Until.After(now) {
		return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonTokenInvalid, next: p.Until,
			detail: "the business's sends are paused: Meta refused its access token (190); replace it (PUT /businesses/{id}/token or the secret)"})
	}
	if dec.Chargeable {
		p, err := c.pause(ctx, PauseScopePayment(j.snd.WABAID))
		if err != nil {
			return c.storeFailed(j.d, "read pause", err)
		}
		if p.Until.After(now) {
			return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonPaymentIssue, next: p.Until,
				detail: "chargeable sends of WABA " + j.snd.WABAID + " are held: Meta reported a payment problem (131042)"})
		}
	}
	if dec.CountsAgainstLimit {
		if o, done := c.claimBudget(ctx, j, dec); done {
			return o
		}
	}

	rate := c.o.ThroughputPerSecond
	if strings.EqualFold(j.snd.ThroughputLevel, "HIGH") {
		rate = HighThroughputPerSecond
	}
	rate = max(1, rate/c.o.Instances)
	wait, ok := c.o.Pacer.Reserve(now, j.snd.ID, j.ref.Key(), rate, c.inlineWait(ctx))
	if !ok {
		c.finish(ctx, j, final{status: StatusQueued, mode: dec.Mode, reason: ReasonPaced, next: now.Add(wait),
			detail: "held back by pacing (the pair rate limit of one message per 6 s to a recipient, or the sender's throughput); back on the queue"})
		return outcome{retry: true, delay: wait}
	}
	if err := c.o.Clock.Sleep(ctx, wait); err != nil {
		return outcome{retry: true}
	}

	res, err := c.o.Graph.SendMessage(ctx, j.snd.ID, c.message(j, dec))
	j.attempts++
	if err != nil {
		return c.sendFailed(ctx, j, dec, err)
	}
	return c.sent(ctx, j, dec, res)
}

// claimBudget counts a template to a recipient without an open window against the portfolio's
// messaging limit; over it the request is deferred until room frees up.
func (c *Consumer) claimBudget(ctx context.Context, j *job, dec Decision) (outcome, bool) {
	key := j.snd.PortfolioKey()
	pf, err := c.o.Store.GetPortfolio(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return c.storeFailed(j.d, "read portfolio", err), true
	}
	limit := pf.DailyLimit()
	if limit == sender.Unlimited {
		return outcome{}, false
	}
	claim, err := c.o.Store.ClaimBudget(ctx, key, j.ref.Key(), limit)
	if err != nil {
		return c.storeFailed(j.d, "claim budget", err), true
	}
	if claim.Over {
		return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonMessagingLimit, next: claim.RetryAt,
			detail: fmt.Sprintf("the portfolio's messaging limit of %d unique recipients outside the window in 24 h is used up (%s)", limit, orUnknown(pf.Tier))}), true
	}
	return outcome{}, false
}

// message builds the Graph API send: biz_opaque_callback_data is the request id (statuses
// come back with it), `recipient` is the BSUID when no phone number is known.
func (c *Consumer) message(j *job, dec Decision) graph.Message {
	m := graph.Message{BizOpaqueCallbackData: j.req.ID}
	switch {
	case j.to != "":
		m.To = j.to
	case j.ref.Phone != "":
		m.To = j.ref.Phone
	default:
		m.Recipient = j.ref.UserID
	}
	req := j.req
	if dec.Mode == ModeTemplate {
		t := req.Template
		m.Template = &graph.Template{Name: t.Name, Language: graph.Language{Code: template.NormalizeLanguage(t.Language)}, Components: t.Components}
		return m
	}
	if req.ReplyTo != "" {
		m.Context = &graph.Context{MessageID: req.ReplyTo}
	}
	if req.Text != "" {
		m.Text = &graph.Text{Body: req.Text}
		return m
	}
	md := req.Media
	gm := &graph.Media{ID: md.ID, Link: md.Link, Caption: md.Caption, Filename: md.Filename}
	switch md.Type {
	case "image":
		m.Image = gm
	case "video":
		m.Video = gm
	case "audio":
		m.Audio = gm
	case "document":
		m.Document = gm
	case "sticker":
		m.Sticker = gm
	}
	return m
}

// sent records a successful send: the wamid lookup first (status webhooks need it), then the
// record, then any status that arrived before them.
func (c *Consumer) sent(ctx context.Context, j *job, dec Decision, res graph.SendResult) outcome {
	// The message is out: from here on nothing may cause a resend, so failures are logged.
	if err := c.o.Store.PutWAMID(ctx, res.WAMID, j.req.ID); err != nil {
		c.log.Error("outbound: sent but the wamid lookup was not stored", "id", j.req.ID, "wamid", res.WAMID, "error", err.Error())
	}
	f := final{status: StatusSent, mode: dec.Mode, wamid: res.WAMID}
	if j.fallback {
		f.detail = "sent as its template after Meta answered 131047 (window closed)"
	}
	if res.MessageStatus != "" && res.MessageStatus != "accepted" {
		f.detail = strings.TrimPrefix(f.detail+"; Meta's message_status is "+res.MessageStatus, "; ")
	}
	for attempt := 0; ; attempt++ {
		err := c.write(ctx, j, f)
		if err == nil {
			break
		}
		if attempt == 2 || ctx.Err() != nil {
			c.log.Error("outbound: sent but the record was not updated", "id", j.req.ID, "wamid", res.WAMID, "error", err.Error())
			break
		}
		_ = c.o.Clock.Sleep(ctx, time.Duration(attempt+1)*100*time.Millisecond)
	}
	if c.o.Orphans != nil {
		if err := c.o.Orphans.ApplyOrphanStatuses(ctx, res.WAMID, j.req.ID); err != nil {
			c.log.Warn("outbound: apply early statuses", "id", j.req.ID, "wamid", res.WAMID, "error", err.Error())
		} else if err := c.asyncFallback(ctx, j); err != nil {
			c.log.Warn("outbound: template fallback after an early 131047", "id", j.req.ID, "error", err.Error())
		}
	}
	c.log.Info("outbound: sent", "id", j.req.ID, "sender", j.snd.ID, "mode", string(dec.Mode), "wamid", res.WAMID, "attempts", j.attempts)
	return outcome{}
}

// asyncFallback handles a failed 131047 status that overtook the send (applied from the
// statuses the webhook kept): the window is closed and the request's template is enqueued as
// its own request (TemplateFallback), once — the same re-send the webhook makes when the status
// comes later. The enqueue comes first; a repeat is absorbed by SQS deduplication and by the
// consumer's idempotency on the fallback's id.
func (c *Consumer) asyncFallback(ctx context.Context, j *job) error {
	rec, err := c.o.Store.GetRecord(ctx, j.req.ID)
	if err != nil {
		return err
	}
	if rec.Status != StatusFailed || rec.ErrorCode != graph.CodeWindowClosed {
		return nil
	}
	if err := c.o.Store.CloseWindow(ctx, j.snd.ID, j.ref, c.o.Clock.Now()); err != nil {
		return err
	}
	fb, ok := TemplateFallback(*rec)
	if !ok || c.o.Queue == nil {
		return nil
	}
	body, err := json.Marshal(fb)
	if err != nil {
		return err
	}
	if err := c.o.Queue.Send(ctx, c.o.QueueURL, GroupID(fb), DedupeID(fb), string(body)); err != nil {
		return err
	}
	_, err = c.o.Store.UpdateRecord(ctx, rec.ID, func(cur *Record, found bool) error {
		if !found || cur.FallbackID != "" {
			return ErrNoChange
		}
		cur.FallbackID, cur.UpdatedAt = fb.ID, c.o.Clock.Now()
		return nil
	})
	if isNoChange(err) {
		err = nil
	}
	c.log.Info("outbound: 131047 arrived before the send was recorded: template re-send enqueued", "id", rec.ID, "fallback_id", fb.ID)
	return err
}

// sendFailed applies Meta's error table (reference §6): each row's state change, then the
// record and whether SQS redelivers.
func (c *Consumer) sendFailed(ctx context.Context, j *job, dec Decision, err error) outcome {
	class := graph.Classify(err)
	c.m.graphError(class)
	code, title := graph.Code(err), errorTitle(err)
	now := c.o.Clock.Now()
	snd := j.snd
	failed := final{status: StatusFailed, mode: dec.Mode, reason: string(class), code: code, title: title}
	c.log.Warn("outbound: send refused", "id", j.req.ID, "sender", snd.ID, "class", string(class), "error_code", code)

	switch class {
	case graph.ClassThroughput:
		c.o.Pacer.Throttle(now, snd.ID, ThroughputHold)
		return c.retry(ctx, j, dec, class, code, title)
	case graph.ClassPairRate:
		c.o.Pacer.ThrottlePair(now, snd.ID, j.ref.Key(), c.o.Backoff(class, j.d.ReceiveCount))
		return c.retry(ctx, j, dec, class, code, title)
	case graph.ClassMaintenance, graph.ClassCallRate, graph.ClassTransient, graph.ClassNetwork:
		return c.retry(ctx, j, dec, class, code, title)
	case graph.ClassAmbiguous:
		// Sometimes a passing fault, sometimes a bad request: a few tries, then failed.
		if j.attempts <= class.RetryLimit() {
			return c.retry(ctx, j, dec, class, code, title)
		}
		return c.finish(ctx, j, failed)

	case graph.ClassWindowClosed:
		if err := c.o.Store.CloseWindow(ctx, snd.ID, j.ref, now); err != nil {
			return c.storeFailed(j.d, "close window", err)
		}
		if dec.Mode == ModeFreeform && j.req.Template != nil && !j.closedByMeta {
			// Meta is authoritative on the window: resend as the template, exactly once.
			j.closedByMeta, j.fallback = true, true
			return c.decideAndSend(ctx, j)
		}
		if dec.Mode == ModeFreeform {
			failed.reason = ReasonWindowClosedTemplateRequired
			failed.detail = "Meta closed the customer service window (131047) and the request has no template"
		}
		return c.finish(ctx, j, failed)

	case graph.ClassUndeliverable:
		if err := c.o.Store.MarkDeliverability(ctx, snd.WABAID, j.ref, customer.Deliverability{
			UndeliverableUntil: now.Add(UndeliverableFor), Reason: strconv.Itoa(code)}); err != nil {
			return c.storeFailed(j.d, "mark undeliverable", err)
		}
		return c.finish(ctx, j, failed)

	case graph.ClassMarketingCap:
		until := now.Add(graph.ClassMarketingCap.Wait())
		if err := c.o.Store.MarkDeliverability(ctx, snd.WABAID, j.ref, customer.Deliverability{
			MarketingCappedUntil: until, Reason: strconv.Itoa(code)}); err != nil {
			return c.storeFailed(j.d, "mark marketing cap", err)
		}
		return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonMarketingCap, next: until,
			code: code, title: title, detail: "Meta's per-user marketing cap (131049): tried again in 24 h"})

	case graph.ClassMarketingOptOut:
		if err := c.o.Store.StopMarketing(ctx, snd.WABAID, j.ref, "send_error_131050", now); err != nil {
			return c.storeFailed(j.d, "record opt-out", err)
		}
		failed.reason = ReasonOptedOutMarketing
		return c.finish(ctx, j, failed)

	case graph.ClassSpamRate:
		until := now.Add(SpamPause)
		if err := c.suspend(ctx, snd.ID, "spam rate limit (131048): template and bulk traffic paused", until, true, now); err != nil {
			return c.storeFailed(j.d, "soft-suspend sender", err)
		}
		return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonSenderSoftSuspended, next: until,
			code: code, title: title, detail: "Meta's spam rate limit (131048): the sender is soft-suspended"})

	case graph.ClassLimitCut:
		if err := c.suspend(ctx, snd.ID, "messaging limit cut for template-classification violations (131064)", now.Add(LimitCutPause), true, now); err != nil {
			return c.storeFailed(j.d, "soft-suspend sender", err)
		}
		return c.finish(ctx, j, failed)

	case graph.ClassAccountRestricted, graph.ClassAccountLocked:
		reason := fmt.Sprintf("Meta answered %d (%s) to a send", code, class)
		if err := c.suspend(ctx, snd.ID, reason, time.Time{}, false, now); err != nil {
			return c.storeFailed(j.d, "suspend sender", err)
		}
		c.log.Error("outbound: sender suspended", "sender", snd.ID, "error_code", code)
		return c.finish(ctx, j, failed)

	case graph.ClassNotRegistered:
		if _, err := c.o.Store.UpdateSender(ctx, snd.ID, func(s *sender.Sender) error {
			err := s.Fire(sender.EventRegistrationLost, sender.SourceOutbound, fmt.Sprintf("Meta answered %d: the number is not registered; run setup again", code), now)
			if sender.IsRefused(err) {
				return ErrNoChange
			}
			return err
		}); err != nil && !isNoChange(err) {
			return c.storeFailed(j.d, "mark registration lost", err)
		}
		c.log.Error("outbound: sender needs re-registration", "sender", snd.ID, "error_code", code)
		return c.finish(ctx, j, failed)

	case graph.ClassPayment:
		until := now.Add(PaymentPause)
		if err := c.setPause(ctx, Pause{Scope: PauseScopePayment(snd.WABAID), Until: until, Reason: "payment problem (131042)"}); err != nil {
			return c.storeFailed(j.d, "hold chargeable sends", err)
		}
		c.log.Error("outbound: ALERT payment problem: chargeable sends of the WABA held", "waba", snd.WABAID, "until", until)
		return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonPaymentIssue, next: until,
			code: code, title: title, detail: "Meta reported a payment problem (131042); chargeable sends of the WABA are held"})

	case graph.ClassTokenInvalid:
		until := now.Add(TokenPause)
		if err := c.setPause(ctx, Pause{Scope: PauseScopeTokenOf(snd), Until: until, Reason: "access token refused (190)"}); err != nil {
			return c.storeFailed(j.d, "pause sends", err)
		}
		c.log.Error("outbound: ALERT access token refused by Meta: the business's sends paused", "portfolio", snd.PortfolioKey(), "until", until)
		return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonTokenInvalid, next: until,
			code: code, title: title, detail: "Meta refused the business's access token (190); its sends are paused until it is replaced"})

	case graph.ClassTemplatePaused, graph.ClassTemplateDisabled, graph.ClassTemplateMissing:
		status := map[graph.Class]string{graph.ClassTemplatePaused: "PAUSED", graph.ClassTemplateDisabled: "DISABLED",
			graph.ClassTemplateMissing: TemplateStatusMissing}[class]
		if t := j.req.Template; t != nil {
			if _, err := c.o.Store.UpdateTemplate(ctx, snd.WABAID, t.Name, t.Language, func(cur *template.Template, _ bool) error {
				cur.Status, cur.Reason, cur.UpdatedAt = status, fmt.Sprintf("send error %d", code), now
				return nil
			}); err != nil {
				return c.storeFailed(j.d, "update template", err)
			}
		}
		if class == graph.ClassTemplatePaused {
			return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonTemplatePaused, next: now.Add(TemplatePausedRetry),
				code: code, title: title, detail: "Meta paused the template (132015); tried again later, refused if still paused"})
		}
		return c.finish(ctx, j, failed)

	case graph.ClassUnsupportedType, graph.ClassSameNumber, graph.ClassBSUIDUnsupported:
		failed.status = StatusRejected
		return c.finish(ctx, j, failed)
	}
	// Template parameters (132000…), invalid parameter (100), country (130497), unknown.
	return c.finish(ctx, j, failed)
}

// suspend applies Meta's suspension of a sender through its state machine.
func (c *Consumer) suspend(ctx context.Context, id, reason string, until time.Time, soft bool, now time.Time) error {
	_, err := c.o.Store.UpdateSender(ctx, id, func(s *sender.Sender) error {
		if s.Status == sender.StatusSuspended && s.Suspension != nil && s.Suspension.Reason == reason &&
			s.Suspension.Soft == soft && !until.After(s.Suspension.Until) {
			return ErrNoChange
		}
		return s.Suspend(reason, until, soft, sender.SourceOutbound, now)
	})
	if err != nil && !isNoChange(err) {
		return err
	}
	return nil
}

func isNoChange(err error) bool { return errors.Is(err, ErrNoChange) }

// retry records a retryable failure and hands the message back to SQS after the backoff.
func (c *Consumer) retry(ctx context.Context, j *job, dec Decision, class graph.Class, code int, title string) outcome {
	delay := c.o.Backoff(class, j.d.ReceiveCount)
	f := final{status: StatusQueued, mode: dec.Mode, reason: string(class), code: code, title: title, next: c.o.Clock.Now().Add(delay)}
	if j.d.ReceiveCount >= c.o.MaxReceiveCount {
		f.reason = ReasonDeadLettered
		f.detail = fmt.Sprintf("%s on receive %d of %d: SQS moves the message to the dead-letter queue; redrive it once the cause is fixed", class, j.d.ReceiveCount, c.o.MaxReceiveCount)
	}
	if err := c.write(ctx, j, f); err != nil {
		c.log.Warn("outbound: record retry", "id", j.req.ID, "error", err.Error())
	}
	return outcome{retry: true, delay: delay}
}

// storeFailed hands a message back to SQS when the table cannot be read or written: nothing is
// recorded (the table is the problem) and nothing is lost (SQS keeps the message).
func (c *Consumer) storeFailed(d Delivery, what string, err error) outcome {
	c.log.Warn("outbound: "+what, "message_id", d.MessageID, "error", err.Error())
	return outcome{retry: true, delay: c.o.Backoff(graph.ClassTransient, d.ReceiveCount)}
}

// rejectInvalid records an invalid request as rejected (never retried). A request without a
// usable id is recorded under "sqs-" + its MessageId.
func (c *Consumer) rejectInvalid(ctx context.Context, d Delivery, req Request, verr error) outcome {
	j := &job{d: d, req: req}
	if j.req.ID == "" {
		j.req = Request{ID: "sqs-" + d.MessageID}
	}
	// A valid request recorded under the same id wins: an invalid repeat never overwrites it.
	f := final{status: StatusRejected, reason: ReasonInvalidRequest, detail: verr.Error(), onlyNew: true}
	if err := c.write(ctx, j, f); err != nil {
		return c.storeFailed(d, "record invalid request", err)
	}
	c.log.Info("outbound: invalid request rejected", "id", j.req.ID, "message_id", d.MessageID, "error", verr.Error())
	return outcome{}
}

// final is the state a record is written in.
type final struct {
	status Status
	mode   Mode
	reason string
	detail string
	code   int
	title  string
	next   time.Time
	wamid  string
	// onlyNew writes the record only if none exists yet.
	onlyNew bool
}

// finish writes the record of a settled (or deferred) request and acknowledges the message; a
// failed write hands the message back to SQS instead, so the outcome is never lost.
func (c *Consumer) finish(ctx context.Context, j *job, f final) outcome {
	if err := c.write(ctx, j, f); err != nil {
		return c.storeFailed(j.d, "write record", err)
	}
	sid := ""
	if j.snd != nil {
		sid = j.snd.ID
	}
	c.log.Info("outbound: "+string(f.status), "id", j.req.ID, "sender", sid, "reason", f.reason, "error_code", f.code)
	return outcome{}
}

// write applies f to the record of j. A record that is already settled is never overwritten,
// except that a send fills in its wamid and mode under a status that overtook it.
func (c *Consumer) write(ctx context.Context, j *job, f final) error {
	now := c.o.Clock.Now()
	applied := false // the closure may run again on a conflict: the last run counts
	_, err := c.o.Store.UpdateRecord(ctx, j.req.ID, func(cur *Record, found bool) error {
		applied = false
		if found && f.onlyNew {
			return ErrNoChange
		}
		if found && settled(cur) {
			if f.status != StatusSent || (cur.WAMID != "" && cur.Mode != "") {
				return ErrNoChange
			}
			if cur.WAMID == "" {
				cur.WAMID = f.wamid
			}
			if cur.Mode == "" {
				cur.Mode = f.mode
			}
			cur.Attempts, cur.UpdatedAt = j.attempts, now
			return nil
		}
		if !found || cur.CreatedAt.IsZero() {
			cur.CreatedAt = now
		}
		req := j.req
		cur.Request = &req
		cur.SenderID, cur.From = req.SenderID, req.From
		if j.snd != nil {
			cur.SenderID, cur.From = j.snd.ID, j.snd.PhoneNumber
		}
		cur.To, cur.ToUserID, cur.AssistantID = req.To, req.ToUserID, req.AssistantID
		if j.to != "" {
			cur.To = j.to
		}
		cur.Status, cur.Reason, cur.Detail = f.status, f.reason, f.detail
		if f.mode != "" {
			cur.Mode = f.mode
		}
		cur.ErrorCode, cur.ErrorTitle = f.code, f.title
		cur.NextAttemptAt = f.next
		if f.wamid != "" {
			cur.WAMID = f.wamid
		}
		cur.Attempts, cur.UpdatedAt = j.attempts, now
		applied = true
		return nil
	})
	if err == nil && applied {
		c.m.recorded(f.status, f.reason)
	}
	if isNoChange(err) {
		return nil
	}
	return err
}

// errorTitle is Meta's message for the record (no content, no token: Meta's error text).
func errorTitle(err error) string {
	var ge *graph.Error
	if errors.As(err, &ge) {
		if ge.Message != "" {
			return ge.Message
		}
		return fmt.Sprintf("HTTP %d", ge.HTTPStatus)
	}
	var te *graph.TransportError
	if errors.As(err, &te) {
		if te.Timeout() {
			return "timeout"
		}
		return "network error"
	}
	return err.Error()
}

// pause returns the hold of scope, cached for a few seconds.
func (c *Consumer) pause(ctx context.Context, scope string) (Pause, error) {
	now := c.o.Clock.Now()
	c.pmu.Lock()
	cp, ok := c.pauses[scope]
	c.pmu.Unlock()
	if ok && now.Sub(cp.at) < pauseCacheTTL && !now.Before(cp.at) {
		return cp.p, nil
	}
	p, err := c.o.Store.GetPause(ctx, scope)
	if errors.Is(err, ErrNotFound) {
		p, err = Pause{Scope: scope}, nil
	}
	if err != nil {
		return Pause{}, err
	}
	c.pmu.Lock()
	c.pauses[scope] = cachedPause{p: p, at: now}
	c.pmu.Unlock()
	return p, nil
}

// setPause stores a hold and makes it visible to this instance at once.
func (c *Consumer) setPause(ctx context.Context, p Pause) error {
	if err := c.o.Store.SetPause(ctx, p); err != nil {
		return err
	}
	c.pmu.Lock()
	c.pauses[p.Scope] = cachedPause{p: p, at: c.o.Clock.Now()}
	c.pmu.Unlock()
	return nil
}
