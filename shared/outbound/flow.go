package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

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
	// conv is the conversation (GroupID); held is set when j is a member of its hold.
	conv string
	held bool
	// claimed is set when this attempt counted the recipient against the messaging limit.
	claimed bool
	// state is what was read before the decision; rec and version are the record as last
	// read or written, valid while known (a write may then be conditioned on version).
	state   State
	rec     *Record
	version int64
	known   bool
}

// process takes one delivery to its outcome; every path that acknowledges it leaves a record.
func (c *Consumer) process(ctx context.Context, d Delivery) outcome {
	req, nums, err := decode([]byte(d.Body))
	if err != nil {
		return c.rejectInvalid(ctx, d, req, err)
	}
	now := c.o.Clock.Now()
	j := &job{d: d, req: req, to: nums.to}
	for round := 0; ; round++ {
		snd, reason, detail, err := c.findSender(ctx, j.req, nums.from)
		if err != nil {
			return c.storeFailed(d, "read sender", err)
		}
		if reason != "" {
			return c.finish(ctx, j, final{status: StatusRejected, reason: reason, detail: detail})
		}
		j.snd = snd
		ref := customer.Ref{Phone: j.to, UserID: j.req.ToUserID}
		var cached bool
		j.ref, cached = c.cachedCustomer(snd.WABAID, ref)
		j.conv = GroupID(j.req)
		q := c.stateQuery(j)
		q.Alias = !cached
		st, err := c.o.Store.ReadState(ctx, q)
		if err != nil {
			return c.storeFailed(d, "read state", err)
		}
		if !cached {
			// Only a found alias is kept: "none yet" would hide one the webhook learns later
			// (and the window it keys), while reading it again costs nothing in the batch.
			if len(st.Customer.Keys()) > len(ref.Keys()) {
				c.cacheCustomer(snd.WABAID, ref, st.Customer)
				// The customer is also known by another key: read its state under both.
				j.ref = st.Customer
				if st, err = c.o.Store.ReadState(ctx, c.stateQuery(j)); err != nil {
					return c.storeFailed(d, "read state", err)
				}
			}
		}
		j.state, j.rec, j.version, j.known = st, st.Record, st.RecordVersion, true
		rec := st.Record
		if rec == nil || rec.Request == nil || settled(rec) {
			break
		}
		// The first request under an id wins; when the repeat names another sender or
		// recipient, the state of the first is read instead (once).
		first := *rec.Request
		same := sameTarget(first, j.req)
		j.req = first
		if same || round > 0 {
			break
		}
		nums, _ = validate(j.req)
		j.to = nums.to
	}
	if rec := j.rec; rec != nil {
		if settled(rec) {
			c.log.Info("outbound: duplicate request acknowledged", "id", req.ID, "status", string(rec.Status))
			return outcome{}
		}
		if rec.Status == StatusSending {
			if o, wait := c.awaitAnswer(rec, d, now); wait {
				return o
			}
		}
		if rec.Status == StatusDeferred && now.Before(rec.NextAttemptAt) {
			// Requeue brings it back when due; this copy (a caller's repeat) is redundant.
			c.log.Info("outbound: request already deferred", "id", req.ID, "next_attempt_at", rec.NextAttemptAt)
			return outcome{}
		}
		j.attempts = rec.Attempts
	}
	if o, done := c.checkHold(ctx, j, now); done {
		return o
	}
	return c.decideAndSend(ctx, j)
}

// stateQuery names what j's decision reads.
func (c *Consumer) stateQuery(j *job) StateQuery {
	q := StateQuery{RequestID: j.req.ID, Conv: j.conv, PhoneNumberID: j.snd.ID, WABA: j.snd.WABAID, Customer: j.ref,
		Template: j.req.Template, PauseScopes: []string{PauseScopeTokenOf(j.snd), PauseScopePayment(j.snd.WABAID)},
		Pair: c.o.SharedPacing}
	if j.req.Template != nil {
		q.PortfolioKey = j.snd.PortfolioKey()
	}
	return q
}

