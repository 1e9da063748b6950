package outbound

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
)

// BudgetBusyRetry is the base delay (plus up to as much jitter) before a request whose budget
// claim lost every race is tried again.
const BudgetBusyRetry = 2 * time.Second

// claimBudget counts a template to a recipient without an open window against the portfolio's
// messaging limit; over it the request is deferred until room frees up.
func (c *Consumer) claimBudget(ctx context.Context, j *job, dec Decision) (outcome, bool) {
	key := j.snd.PortfolioKey()
	pf := j.state.Portfolio
	limit := pf.DailyLimit()
	if limit == sender.Unlimited {
		return outcome{}, false
	}
	claim, err := c.o.Store.ClaimBudget(ctx, key, j.ref.Key(), limit)
	if errors.Is(err, persist.ErrConflict) {
		// Busy, not broken: back on the queue shortly, with a record saying why.
		delay := BudgetBusyRetry + time.Duration(rand.Int64N(int64(BudgetBusyRetry)))
		f := final{status: StatusQueued, mode: dec.Mode, reason: ReasonBudgetBusy, next: c.o.Clock.Now().Add(delay),
			detail: "the messaging-limit budget was too busy to count this recipient; tried again shortly"}
		if err := c.write(ctx, j, f); err != nil {
			return c.storeFailed(j.d, "record busy budget", err), true
		}
		return outcome{retry: true, delay: delay, reason: ReasonBudgetBusy}, true
	}
	if err != nil {
		return c.storeFailed(j.d, "claim budget", err), true
	}
	j.claimed = claim.Counted
	if claim.Over {
		return c.finish(ctx, j, final{status: StatusDeferred, mode: dec.Mode, reason: ReasonMessagingLimit, next: claim.RetryAt,
			detail: fmt.Sprintf("the portfolio's messaging limit of %d unique recipients outside the window in 24 h is used up (%s)", limit, orUnknown(pf.Tier))}), true
	}
	return outcome{}, false
}

// releaseBudget uncounts the recipient j claimed when Meta refused the send: a message that
// never reached the customer does not use the portfolio's limit.
func (c *Consumer) releaseBudget(ctx context.Context, j *job) {
	if !j.claimed {
		return
	}
	if err := c.o.Store.ReleaseBudget(ctx, j.snd.PortfolioKey(), j.ref.Key()); err != nil {
		// The recipient then counts until its 24 h are over: the budget errs on the safe side.
		c.log.Warn("outbound: release budget of a refused send", "id", j.req.ID, "error", err.Error())
		return
	}
	j.claimed = false
}
