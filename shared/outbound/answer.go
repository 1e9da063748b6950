package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
)

// DefaultAnswerWait is how long a send whose answer was lost waits for a status webhook before
// it is sent again. Meta's sent status follows an accepted send within seconds; the bound also
// covers a webhook retried by Meta after a short outage of the webhook endpoint.
const DefaultAnswerWait = 3 * time.Minute

// AnswerPoll is the first delay before a request whose answer was lost is looked at again; it
// doubles on each receive up to the end of the answer wait. The status usually comes within
// seconds, and until the request is settled its conversation waits behind it (FIFO).
const AnswerPoll = 5 * time.Second

// answerDelay is how long to keep a request whose answer was lost out of sight on its
// receiveCount-th receive, until.Sub(now) at most.
func answerDelay(receiveCount int, now, until time.Time) time.Duration {
	return max(min(until.Sub(now), AnswerPoll<<min(max(receiveCount, 1)-1, 6)), time.Second)
}

// AnswerLost reports a send error after which Meta may have accepted the message: the request
// went out and no answer came back (timeout, reset, an answer cut short or not understood).
// A connection that was never made is not one: nothing reached Meta.
func AnswerLost(err error) bool {
	if errors.Is(err, graph.ErrUnexpectedResponse) {
		return true
	}
	var te *graph.TransportError
	if !errors.As(err, &te) {
		return false
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return false
	}
	return true
}

// lostAnswer keeps the record in sending (the attempt may have reached the customer) and
// hands the message back to SQS until a status webhook has had AnswerWait to settle it.
func (c *Consumer) lostAnswer(ctx context.Context, j *job, dec Decision, start time.Time, err error) outcome {
	until := start.Add(c.o.AnswerWait)
	f := final{status: StatusSending, mode: dec.Mode, reason: ReasonAnswerLost, sendingAt: start, next: until,
		title: errorTitle(err), detail: fmt.Sprintf("Meta's answer to the send was lost; not sent again unless no status arrives by %s",
			until.UTC().Format(time.RFC3339))}
	c.log.Warn("outbound: answer to a send lost: waiting for its status", "id", j.req.ID, "sender", j.snd.ID, "until", until)
	if werr := c.write(ctx, j, f); werr != nil {
		// The sending record written before the call still holds the attempt.
		c.log.Warn("outbound: record lost answer", "id", j.req.ID, "error", werr.Error())
	}
	return outcome{retry: true, delay: answerDelay(j.d.ReceiveCount, c.o.Clock.Now(), until), reason: ReasonAnswerLost}
}

// awaitAnswer decides what a redelivery of a request in sending does: within AnswerWait of
// its attempt it goes back to the queue unsent (a status webhook may still settle it); after
// that no status came, so it is sent again (wait false).
func (c *Consumer) awaitAnswer(rec *Record, d Delivery, now time.Time) (outcome, bool) {
	until := rec.SendingAt.Add(c.o.AnswerWait)
	if rec.SendingAt.IsZero() || !now.Before(until) {
		c.log.Warn("outbound: no status arrived for a send whose answer was lost: sending again", "id", rec.ID, "attempt_at", rec.SendingAt)
		return outcome{}, false
	}
	c.log.Info("outbound: waiting for the status of an earlier attempt", "id", rec.ID, "message_id", d.MessageID, "until", until)
	return outcome{retry: true, delay: answerDelay(d.ReceiveCount, now, until), reason: ReasonAnswerLost}, true
}