// sameTarget reports whether two requests under one id name the same sender, recipient and
// template, so that the state read for one serves the other.
func sameTarget(a, b Request) bool {
	if a.SenderID != b.SenderID || a.From != b.From || a.To != b.To || a.ToUserID != b.ToUserID {
		return false
	}
	if a.Template == nil || b.Template == nil {
		return a.Template == nil && b.Template == nil
	}
	return a.Template.Name == b.Template.Name && a.Template.Language == b.Template.Language
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
		s, err := c.sender(ctx, req.SenderID)
		if errors.Is(err, persist.ErrNotFound) {
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
		s, err := c.senderByPhone(ctx, e164)
		if errors.Is(err, persist.ErrNotFound) {
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
	dec := Decide(c.gather(j))
	switch dec.Action {
	case ActionReject:
		return c.finish(ctx, j, final{status: StatusRejected, reason: dec.Reason, detail: dec.Detail})
	case ActionDefer:
		return c.finish(ctx, j, final{status: StatusDeferred, reason: dec.Reason, detail: dec.Detail, next: dec.RetryAt})
	}
	return c.send(ctx, j, dec)
}

// gather turns the state read for j into what Decide needs.
func (c *Consumer) gather(j *job) Facts {
	st := j.state
	f := Facts{Now: c.o.Clock.Now(), Request: j.req, Sender: j.snd, WindowClosedByMeta: j.closedByMeta,
		RecipientRegion: region(j.ref), OptOut: st.OptOut}
	if st.HasWindow {
		f.Window = st.Window
	}
	if j.req.Template != nil {
		// Deliverability marks only ever hold back templates.
		f.Deliverability, f.Template = st.Deliverability, st.Template
	}
	return f
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
	if p := j.state.Pauses[PauseScopeTokenOf(j.snd)]; p.Until.After(now) {
		return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonTokenInvalid, next: p.Until,
			detail: "the business's sends are paused: Meta refused its access token (190); replace it (PUT /businesses/{id}/token or the secret)"})
	}
	if dec.Chargeable {
		if p := j.state.Pauses[PauseScopePayment(j.snd.WABAID)]; p.Until.After(now) {
			return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonPaymentIssue, next: p.Until,
				detail: "chargeable sends of WABA " + j.snd.WABAID + " are held: Meta reported a payment problem (131042)"})
		}
	}
	if dec.CountsAgainstLimit {
		if o, done := c.claimBudget(ctx, j, dec); done {
			return o
		}
	}

	var wait time.Duration
	ok := true
	if c.o.SharedPacing {
		var err error
		if wait, ok, err = c.paceShared(ctx, j); err != nil {
			return c.storeFailed(j.d, "pace", err)
		}
	} else {
		rate := max(1, c.sendRate(j)/c.o.Instances)
		wait, ok = c.o.Pacer.Reserve(now, j.snd.ID, j.ref.Key(), rate, c.inlineWait(ctx))
	}
	if !ok {
		c.finish(ctx, j, final{status: StatusQueued, mode: dec.Mode, reason: ReasonPaced, next: now.Add(wait),
			detail: "held back by pacing (the pair rate limit of one message per 6 s to a recipient, or the sender's throughput); back on the queue"})
		return outcome{retry: true, delay: wait, reason: ReasonPaced}
	}
	if err := c.o.Clock.Sleep(ctx, wait); err != nil {
		return outcome{retry: true, reason: ReasonOutOfTime}
	}

	// The attempt is recorded before the call: if the answer is lost, or the process dies
	// before the outcome is written, the redelivery finds it and waits for Meta's status.
	j.attempts++
	start := c.o.Clock.Now()
	if err := c.write(ctx, j, final{status: StatusSending, mode: dec.Mode, sendingAt: start,
		detail: "sent to Meta; waiting for its answer"}); err != nil {
		return c.storeFailed(j.d, "record send attempt", err)
	}
	res, err := c.o.Graph.SendMessage(ctx, j.snd.ID, c.message(j, dec))
	if err != nil {
		if AnswerLost(err) {
			return c.lostAnswer(ctx, j, dec, start, err)
		}
		return c.sendFailed(ctx, j, dec, err)
	}
	return c.sent(ctx, j, dec, res)
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
	f := final{status: StatusSent, mode: dec.Mode, wamid: res.WAMID}
	if j.fallback {
		f.detail = "sent as its template after Meta answered 131047 (window closed)"
	}
	if res.MessageStatus != "" && res.MessageStatus != "accepted" {
		f.detail = strings.TrimPrefix(f.detail+"; Meta's message_status is "+res.MessageStatus, "; ")
	}
	// The common case is one write: the record, conditioned on the version this attempt wrote,
	// with the wamid lookup and a check that no status overtook the send.
	if c.sentFast(ctx, j, f) {
		c.afterSent(ctx, j, dec, res)
		return outcome{}
	}
	// The message is out: from here on nothing may cause a resend, so failures are logged.
	if err := c.o.Store.PutWAMID(ctx, res.WAMID, j.req.ID); err != nil {
		c.log.Error("outbound: sent but the wamid lookup was not stored", "id", j.req.ID, "wamid", res.WAMID, "error", err.Error())
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
		if rec, err := c.o.Orphans.ApplyOrphans(ctx, res.WAMID, j.req.ID); err != nil {
			c.log.Warn("outbound: apply early statuses", "id", j.req.ID, "wamid", res.WAMID, "error", err.Error())
		} else if err := c.asyncFallback(ctx, j, rec); err != nil {
			c.log.Warn("outbound: template fallback after an early 131047", "id", j.req.ID, "error", err.Error())
		}
	}
	c.afterSent(ctx, j, dec, res)
	return outcome{}
}

