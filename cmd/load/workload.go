package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aloro/wa-senders/shared/phone"
)

// sizes bound a run.
type sizes struct {
	Senders            int     // senders that carry traffic (one WABA each)
	CustomersPerSender int     //
	Inbound            int     // unique inbound messages
	Outbound           int     // outbound requests
	PostDupRate        float64 // share of POSTs delivered twice (Meta's retries)
	RebatchRate        float64 // share of messages delivered again inside another POST
	OrphanStatuses     int     // statuses for message ids nobody sent
}

// senderSpec is a sender the run creates.
type senderSpec struct {
	ID    string // Meta's phone_number_id, also the sender id
	WABA  string
	Phone string // E.164
	// Account is the sender that receives account_update bans and reinstatements; it carries
	// no message traffic so a ban does not turn sends into rejections.
	Account bool
	custs   []*customerSpec
}

// WaID is the sender's number as Meta writes it (display_phone_number).
func (s *senderSpec) WaID() string { return phone.WaID(s.Phone) }

// customerKind says what a customer does during the run, and so what the window must be.
type customerKind int

const (
	// active customers write recently: their window is open and replies go free-form.
	active customerKind = iota
	// stale customers wrote 25–48 h ago: the window is closed, templates are needed.
	stale
	// cold customers never wrote: no window at all.
	cold
)

func (k customerKind) String() string { return [...]string{"active", "stale", "cold"}[k] }

// customerSpec is a customer of one sender.
type customerSpec struct {
	Sender *senderSpec
	UserID string // BSUID
	Phone  string // E.164; empty for customers known only by their BSUID
	Name   string
	Kind   customerKind
	// msgs are the unique inbound messages of this customer.
	msgs []*inboundMsg
	// open is set once a POST carrying a recent message of this customer was accepted: from
	// then on the window is open and a reply is expected to go free-form.
	open chan struct{}
}

// WaID is the customer's wa_id, empty without a phone.
func (c *customerSpec) WaID() string {
	if c.Phone == "" {
		return ""
	}
	return phone.WaID(c.Phone)
}

// inboundMsg is one unique customer message.
type inboundMsg struct {
	WAMID    string
	Cust     *customerSpec
	TS       int64 // Meta's timestamp, unix seconds
	Referral bool  // Click-to-WhatsApp ad: free entry point, 72 h window
	Type     string
}

// post is one webhook POST body as Meta would send it.
type post struct {
	Body []byte
	// Kind: messages, statuses, orphan_statuses, capability, quality, account.
	Kind string
	// msgs are the inbound messages the body carries (to mark windows open on acceptance).
	msgs []*inboundMsg
}

// plan is everything a run will send, built before the run from a seeded generator.
type plan struct {
	prefix  string
	start   time.Time
	senders []*senderSpec // traffic senders, then the account sender
	account *senderSpec
	msgs    []*inboundMsg
	// posts are the message, orphan status and limit-change POSTs in delivery order
	// (shuffled, duplicates included).
	posts []*post
	// tiers: the expected messaging limit per WABA (the tier of the newest event).
	tiers map[string]string
	// accountPosts are delivered in order by one goroutine: ban, ban again, reinstate, again.
	accountPosts []*post
	rng          *rand.Rand
}

// windowFor is the expiry the window of a customer must have: the newest message's timestamp
// plus 24 h, or 72 h for a free-entry-point referral, whichever ends last. ok is false for
// customers with no messages.
func (c *customerSpec) windowFor(freeEntry time.Duration) (exp time.Time, ok bool) {
	for _, m := range c.msgs {
		d := 24 * time.Hour
		if m.Referral && freeEntry > d {
			d = freeEntry
		}
		e := time.Unix(m.TS, 0).Add(d)
		if !ok || e.After(exp) {
			exp, ok = e, true
		}
	}
	return exp, ok
}

// tierSet are the limits a run moves portfolios between: never below what the run's template
// traffic needs, so the budget never defers a send whatever order the events arrive in.
var tierSet = []string{"TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"}

