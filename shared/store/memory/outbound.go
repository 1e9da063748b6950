package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/webhook"
)

// The outbound consumer's ports. Each follows the DynamoDB store's item and condition (the file
// named in its comment), TTLs included: an item whose expiry (whole seconds, as DynamoDB's TTL
// attribute) has passed is absent to the reads that check it there, and only to those. The
// constants below are the DynamoDB store's; the contract suite (storetest.RunOutbound) holds
// both stores to the behaviour they give.
const (
	budgetShards   = store.BudgetShards
	budgetWindow   = store.BudgetWindow
	budgetSlot     = store.BudgetSlot
	paceShardRate  = store.PaceShardRate
	paceKeep       = store.PaceKeep
	holdKeep       = store.HoldKeep
	delivReportTTL = store.DeliveryReportTTL
	dueTimeFormat  = store.DueTimeFormat
)

// orphanChecked are the statuses PutSentRecord checks for (store/state.go).
var orphanChecked = store.OrphanStatuses()

// outboundState is what only the outbound side's ports keep (the records themselves are
// Store.records, shared with the webhook).
type outboundState struct {
	versions map[string]int64 // record id → version (0: none stored)
	holds    map[string]versioned
	pauses   map[string]pauseItem
	budgets  map[string]*budgetItems
	pace     map[paceSecond]int
	pairs    map[string]pairItem // sender|customer key
	delivTTL map[string]int64    // deliverability key → expiry (unix seconds)
}

type versioned struct {
	raw     []byte
	version int64
	ttl     int64
}

type pauseItem struct {
	untilMs int64
	reason  string
	ttl     int64
}

type pairItem struct {
	tatMs int64
	ttl   int64
}

type paceSecond struct {
	sender string
	second int64
	shard  int
}

// budgetItems are one portfolio's budget: recipients counted and budgetShards counters of hour
// slots (store/budget.go).
type budgetItems struct {
	recipients map[string]budgetRecipient
	shards     [budgetShards]map[int64]int
}

type budgetRecipient struct {
	firstAtMs int64
	shard     int
	slot      int64
	ttl       int64
}

// ob returns the outbound state, made on first use (the caller holds s.mu).
func (s *Store) ob() *outboundState {
	if s.out == nil {
		s.out = &outboundState{versions: map[string]int64{}, holds: map[string]versioned{},
			pauses: map[string]pauseItem{}, budgets: map[string]*budgetItems{}, pace: map[paceSecond]int{},
			pairs: map[string]pairItem{}, delivTTL: map[string]int64{}}
	}
	return s.out
}

// live reports whether an item with expiry ttl (unix seconds; 0 none) is still there for a
// read that checks it.
func (s *Store) live(ttl int64) bool { return ttl == 0 || ttl > s.now().Unix() }

// bumpRecord counts one write of record id (the caller holds s.mu).
func (s *Store) bumpRecord(id string) int64 {
	o := s.ob()
	o.versions[id]++
	return o.versions[id]
}

// record returns the record of id as readers see it (recordLocked: the document with the
// webhook's delivery status merged) and its version (nil, 0 when none; the caller holds s.mu).
// Every outbound read of a record goes through here.
func (s *Store) record(id string) (*outbound.Record, int64) {
	rec, ok := s.recordLocked(id)
	if !ok {
		return nil, 0
	}
	return rec, s.ob().versions[id]
}

// putRecord writes rec's document (and its wamid binding when it has one) as the next version
// and leaves the delivery status as it is: a status never changes the version, as in the
// DynamoDB store (the caller holds s.mu).
func (s *Store) putRecord(rec *outbound.Record) int64 {
	s.records[rec.ID] = encode(rec)
	if rec.WAMID != "" {
		s.recWAMIDs[rec.ID] = rec.WAMID
	}
	return s.bumpRecord(rec.ID)
}

// OutboundStore is the memory store as the outbound consumer's port (outbound.Store), as
// store.OutboundStore is the DynamoDB store's: its PutRecord is the consumer's versioned write,
// which shadows Store's seeding PutRecord.
type OutboundStore struct{ *Store }

var _ outbound.Store = OutboundStore{}