// sentFast writes the sent record and the wamid lookup in one transaction, when the record's
// version is known and no status is waiting for the wamid; false sends the caller to the slow
// path, which also applies such statuses.
func (c *Consumer) sentFast(ctx context.Context, j *job, f final) bool {
	if !j.known {
		return false
	}
	next, err := c.recordUpdate(j, f)(j.copyRec())
	if err != nil || next == nil {
		return false
	}
	next.ID = j.req.ID
	err = c.o.Store.PutSentRecord(ctx, next, j.version)
	if err != nil {
		if !errors.Is(err, persist.ErrConflict) && !errors.Is(err, ErrOrphanStatuses) {
			c.log.Warn("outbound: record sent", "id", j.req.ID, "error", err.Error())
		}
		j.known = false
		return false
	}
	j.rec, j.version = next, j.version+1
	c.m.recorded(f.status, f.reason)
	return true
}

// afterSent leaves the conversation's hold and logs the send.
func (c *Consumer) afterSent(ctx context.Context, j *job, dec Decision, res graph.SendResult) {
	if j.held {
		if err := c.leaveHold(ctx, j.conv, j.req.ID); err != nil {
			c.log.Warn("outbound: leave conversation hold", "id", j.req.ID, "error", err.Error())
		}
	}
	c.log.Info("outbound: sent", "id", j.req.ID, "sender", j.snd.ID, "mode", string(dec.Mode), "wamid", res.WAMID, "attempts", j.attempts)
}

// asyncFallback handles a failed 131047 status that overtook the send (applied from the
// statuses the webhook kept): the window is closed and the request's template is enqueued as
// its own request (TemplateFallback), once — the same re-send the webhook makes when the status
// comes later. The enqueue comes first; a repeat is absorbed by SQS deduplication and by the
// consumer's idempotency on the fallback's id. rec is the record as the orphan statuses left
// it (nil when there is none).
func (c *Consumer) asyncFallback(ctx context.Context, j *job, rec *Record) error {
	if rec == nil {
		return nil
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
	_, err = c.o.Store.UpdateRecord(ctx, rec.ID, func(cur *Record) (*Record, error) {
		if cur == nil || cur.FallbackID != "" {
			return nil, persist.ErrNoChange
		}
		cur.FallbackID, cur.UpdatedAt = fb.ID, c.o.Clock.Now()
		return cur, nil
	})
	if isNoChange(err) {
		err = nil
	}
	c.log.Info("outbound: 131047 arrived before the send was recorded: template re-send enqueued", "id", rec.ID, "fallback_id", fb.ID)
	return err
}