// newPlan builds a run's traffic. prefix makes every id unique to the run (tests share a stack).
func newPlan(prefix string, seed uint64, sz sizes, start time.Time) (*plan, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := &plan{prefix: prefix, start: start, tiers: map[string]string{}, rng: rng}
	usedPhones := map[string]bool{}

	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		if b[0] == '0' {
			b[0] = '1'
		}
		return string(b)
	}
	validPhone := func(cc string, lead string, n int) (string, error) {
		for range 1000 {
			cand := "+" + cc + lead + digits(n)
			if usedPhones[cand] {
				continue
			}
			if e, err := phone.ParseE164(cand); err == nil && e == cand {
				usedPhones[cand] = true
				return cand, nil
			}
		}
		return "", fmt.Errorf("no valid +%s%s… number found", cc, lead)
	}

	for i := range sz.Senders + 1 {
		ph, err := validPhone("40", "72", 7) // Romanian mobile numbers
		if err != nil {
			return nil, err
		}
		s := &senderSpec{ID: "10" + digits(13), WABA: "20" + digits(13), Phone: ph, Account: i == sz.Senders}
		p.senders = append(p.senders, s)
		if s.Account {
			p.account = s
		}
	}

	// Customers: 70 % active, 15 % stale, 15 % cold; one in ten known only by BSUID.
	var writers []*customerSpec
	for _, s := range p.senders[:sz.Senders] {
		for j := range sz.CustomersPerSender {
			c := &customerSpec{Sender: s, UserID: "GB." + digits(19), Name: fmt.Sprintf("Customer %s %d", prefix, j), open: make(chan struct{})}
			switch r := rng.IntN(100); {
			case r < 70:
				c.Kind = active
			case r < 85:
				c.Kind = stale
			default:
				c.Kind = cold
			}
			if rng.IntN(10) != 0 || c.Kind == cold { // cold customers are reached by phone
				ph, err := validPhone("44", "74", 8) // UK mobile numbers
				if err != nil {
					return nil, err
				}
				c.Phone = ph
			}
			s.custs = append(s.custs, c)
			if c.Kind != cold {
				writers = append(writers, c)
			}
		}
	}
	if len(writers) == 0 && sz.Inbound > 0 {
		return nil, fmt.Errorf("no customer writes: raise -customers")
	}

	// Unique inbound messages, every writer at least one.
	types := []string{"text", "text", "text", "text", "text", "text", "text", "image", "location", "interactive"}
	for i := range sz.Inbound {
		c := writers[i%len(writers)]
		if i >= len(writers) {
			c = writers[rng.IntN(len(writers))]
		}
		m := &inboundMsg{WAMID: fmt.Sprintf("wamid.LOAD%s%08d", prefix, i), Cust: c, Type: types[rng.IntN(len(types))]}
		switch c.Kind {
		case active:
			m.TS = start.Add(-time.Duration(rng.IntN(6*3600)) * time.Second).Unix()
			m.Referral = rng.IntN(20) == 0
		case stale:
			m.TS = start.Add(-25*time.Hour - time.Duration(rng.IntN(23*3600))*time.Second).Unix()
		}
		c.msgs = append(c.msgs, m)
		p.msgs = append(p.msgs, m)
	}

	// Message POSTs: each carries 1–3 changes of one sender, each change 1–2 messages of one
	// customer, as Meta batches them.
	bySender := map[*senderSpec][]*inboundMsg{}
	order := rng.Perm(len(p.msgs))
	for _, i := range order {
		m := p.msgs[i]
		bySender[m.Cust.Sender] = append(bySender[m.Cust.Sender], m)
	}
	var posts []*post
	for _, s := range p.senders[:sz.Senders] {
		queue := bySender[s]
		for len(queue) > 0 {
			var changes []any
			var carried []*inboundMsg
			for range 1 + rng.IntN(3) {
				if len(queue) == 0 {
					break
				}
				n := 1 + rng.IntN(2)
				c := queue[0].Cust
				var group []*inboundMsg
				for k := 0; k < len(queue) && len(group) < n; {
					if queue[k].Cust == c {
						group = append(group, queue[k])
						queue = append(queue[:k:k], queue[k+1:]...)
						continue
					}
					k++
				}
				changes = append(changes, messagesChange(s, c, group))
				carried = append(carried, group...)
			}
			posts = append(posts, &post{Kind: "messages", Body: envelope(s.WABA, 0, changes...), msgs: carried})
		}
	}
	// Re-batched messages: the same message again, alone in a new POST.
	for _, m := range p.msgs {
		if rng.Float64() < sz.RebatchRate {
			s := m.Cust.Sender
			posts = append(posts, &post{Kind: "messages", Body: envelope(s.WABA, 0, messagesChange(s, m.Cust, []*inboundMsg{m})), msgs: []*inboundMsg{m}})
		}
	}

	// Messaging-limit events: three per WABA from both fields, each with its own time; the
	// newest wins whatever the arrival order.
	for _, s := range p.senders[:sz.Senders] {
		base := start.Unix() - 600
		var newest int64
		for k := range 3 {
			at := base + int64(k*60+rng.IntN(50))
			tier := tierSet[rng.IntN(len(tierSet))]
			var body []byte
			kind := "capability"
			if k == 1 {
				kind = "quality"
				body = envelope(s.WABA, at, change("phone_number_quality_update", map[string]any{
					"display_phone_number": s.WaID(), "event": "THROUGHPUT_UPGRADE",
					"max_daily_conversations_per_business": tier,
				}))
			} else {
				body = envelope(s.WABA, at, change("business_capability_update", map[string]any{
					"max_daily_conversations_per_business": tier, "max_phone_numbers_per_waba": 25,
				}))
			}
			if at > newest {
				newest, p.tiers[s.WABA] = at, tier
			}
			posts = append(posts, &post{Kind: kind, Body: body})
		}
	}

	// Statuses for message ids nobody sent: kept for later correlation, answered 200.
	for i := range sz.OrphanStatuses {
		s := p.senders[i%sz.Senders]
		st := map[string]any{
			"id": fmt.Sprintf("wamid.ORPHAN%s%06d", prefix, i), "status": "delivered",
			"timestamp": strconv.FormatInt(start.Unix(), 10), "recipient_id": "447400000000",
		}
		posts = append(posts, &post{Kind: "orphan_statuses", Body: envelope(s.WABA, 0, change("messages", map[string]any{
			"messaging_product": "whatsapp", "metadata": metadata(s), "statuses": []any{st},
		}))})
	}

	// Meta's retries: some POSTs delivered twice, byte for byte.
	for _, po := range posts[:len(posts):len(posts)] {
		if rng.Float64() < sz.PostDupRate {
			posts = append(posts, po)
		}
	}
	rng.Shuffle(len(posts), func(i, j int) { posts[i], posts[j] = posts[j], posts[i] })
	p.posts = posts

	// The account sender: banned, then reinstated; each delivered twice.
	a := p.account
	ban := envelope(a.WABA, start.Unix()-120, change("account_update", map[string]any{
		"event": "DISABLED_UPDATE", "ban_info": map[string]any{"waba_ban_state": "DISABLE", "waba_ban_date": "today"},
	}))
	reinstate := envelope(a.WABA, start.Unix()-60, change("account_update", map[string]any{
		"event": "DISABLED_UPDATE", "ban_info": map[string]any{"waba_ban_state": []string{"REINSTATE"}, "waba_ban_date": "today"},
	}))
	p.accountPosts = []*post{{Kind: "account", Body: ban}, {Kind: "account", Body: ban}, {Kind: "account", Body: reinstate}, {Kind: "account", Body: reinstate}}
	return p, nil
}

