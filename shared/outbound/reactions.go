package outbound

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

// State changes and waits applied after Meta's answers (reference §6).
const (
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
)

// react applies customer.ReactionTo for Meta's error code: the one table the webhook applies to
// failed statuses too, so a 131026/131047/131050 means the same whichever way it arrives.
func (c *Consumer) react(ctx context.Context, j *job, code int, now time.Time) error {
	r, ok := customer.ReactionTo(code, now)
	if !ok {
		return nil
	}
	switch {
	case r.CloseWindow:
		return c.o.Store.CloseWindow(ctx, j.snd.ID, j.ref, now)
	case r.StopMarketing:
		return c.o.Store.StopMarketing(ctx, j.snd.WABAID, j.ref, "send_error_"+strconv.Itoa(code), now)
	case !r.Mark.UndeliverableUntil.IsZero() || !r.Mark.MarketingCappedUntil.IsZero():
		return c.o.Store.MarkDeliverability(ctx, j.snd.WABAID, j.ref, r.Mark)
	}
	return nil
}

// sendFailed applies Meta's error table (reference §6): each row's state change, then the
// record and whether SQS redelivers.
func (c *Consumer) sendFailed(ctx context.Context, j *job, dec Decision, err error) outcome {
	class := graph.Classify(err)
	code, title := graph.Code(err), errorTitle(err)
	now := c.o.Clock.Now()
	snd := j.snd
	failed := final{status: StatusFailed, mode: dec.Mode, reason: string(class), code: code, title: title}
	c.log.Warn("outbound: send refused", "id", j.req.ID, "sender", snd.ID, "class", string(class), "error_code", code)
	c.m.graphError(class)

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
		if err := c.react(ctx, j, code, now); err != nil {
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
		if err := c.react(ctx, j, code, now); err != nil {
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
		if err := c.react(ctx, j, code, now); err != nil {
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
		if s, err := c.o.Store.UpdateSender(ctx, snd.ID, func(s *sender.Sender) (*sender.Sender, error) {
			// The reconciler's rule: a suspension no ban caused gives way, a ban holds.
			changed, err := s.LoseRegistration(fmt.Sprintf("Meta answered %d: the number is not registered; run setup again", code), sender.SourceOutbound, now)
			if sender.IsRefused(err) || (err == nil && !changed) {
				return nil, persist.ErrNoChange
			}
			return s, err
		}); err != nil && !isNoChange(err) {
			return c.storeFailed(j.d, "mark registration lost", err)
		} else {
			c.cacheSender(s)
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
			if _, err := c.o.Store.UpdateTemplate(ctx, snd.WABAID, t.Name, t.Language, func(cur *template.Template) (*template.Template, error) {
				if cur == nil {
					cur = &template.Template{}
				}
				cur.Status, cur.Reason, cur.UpdatedAt = status, fmt.Sprintf("%s%d", SendErrorReasonPrefix, code), now
				return cur, nil
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
	s, err := c.o.Store.UpdateSender(ctx, id, func(s *sender.Sender) (*sender.Sender, error) {
		if s.Status == sender.StatusSuspended && s.Suspension != nil && s.Suspension.Reason == reason &&
			s.Suspension.Soft == soft && !until.After(s.Suspension.Until) {
			return nil, persist.ErrNoChange
		}
		return s, s.Suspend(reason, until, soft, sender.SourceOutbound, now)
	})
	if err != nil && !isNoChange(err) {
		return err
	}
	c.cacheSender(s)
	return nil
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