// Outbound returns the store as the outbound consumer's port.
func (s *Store) Outbound() OutboundStore { return OutboundStore{s} }

// ReadState reads everything one outbound decision needs at once (store/state.go): windows
// under the query's customer keys only (expired ones too), opt-outs, deliverability, template
// and portfolio (for a template), holds, pauses, the alias and the pair's pace.
func (s *Store) ReadState(_ context.Context, q outbound.StateQuery) (outbound.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ob()
	st := outbound.State{Pauses: map[string]outbound.Pause{}, Customer: q.Customer}
	if q.Alias && q.Customer.Key() != "" {
		if a, ok := s.aliases[q.WABA+"|"+q.Customer.Key()]; ok {
			if st.Customer.UserID == "" {
				st.Customer.UserID = a.other
			} else if st.Customer.Phone == "" {
				st.Customer.Phone = a.other
			}
		}
	}
	st.Record, st.RecordVersion = s.record(q.RequestID)
	if q.Conv != "" {
		if h, ok := o.holds[q.Conv]; ok && s.live(h.ttl) {
			st.Hold = *decode[outbound.Hold](h.raw)
		}
	}
	for _, ck := range q.Customer.Keys() {
		if w, ok := s.windows[windowKey(q.PhoneNumberID, ck)]; ok {
			if cand := w.reg.Window(); !st.HasWindow || cand.ExpiresAt.After(st.Window.ExpiresAt) {
				st.Window, st.HasWindow = cand, true
			}
		}
		if rec, ok := s.optOuts[q.WABA+"|"+ck]; ok && rec.At.After(st.OptOut.At) {
			st.OptOut = rec.OptOut
		}
		if q.Template == nil {
			continue
		}
		k := q.WABA + "|" + ck
		if d, ok := s.deliv[k]; ok && s.live(o.delivTTL[k]) {
			if d.UndeliverableUntil.After(st.Deliverability.UndeliverableUntil) {
				st.Deliverability.UndeliverableUntil, st.Deliverability.Reason = d.UndeliverableUntil, d.Reason
			}
			if d.MarketingCappedUntil.After(st.Deliverability.MarketingCappedUntil) {
				st.Deliverability.MarketingCappedUntil = d.MarketingCappedUntil
			}
		}
	}
	if t := q.Template; t != nil {
		if raw, ok := s.templates[q.WABA+"|"+t.Name+"|"+template.NormalizeLanguage(t.Language)]; ok {
			st.Template = decode[template.Template](raw)
		}
		if q.PortfolioKey != "" {
			if p, ok := s.portfolios[q.PortfolioKey]; ok {
				st.Portfolio = p
			}
		}
	}
	if q.Pair && q.Customer.Key() != "" {
		if p, ok := o.pairs[q.PhoneNumberID+"|"+q.Customer.Key()]; ok && s.live(p.ttl) {
			st.PairPace, st.PairFound = time.UnixMilli(p.tatMs).UTC(), true
		}
	}
	for _, scope := range q.PauseScopes {
		if p, ok := o.pauses[scope]; ok && s.live(p.ttl) {
			st.Pauses[scope] = outbound.Pause{Scope: scope, Until: time.UnixMilli(p.untilMs).UTC(), Reason: p.reason}
		}
	}
	return st, nil
}

// PutRecord writes rec if its stored version is still version (0: none stored), else
// persist.ErrConflict.
func (o OutboundStore) PutRecord(_ context.Context, rec *outbound.Record, version int64) (int64, error) {
	s := o.Store
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ob().versions[rec.ID] != version {
		return 0, fmt.Errorf("put record %s: %w", rec.ID, persist.ErrConflict)
	}
	return s.putRecord(rec), nil
}

// PutSentRecord writes rec like PutRecord together with its wamid lookup, unless a status for
// the wamid is waiting (outbound.ErrOrphanStatuses; nothing written).
func (s *Store) PutSentRecord(_ context.Context, rec *outbound.Record, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ob().versions[rec.ID] != version {
		return fmt.Errorf("put sent record %s: %w", rec.ID, persist.ErrConflict)
	}
	for _, st := range orphanChecked {
		if _, ok := s.orphans[rec.WAMID+"|"+string(st)]; ok {
			return outbound.ErrOrphanStatuses
		}
	}
	s.putRecord(rec)
	s.wamids[rec.WAMID] = rec.ID
	return nil
}

// UpdateRecord applies fn to the record of id (cur nil when there is none: fn then returns a
// new one) with optimistic locking, as the DynamoDB store does: fn runs without the lock and
// again when another write came in between. fn returning persist.ErrNoChange (or nothing)
// skips the write; the current record comes back (nil when none).
func (s *Store) UpdateRecord(_ context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	for range 8 {
		s.mu.Lock()
		cur, version := s.record(id)
		s.mu.Unlock()
		in := cur
		if cur != nil {
			cp := *cur
			in = &cp
		}
		next, err := fn(in)
		if errors.Is(err, persist.ErrNoChange) || err == nil && next == nil {
			return cur, nil // as stored, not as the closure may have left its copy
		}
		if err != nil {
			return nil, fmt.Errorf("update record %s: %w", id, err)
		}
		cp := *next
		cp.ID = id
		s.mu.Lock()
		if s.ob().versions[id] != version {
			s.mu.Unlock()
			continue
		}
		s.putRecord(&cp)
		s.mu.Unlock()
		return &cp, nil
	}
	return nil, fmt.Errorf("update record %s: %w", id, persist.ErrConflict)
}

// PutWAMID records that Meta's message id wamid belongs to request id.
func (s *Store) PutWAMID(_ context.Context, wamid, requestID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wamids[wamid] = requestID
	return nil
}

// dueKey is a deferred record's due-index sort key (store/outbound.go): due time, then
// creation, then id, at millisecond precision.
func dueKey(r *outbound.Record) string {
	return r.NextAttemptAt.UTC().Format(dueTimeFormat) + "#" + r.CreatedAt.UTC().Format(dueTimeFormat) + "#" + r.ID
}

// DueRecords returns up to limit (≤ 0: 100) deferred records whose NextAttemptAt is at or
// before now, in due order, then creation order.
func (s *Store) DueRecords(_ context.Context, now time.Time, limit int) ([]outbound.Record, error) {
	if limit <= 0 {
		limit = 100
	}
	upper := now.UTC().Format(dueTimeFormat) + "#~"
	s.mu.Lock()
	type due struct {
		sk  string
		rec outbound.Record
	}
	var all []due
	for id, raw := range s.records {
		// The due index holds what the document's last write put there; readers get the
		// record merged with its delivery status, as everywhere.
		r := decode[outbound.Record](raw)
		if r.Status != outbound.StatusDeferred || r.NextAttemptAt.IsZero() {
			continue
		}
		if sk := dueKey(r); sk <= upper {
			merged, _ := s.recordLocked(id)
			all = append(all, due{sk, *merged})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b due) int { return strings.Compare(a.sk, b.sk) })
	out := make([]outbound.Record, 0, min(limit, len(all)))
	for _, d := range all[:min(limit, len(all))] {
		out = append(out, d.rec)
	}
	return out, nil
}

// SetPause stores a send hold; an existing one that lasts at least as long is kept.
func (s *Store) SetPause(_ context.Context, p outbound.Pause) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ob()
	if cur, ok := o.pauses[p.Scope]; ok && cur.untilMs >= p.Until.UnixMilli() {
		return nil
	}
	o.pauses[p.Scope] = pauseItem{untilMs: p.Until.UnixMilli(), reason: p.Reason, ttl: p.Until.Unix()}
	return nil
}

// LiftPause ends the send hold of scope at once; no hold is no error.
func (s *Store) LiftPause(_ context.Context, scope string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ob().pauses, scope)
	return nil
}

// GetHold returns the hold of a conversation; a zero Hold when none is in force.
func (s *Store) GetHold(_ context.Context, conv string) (outbound.Hold, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.ob().holds[conv]; ok && s.live(h.ttl) {
		return *decode[outbound.Hold](h.raw), nil
	}
	return outbound.Hold{}, nil
}

// UpdateHold applies fn to the hold of a conversation (cur nil when there is none) with
// optimistic locking; a hold left without members is deleted.
func (s *Store) UpdateHold(_ context.Context, conv string, fn persist.Update[outbound.Hold]) error {
	for range 8 {
		s.mu.Lock()
		var in *outbound.Hold
		var version int64
		if h, ok := s.ob().holds[conv]; ok && s.live(h.ttl) {
			in, version = decode[outbound.Hold](h.raw), h.version
		}
		s.mu.Unlock()
		next, err := fn(in)
		if errors.Is(err, persist.ErrNoChange) || err == nil && next == nil {
			return nil
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		var stored int64
		if cur, ok := s.ob().holds[conv]; ok && s.live(cur.ttl) {
			stored = cur.version
		}
		if stored != version {
			s.mu.Unlock()
			continue
		}
		switch {
		case len(next.Members) > 0:
			s.ob().holds[conv] = versioned{raw: encode(next), version: version + 1, ttl: next.Until.Add(holdKeep).Unix()}
		case version != 0:
			delete(s.ob().holds, conv)
		}
		s.mu.Unlock()
		return nil
	}
	return fmt.Errorf("update hold: %w", persist.ErrConflict)
}

// CloseWindow is CloseWindowAt, for the outbound side's port.
func (s *Store) CloseWindow(ctx context.Context, phoneNumberID string, c customer.Ref, at time.Time) error {
	return s.CloseWindowAt(ctx, phoneNumberID, c, at)
}

// StopMarketing is Store.ApplyOptOut of a stop, for the port.
func (o OutboundStore) StopMarketing(ctx context.Context, waba string, c customer.Ref, source string, at time.Time) error {
	return o.Store.ApplyOptOut(ctx, waba, c, webhook.OptOutEvent{Stop: true, Source: source, At: at})
}

// UpdateTemplate applies fn to the template record (cur nil when there is none); the record is
// rewritten as a template.Template, as the DynamoDB store does (a quality time the webhook kept
// beside it is not carried over).
func (s *Store) UpdateTemplate(_ context.Context, waba, name, language string, fn persist.Update[template.Template]) (template.Template, error) {
	lang := template.NormalizeLanguage(language)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _, err := update(s.templates, waba+"|"+name+"|"+lang, true, func(cur *template.Template) (*template.Template, error) {
		next, err := fn(cur)
		if next != nil {
			next.WABAID, next.Name, next.Language = waba, name, lang
		}
		return next, err
	})
	if err != nil {
		return template.Template{}, fmt.Errorf("update template: %w", err)
	}
	if t == nil {
		return template.Template{}, nil
	}
	return *t, nil
}

// The messaging-limit budget (store/budget.go): per portfolio, one item per recipient counted
// (expiring 24 h after its first send) and budgetShards counters of hour slots, each held to its
// share of the limit; a slot counts while its end plus 24 h is in the future.

func slotOf(t time.Time) int64 { return t.Unix() / int64(budgetSlot/time.Second) }

func slotEnd(slot int64) time.Time {
	return time.Unix((slot+1)*int64(budgetSlot/time.Second), 0).UTC()
}

func shardQuota(limit, n int) int {
	q := limit / budgetShards
	if n < limit%budgetShards {
		q++
	}
	return q
}

// liveSlots sums a counter's slots that still count at now and returns the oldest of them.
func liveSlots(slots map[int64]int, now time.Time) (used int, oldest int64) {
	oldest = slotOf(now)
	for slot, n := range slots {
		if !slotEnd(slot).Add(budgetWindow).After(now) {
			continue
		}
		used += n
		oldest = min(oldest, slot)
	}
	return used, oldest
}

func (s *Store) budget(portfolio string) *budgetItems {
	o := s.ob()
	b := o.budgets[portfolio]
	if b == nil {
		b = &budgetItems{recipients: map[string]budgetRecipient{}}
		for i := range b.shards {
			b.shards[i] = map[int64]int{}
		}
		o.budgets[portfolio] = b
	}
	return b
}

// ClaimBudget counts customerKey against the portfolio's limit of unique recipients in a
// moving 24 h (limit < 0: unlimited): Already when counted within 24 h, Over (nothing written)
// when every shard is at its share.
func (s *Store) ClaimBudget(_ context.Context, portfolio, customerKey string, limit int) (outbound.BudgetClaim, error) {
	if portfolio == "" || customerKey == "" {
		return outbound.BudgetClaim{}, errors.New("claim budget: empty portfolio or customer")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	b := s.budget(portfolio)
	if r, ok := b.recipients[customerKey]; ok && s.live(r.ttl) {
		return outbound.BudgetClaim{Already: true}, nil
	}
	used, oldest := 0, slotOf(now)
	var room []int
	for n := range b.shards {
		u, o := liveSlots(b.shards[n], now)
		used += u
		if u > 0 {
			oldest = min(oldest, o)
		}
		if limit < 0 || u < shardQuota(limit, n) {
			room = append(room, n)
		}
	}
	if len(room) == 0 {
		return outbound.BudgetClaim{Over: true, Used: used, RetryAt: slotEnd(oldest).Add(budgetWindow)}, nil
	}
	pick := room[rand.IntN(len(room))]
	cur := slotOf(now)
	for _, slot := range slices.Collect(maps.Keys(b.shards[pick])) {
		if !slotEnd(slot).Add(budgetWindow).After(now) {
			delete(b.shards[pick], slot)
		}
	}
	b.shards[pick][cur]++
	b.recipients[customerKey] = budgetRecipient{firstAtMs: now.UnixMilli(), shard: pick, slot: cur, ttl: now.Add(budgetWindow).Unix()}
	return outbound.BudgetClaim{Counted: true, Used: used + 1}, nil
}

// ReleaseBudget uncounts a recipient whose claim led to no send; one not counted (or whose
// slot is gone) is left alone.
func (s *Store) ReleaseBudget(_ context.Context, portfolio, customerKey string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.budget(portfolio)
	r, ok := b.recipients[customerKey]
	if !ok || !s.live(r.ttl) {
		return nil
	}
	if n, ok := b.shards[r.shard][r.slot]; !ok || n < 1 {
		return nil
	}
	b.shards[r.shard][r.slot]--
	delete(b.recipients, customerKey)
	return nil
}

// BudgetUsed returns how many recipients count against the portfolio's limit now.
func (s *Store) BudgetUsed(_ context.Context, portfolio string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	used := 0
	for _, slots := range s.budget(portfolio).shards {
		u, _ := liveSlots(slots, now)
		used += u
	}
	return used, nil
}

// Send pacing shared by every instance (store/pacing.go): per sender and second, a count held
// below its shard's share of the rate; per (sender, recipient), the GCRA arrival time of the
// next message, moved on condition it is still the one read.

func paceShares(perSecond int) []int {
	n := max(1, (perSecond+paceShardRate-1)/paceShardRate)
	shares := make([]int, n)
	for i := range shares {
		shares[i] = perSecond / n
		if i < perSecond%n {
			shares[i]++
		}
	}
	return shares
}

// ClaimPace books one send of c.SenderID in the second of c.At and moves the pair's pace from
// c.PairOld to c.PairNew, together: outbound.ErrRateFull or outbound.ErrPairMoved when nothing
// was booked.
func (s *Store) ClaimPace(_ context.Context, c outbound.PaceClaim) error {
	shares := paceShares(max(1, c.PerSecond))
	shard := rand.IntN(len(shares))
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ob()
	k := paceSecond{sender: c.SenderID, second: c.At.Unix(), shard: shard}
	if o.pace[k] >= shares[shard] {
		return outbound.ErrRateFull
	}
	pk := c.SenderID + "|" + c.Recipient
	p, ok := o.pairs[pk]
	if c.PairFound && (!ok || p.tatMs != c.PairOld.UnixMilli()) || !c.PairFound && ok && p.ttl > s.now().Unix() {
		return outbound.ErrPairMoved
	}
	o.pace[k]++
	o.pairs[pk] = pairItem{tatMs: c.PairNew.UnixMilli(), ttl: c.PairNew.Add(paceKeep).Unix()}
	return nil
}

// GetPairPace returns the pair's pace (found false when none is in force).
func (s *Store) GetPairPace(_ context.Context, senderID, ck string) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.ob().pairs[senderID+"|"+ck]; ok && s.live(p.ttl) {
		return time.UnixMilli(p.tatMs).UTC(), true, nil
	}
	return time.Time{}, false, nil
}