// uniqueMessages is the number of unique inbound messages of the plan.
func (p *plan) uniqueMessages() int { return len(p.msgs) }

// trafficSenders are the senders that carry messages.
func (p *plan) trafficSenders() []*senderSpec {
	var out []*senderSpec
	for _, s := range p.senders {
		if !s.Account {
			out = append(out, s)
		}
	}
	return out
}

func metadata(s *senderSpec) map[string]any {
	return map[string]any{"display_phone_number": s.WaID(), "phone_number_id": s.ID}
}

func change(field string, value any) map[string]any {
	return map[string]any{"field": field, "value": value}
}

// envelope wraps changes in Meta's notification; at > 0 sets entry.time (management fields).
func envelope(waba string, at int64, changes ...any) []byte {
	entry := map[string]any{"id": waba, "changes": changes}
	if at > 0 {
		entry["time"] = at
	}
	b, err := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{entry}})
	if err != nil {
		panic(err) // maps of plain values always marshal
	}
	return b
}

// contact is the contacts[] element of a customer.
func contact(c *customerSpec) map[string]any {
	m := map[string]any{"profile": map[string]any{"name": c.Name}, "user_id": c.UserID}
	if c.Phone != "" {
		m["wa_id"] = c.WaID()
	}
	return m
}

// messagesChange is one `messages` change carrying msgs of customer c to sender s.
func messagesChange(s *senderSpec, c *customerSpec, msgs []*inboundMsg) map[string]any {
	list := make([]any, 0, len(msgs))
	for _, m := range msgs {
		from := c.WaID()
		if from == "" {
			from = c.UserID // since 2026 `from` may hold the BSUID
		}
		msg := map[string]any{
			"from": from, "from_user_id": c.UserID, "id": m.WAMID,
			"timestamp": strconv.FormatInt(m.TS, 10), "type": m.Type,
		}
		switch m.Type {
		case "text":
			msg["text"] = map[string]any{"body": "Hello from the load run, caf\u00e9 \u2615 " + m.WAMID[len(m.WAMID)-4:]}
		case "image":
			msg["image"] = map[string]any{"id": "1" + m.WAMID[len(m.WAMID)-8:], "mime_type": "image/jpeg", "sha256": "abc", "caption": "a photo"}
		case "location":
			msg["location"] = map[string]any{"latitude": 46.77, "longitude": 23.59, "name": "Cluj"}
		case "interactive":
			msg["interactive"] = map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": "yes", "title": "Yes"}}
		}
		if m.Referral {
			msg["referral"] = map[string]any{
				"source_url": "https://fb.me/load", "source_id": "1202", "source_type": "ad",
				"body": "ad body", "headline": "ad", "media_type": "image",
				"image_url": "https://example.invalid/ad.jpg", "ctwa_clid": "clid-" + m.WAMID,
			}
		}
		list = append(list, msg)
	}
	return change("messages", map[string]any{
		"messaging_product": "whatsapp", "metadata": metadata(s),
		"contacts": []any{contact(c)}, "messages": list,
	})
}

// statusEvent is one delivery status the run posts for a send.
type statusEvent struct {
	WAMID, Status, RequestID string
	TS                       int64
	Cust                     *customerSpec
}

// statusPosts groups status events of one sender into POSTs of up to five changes.
func statusPosts(s *senderSpec, evs []statusEvent) []*post {
	var out []*post
	for len(evs) > 0 {
		n := min(5, len(evs))
		var changes []any
		for _, ev := range evs[:n] {
			st := map[string]any{
				"id": ev.WAMID, "status": ev.Status, "timestamp": strconv.FormatInt(ev.TS, 10),
				"biz_opaque_callback_data": ev.RequestID,
			}
			if ev.Cust != nil {
				st["recipient_user_id"] = ev.Cust.UserID
				if w := ev.Cust.WaID(); w != "" {
					st["recipient_id"] = w
				}
				st["contacts"] = []any{contact(ev.Cust)}
			}
			changes = append(changes, change("messages", map[string]any{
				"messaging_product": "whatsapp", "metadata": metadata(s), "statuses": []any{st},
			}))
		}
		out = append(out, &post{Kind: "statuses", Body: envelope(s.WABA, 0, changes...)})
		evs = evs[n:]
	}
	return out
}
