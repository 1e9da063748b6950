package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/outbound"
)

// expectation is what the record of a request must end as.
type expectation struct {
	Statuses []outbound.Status // any of these
	Mode     outbound.Mode     // "" = not checked
	Why      string            // for messages
}

var sentStatuses = []outbound.Status{outbound.StatusSent, outbound.StatusDelivered, outbound.StatusRead, outbound.StatusPlayed}

func (e expectation) allows(s outbound.Status) bool {
	for _, x := range e.Statuses {
		if x == s {
			return true
		}
	}
	return false
}

// expectsSend reports whether the request must reach the Graph API.
func (e expectation) expectsSend() bool {
	for _, s := range e.Statuses {
		if s.Rank() > 0 {
			return true
		}
	}
	return false
}

// terminal statuses: every request must end in one of them (or in the DLQ).
func terminal(s outbound.Status) bool {
	switch s {
	case outbound.StatusSent, outbound.StatusDelivered, outbound.StatusRead, outbound.StatusPlayed,
		outbound.StatusFailed, outbound.StatusRejected:
		return true
	}
	return false
}

// intent is one outbound request of the run.
type intent struct {
	ID     string
	Body   []byte // the SQS message body (a request, or something that is not one)
	Group  string // MessageGroupId: sender + recipient, so a conversation stays in order
	Sender *senderSpec
	Cust   *customerSpec
	Exp    expectation
	// Invalid requests go straight to the queue, as a careless caller would put them; valid
	// ones through the admin API's POST /messages (which refuses invalid ones with a 400).
	Invalid bool
	// Again: delivered a second time later under another deduplication id, as a caller retrying
	// after SQS's five-minute deduplication window would: the consumer must not send it again.
	Again bool

	mu         sync.Mutex
	enqueuedAt time.Time
}

func (in *intent) setEnqueued(t time.Time) {
	in.mu.Lock()
	if in.enqueuedAt.IsZero() {
		in.enqueuedAt = t
	}
	in.mu.Unlock()
}

func (in *intent) enqueued() time.Time {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.enqueuedAt
}

var sampleTemplate = &outbound.Template{
	Name: "order_update", Language: "en_US", Category: "utility",
	Components: json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]`),
}

// intents builds the run's outbound requests. It picks among customers whose window the run
// has already opened (a POST with their message was accepted), so the expected mode is known.
type intents struct {
	p    *plan
	rng  *rand.Rand
	n    int
	mu   sync.Mutex
	all  []*intent
	used map[*customerSpec]int
}

func isOpen(c *customerSpec) bool {
	select {
	case <-c.open:
		return true
	default:
		return false
	}
}

// next returns the next request.
func (g *intents) next() *intent {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.used == nil {
		g.used = map[*customerSpec]int{}
	}
	g.n++
	id := fmt.Sprintf("%s-r%06d", g.p.prefix, g.n)
	senders := g.p.trafficSenders()
	s := senders[g.rng.IntN(len(senders))]
	pick := func(ok func(*customerSpec) bool) *customerSpec {
		var cands []*customerSpec
		for _, c := range s.custs {
			if ok(c) {
				cands = append(cands, c)
			}
		}
		if len(cands) == 0 {
			return nil
		}
		// The least-addressed customer first: Meta allows one message per 6 s to a recipient
		// and the consumer paces to that, so spreading keeps the run about throughput.
		g.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		best := cands[0]
		for _, c := range cands[1:] {
			if g.used[c] < g.used[best] {
				best = c
			}
		}
		g.used[best]++
		return best
	}
	req := outbound.Request{ID: id, SenderID: s.ID}
	in := &intent{ID: id, Sender: s}
	address := func(c *customerSpec) {
		in.Cust = c
		if c.Phone != "" {
			req.To = c.Phone
		} else {
			req.ToUserID = c.UserID
		}
	}
	r := g.rng.IntN(100)
	var c *customerSpec
	if r < 60 {
		c = pick(func(c *customerSpec) bool { return c.Kind == active && isOpen(c) })
		if c == nil {
			r = 60 // nobody has written yet: a template instead
		}
	}
	switch {
	case r < 60: // reply inside the window
		address(c)
		req.Text = "Thanks for your message (" + id + ")"
		if g.rng.IntN(5) == 0 {
			req.ReplyTo = c.msgs[0].WAMID
		}
		if g.rng.IntN(3) == 0 {
			req.Template = sampleTemplate // offered, but the window is open: free-form wins
		}
		in.Exp = expectation{Statuses: sentStatuses, Mode: outbound.ModeFreeform, Why: "reply inside an open window"}
	case r < 78: // closed or no window, template given
		c = pick(func(c *customerSpec) bool { return c.Kind != active })
		if c == nil {
			return g.invalid(in, id, s)
		}
		address(c)
		req.Text = "We have news about your order"
		req.Template = sampleTemplate
		in.Exp = expectation{Statuses: sentStatuses, Mode: outbound.ModeTemplate, Why: "window closed, template given"}
	case r < 88: // no window, no template
		c = pick(func(c *customerSpec) bool { return c.Kind == cold })
		if c == nil {
			return g.invalid(in, id, s)
		}
		address(c)
		req.Text = "Hello out of nowhere"
		in.Exp = expectation{Statuses: []outbound.Status{outbound.StatusRejected}, Why: "window closed and no template"}
	case r < 93:
		return g.invalid(in, id, s)
	default: // an unknown sender
		c = pick(func(c *customerSpec) bool { return c.Phone != "" })
		if c == nil {
			return g.invalid(in, id, s)
		}
		address(c)
		req.SenderID = "19" + id[len(id)-6:] + "0000000"
		req.Text = "Who am I?"
		in.Exp = expectation{Statuses: []outbound.Status{outbound.StatusRejected, outbound.StatusFailed}, Why: "unknown sender"}
	}
	in.Again = g.rng.IntN(20) == 0
	return g.finish(in, req)
}

// invalid is a request a careless caller enqueued without validating: a national number.
func (g *intents) invalid(in *intent, id string, s *senderSpec) *intent {
	req := outbound.Request{ID: id, SenderID: s.ID, To: "0721 234 567", Text: "hi"}
	in.Invalid = true
	in.Exp = expectation{Statuses: []outbound.Status{outbound.StatusRejected}, Why: "invalid phone number"}
	return g.finish(in, req)
}

func (g *intents) finish(in *intent, req outbound.Request) *intent {
	b, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	in.Body = b
	// The contract's group id; a request that a validating caller would refuse may hold
	// characters SQS does not allow in one (spaces), which are dropped.
	in.Group = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return -1
		}
		return r
	}, outbound.GroupID(req))
	g.all = append(g.all, in)
	return in
}

// list returns every intent made so far.
func (g *intents) list() []*intent {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*intent(nil), g.all...)
}

// enqueue sends a request body to the outbound FIFO queue as an internal caller does:
// MessageGroupId = sender + recipient, MessageDeduplicationId = request id (dedupeID overrides).
// The harness writes to SQS itself so that it can also enqueue what a validating caller would
// refuse (invalid numbers, poison bodies): the consumer must cope with both.
func enqueue(ctx context.Context, sq *sqs.Client, queueURL string, body []byte, group, dedupeID string) (messageID string, err error) {
	out, err := sq.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               aws.String(queueURL),
		MessageBody:            aws.String(string(body)),
		MessageGroupId:         aws.String(group),
		MessageDeduplicationId: aws.String(dedupeID),
	})
	if err != nil {
		return "", fmt.Errorf("enqueue %s: %w", dedupeID, err)
	}
	return aws.ToString(out.MessageId), nil
}

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }
