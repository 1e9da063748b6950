// Package memory is an in-memory implementation of the store's ports, for logic tests that run
// without the local stack. The contract suite (shared/store/storetest) runs the same cases
// against it and against the DynamoDB store, so the two are known to agree. Values are stored
// as JSON, as the DynamoDB store keeps its documents, so a caller never shares memory with it.
package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/webhook"
)

var _ webhook.Store = (*Store)(nil)

// Store keeps every entity in maps under one lock.
type Store struct {
	now func() time.Time

	mu            sync.Mutex
	senders       map[string][]byte // id → JSON
	versions      map[string]int64
	phones        map[string]string // E.164 → sender id
	portfolios    map[string]sender.Portfolio
	windows       map[string]*window // pnid|customer key
	aliases       map[string]alias   // waba|customer key
	optOuts       map[string]customer.OptOutRecord
	optLinks      map[string][]string // waba|from → to keys
	deliv         map[string]customer.Deliverability
	records       map[string][]byte // request id → JSON of the document
	recWAMIDs     map[string]string // request id → the wamid the record is bound to (records.go)
	statuses      map[string]webhook.DeliveryStatus
	undeliverable map[string]string
	wamids        map[string]string
	orphans       map[string]webhook.OrphanStatus // wamid|status
	templates     map[string][]byte               // waba|name|lang → JSON of TemplateState
	accounts      map[string][]byte
	claims        map[string]*claim
	marks         map[string]bool // wamid of a message forwarded outside a window
	parked        []webhook.Parked
	out           *outboundState    // the outbound side's items (outbound.go)
	intents       map[string][]byte // number pool (admin.go)
	numbers       map[string][]byte
}

type window struct {
	reg   customer.WindowRegisters
	marks map[string]bool
}

type alias struct {
	other string
	at    int64
}

type claim struct {
	state   string
	owner   string
	leaseMs int64
}

// New returns an empty store on clock now (nil: time.Now).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now,
		senders: map[string][]byte{}, versions: map[string]int64{}, phones: map[string]string{},
		portfolios: map[string]sender.Portfolio{}, windows: map[string]*window{}, aliases: map[string]alias{},
		optOuts: map[string]customer.OptOutRecord{}, optLinks: map[string][]string{}, deliv: map[string]customer.Deliverability{},
		records: map[string][]byte{}, recWAMIDs: map[string]string{}, statuses: map[string]webhook.DeliveryStatus{}, undeliverable: map[string]string{}, wamids: map[string]string{}, orphans: map[string]webhook.OrphanStatus{},
		templates: map[string][]byte{}, accounts: map[string][]byte{}, claims: map[string]*claim{}, marks: map[string]bool{},
	}
}

func encode(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("memory store: encode %T: %v", v, err))
	}
	return raw
}

func decode[T any](raw []byte) *T {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		panic(fmt.Sprintf("memory store: decode %T: %v", v, err))
	}
	return v
}

// update is the persist.Update contract on a JSON map entry.
func update[T any](m map[string][]byte, k string, mayCreate bool, fn persist.Update[T]) (*T, bool, error) {
	raw, found := m[k]
	if !found && !mayCreate {
		return nil, false, persist.ErrNotFound
	}
	var cur *T
	if found {
		cur = decode[T](raw)
	}
	next, err := fn(cur)
	if errors.Is(err, persist.ErrNoChange) {
		if !found {
			return nil, false, nil
		}
		return decode[T](raw), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if next == nil {
		return nil, false, fmt.Errorf("update %s: closure returned nothing to write", k)
	}
	m[k] = encode(next)
	return decode[T](m[k]), true, nil
}

// CreateSender stores a new sender and claims its phone number.
func (s *Store) CreateSender(_ context.Context, snd *sender.Sender) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.senders[snd.ID]; ok {
		return store.ErrSenderExists
	}
	if _, ok := s.phones[snd.PhoneNumber]; ok {
		return store.ErrPhoneTaken
	}
	cp := *snd
	cp.Version = 0
	s.senders[snd.ID] = encode(&cp)
	s.versions[snd.ID] = 1
	s.phones[snd.PhoneNumber] = snd.ID
	return nil
}

func (s *Store) getSender(id string) (*sender.Sender, error) {
	raw, ok := s.senders[id]
	if !ok {
		return nil, fmt.Errorf("sender %s: %w", id, persist.ErrNotFound)
	}
	snd := decode[sender.Sender](raw)
	snd.Version = s.versions[id]
	return snd, nil
}

// GetSender returns the sender with phone_number_id id, or persist.ErrNotFound.
func (s *Store) GetSender(_ context.Context, id string) (*sender.Sender, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getSender(id)
}

// GetSenderByPhone returns the sender owning an E.164 number, or persist.ErrNotFound.
func (s *Store) GetSenderByPhone(_ context.Context, e164 string) (*sender.Sender, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.phones[e164]
	if !ok {
		return nil, fmt.Errorf("phone %s: %w", e164, persist.ErrNotFound)
	}
	return s.getSender(id)
}

// ListSendersByWABA returns every sender of a WABA, by id.
func (s *Store) ListSendersByWABA(_ context.Context, waba string) ([]*sender.Sender, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sender.Sender
	for _, id := range slices.Sorted(maps.Keys(s.senders)) {
		snd, _ := s.getSender(id)
		if snd.WABAID == waba {
			out = append(out, snd)
		}
	}
	return out, nil
}

// UpdateSender applies fn with the persist.Update contract.
func (s *Store) UpdateSender(_ context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.senders[id]; !ok {
		return nil, fmt.Errorf("sender %s: %w", id, persist.ErrNotFound)
	}
	version := s.versions[id]
	snd, wrote, err := update(s.senders, id, false, func(cur *sender.Sender) (*sender.Sender, error) {
		cur.Version = version
		return fn(cur)
	})
	if err != nil {
		return nil, err
	}
	if wrote {
		s.versions[id]++
	}
	snd.Version = s.versions[id]
	return snd, nil
}

// ArchiveSender removes a sender and frees its number, if snd.Version is still the stored one
// (persist.ErrConflict otherwise).
func (s *Store) ArchiveSender(_ context.Context, snd *sender.Sender, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.senders[snd.ID]; !ok || s.versions[snd.ID] != snd.Version {
		return persist.ErrConflict
	}
	delete(s.senders, snd.ID)
	delete(s.versions, snd.ID)
	delete(s.phones, snd.PhoneNumber)
	return nil
}

// SetPortfolioTier records a tier unless a newer event already set one (sender.NewerTier).
func (s *Store) SetPortfolioTier(_ context.Context, k, tier string, eventAt time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.portfolios[k]; ok && !sender.NewerTier(tier, eventAt, cur.Tier, cur.EventAt) {
		return false, nil
	}
	s.portfolios[k] = sender.Portfolio{Key: k, Tier: tier, EventAt: eventAt}
	return true, nil
}

// GetPortfolio returns the portfolio's limit state, or persist.ErrNotFound.
func (s *Store) GetPortfolio(_ context.Context, k string) (sender.Portfolio, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.portfolios[k]
	if !ok {
		return sender.Portfolio{}, persist.ErrNotFound
	}
	return p, nil
}

func windowKey(pnid, ck string) string { return pnid + "|" + ck }

func (s *Store) window(k string) *window {
	w := s.windows[k]
	if w == nil {
		w = &window{marks: map[string]bool{}}
		s.windows[k] = w
	}
	return w
}

// OpenWindow records a customer message in the window of (phoneNumberID, c.Key()).
func (s *Store) OpenWindow(_ context.Context, phoneNumberID string, c customer.Ref, w customer.Window) error {
	if c.Key() == "" {
		return errors.New("open window: customer has neither user id nor phone")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.openWindow(windowKey(phoneNumberID, c.Key()), w)
	return nil
}

func (s *Store) openWindow(k string, w customer.Window) {
	win := s.window(k)
	if win.reg.AddMessage(w.LastInboundAt.UnixMilli(), w.ExpiresAt.UnixMilli(), w.FreeEntry) {
		win.reg.Derive()
	}
}

// CloseWindowAt records a 131047 at `at` in the window of every key of c.
func (s *Store) CloseWindowAt(_ context.Context, phoneNumberID string, c customer.Ref, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ck := range c.Keys() {
		win := s.window(windowKey(phoneNumberID, ck))
		if win.reg.CloseAt(at.UnixMilli()) {
			win.reg.Derive()
		}
	}
	return nil
}

// RecordInbound opens the message's window and reads its forward mark.
func (s *Store) RecordInbound(_ context.Context, m webhook.InboundMessage) (bool, error) {
	if m.WAMID == "" {
		return false, errors.New("record inbound: empty wamid")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !windowed(m) {
		return s.marks[m.WAMID], nil
	}
	k := windowKey(m.PhoneNumberID, m.Customer.Key())
	if w := s.windows[k]; w != nil && w.marks[m.WAMID] {
		return true, nil
	}
	s.openWindow(k, *m.Window)
	return false, nil
}

func windowed(m webhook.InboundMessage) bool {
	return m.Window != nil && m.PhoneNumberID != "" && m.Customer.Key() != ""
}

// MarkForwarded leaves the forward mark of each message.
func (s *Store) MarkForwarded(_ context.Context, msgs []webhook.InboundMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		if windowed(m) {
			s.window(windowKey(m.PhoneNumberID, m.Customer.Key())).marks[m.WAMID] = true
		} else {
			s.marks[m.WAMID] = true
		}
	}
	return nil
}

// GetWindow returns the latest window across every key of the customer, or persist.ErrNotFound.
func (s *Store) GetWindow(ctx context.Context, phoneNumberID, waba string, c customer.Ref) (customer.Window, error) {
	c, _ = s.ResolveCustomer(ctx, waba, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	var best customer.Window
	found := false
	for _, ck := range c.Keys() {
		w, ok := s.windows[windowKey(phoneNumberID, ck)]
		if !ok {
			continue
		}
		if cand := w.reg.Window(); !found || cand.ExpiresAt.After(best.ExpiresAt) {
			best, found = cand, true
		}
	}
	if !found {
		return customer.Window{}, persist.ErrNotFound
	}
	return best, nil
}

// PutAliasAt records BSUID ↔ phone unless a newer mapping was recorded.
func (s *Store) PutAliasAt(_ context.Context, waba string, c customer.Ref, at time.Time) error {
	if c.UserID == "" || c.Phone == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := at.UnixMilli()
	for from, to := range map[string]string{"tel:" + c.Phone: c.UserID, "uid:" + c.UserID: c.Phone} {
		k := waba + "|" + from
		if cur, ok := s.aliases[k]; ok && cur.at > ms {
			continue
		}
		s.aliases[k] = alias{other: to, at: ms}
	}
	return nil
}

// ResolveCustomer fills in the side of c that is missing from the alias of waba.
func (s *Store) ResolveCustomer(_ context.Context, waba string, c customer.Ref) (customer.Ref, error) {
	if c.UserID != "" && c.Phone != "" || c.Key() == "" {
		return c, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.aliases[waba+"|"+c.Key()]
	if !ok {
		return c, nil
	}
	if c.UserID == "" {
		c.UserID = a.other
	} else {
		c.Phone = a.other
	}
	return c, nil
}

// ApplyOptOut merges one signal into the opt-out of every key of c and the keys they were
// renamed to.
func (s *Store) ApplyOptOut(_ context.Context, waba string, c customer.Ref, ev webhook.OptOutEvent) error {
	if c.Key() == "" {
		return errors.New("apply opt-out: empty customer")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.propagate(waba, c.Keys(), func(d *customer.OptOutRecord) { d.MergeSignal(ev.Stop, ev.Keyword, ev.Source, ev.At) })
	return nil
}

func (s *Store) propagate(waba string, keys []string, fn func(*customer.OptOutRecord)) {
	seen := map[string]bool{}
	for len(keys) > 0 {
		k := keys[0]
		keys = keys[1:]
		if seen[k] {
			continue
		}
		seen[k] = true
		d := s.optOuts[waba+"|"+k]
		fn(&d)
		s.optOuts[waba+"|"+k] = d
		keys = append(keys, s.optLinks[waba+"|"+k]...)
	}
}

// CopyOptOut links every key of from to every key of to and merges what from has.
func (s *Store) CopyOptOut(_ context.Context, waba string, from, to customer.Ref) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fk := range from.Keys() {
		var targets []string
		for _, tk := range to.Keys() {
			if tk != fk {
				targets = append(targets, tk)
				if !slices.Contains(s.optLinks[waba+"|"+fk], tk) {
					s.optLinks[waba+"|"+fk] = append(s.optLinks[waba+"|"+fk], tk)
				}
			}
		}
		src, ok := s.optOuts[waba+"|"+fk]
		if !ok {
			continue
		}
		s.propagate(waba, targets, func(d *customer.OptOutRecord) { d.MergeFrom(src) })
	}
	return nil
}

// GetOptOut returns the newest opt-out across the customer's keys (zero when none).
func (s *Store) GetOptOut(ctx context.Context, waba string, c customer.Ref) (customer.OptOut, error) {
	c, _ = s.ResolveCustomer(ctx, waba, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out customer.OptOut
	for _, ck := range c.Keys() {
		if o, ok := s.optOuts[waba+"|"+ck]; ok && o.At.After(out.At) {
			out = o.OptOut
		}
	}
	return out, nil
}

// MarkDeliverability merges marks into a customer's record (customer.Deliverability.Merge: later
// "until" times win; a delivery of the marking message lifts its mark).
func (s *Store) MarkDeliverability(_ context.Context, waba string, c customer.Ref, m customer.Deliverability) error {
	if c.Key() == "" {
		return errors.New("mark deliverability: empty customer")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := waba + "|" + c.Key()
	cur, found := s.deliv[k]
	if found && !s.live(s.ob().delivTTL[k]) {
		cur, found = customer.Deliverability{}, false
	}
	// As the DynamoDB store: a delivery report is written even with no mark to lift, and the
	// record expires with its latest mark.
	if !cur.Merge(m) && (found || m.DeliveredWAMID == "") {
		return nil
	}
	ttl := cur.UndeliverableUntil
	if cur.MarketingCappedUntil.After(ttl) {
		ttl = cur.MarketingCappedUntil
	}
	if ttl.IsZero() {
		ttl = s.now().Add(delivReportTTL)
	}
	s.deliv[k] = cur
	s.ob().delivTTL[k] = ttl.Unix()
	return nil
}

// GetDeliverability returns the latest marks across the customer's keys.
func (s *Store) GetDeliverability(ctx context.Context, waba string, c customer.Ref) (customer.Deliverability, error) {
	c, _ = s.ResolveCustomer(ctx, waba, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out customer.Deliverability
	for _, ck := range c.Keys() {
		d, ok := s.deliv[waba+"|"+ck]
		if !ok || !s.live(s.ob().delivTTL[waba+"|"+ck]) {
			continue
		}
		if d.UndeliverableUntil.After(out.UndeliverableUntil) {
			out.UndeliverableUntil, out.Reason = d.UndeliverableUntil, d.Reason
		}
		if d.MarketingCappedUntil.After(out.MarketingCappedUntil) {
			out.MarketingCappedUntil = d.MarketingCappedUntil
		}
	}
	return out, nil
}

// UpdateTemplateState applies fn to the template record (cur nil when there is none).
func (s *Store) UpdateTemplateState(_ context.Context, waba, name, language string, fn persist.Update[webhook.TemplateState]) (webhook.TemplateState, error) {
	lang := template.NormalizeLanguage(language)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _, err := update(s.templates, waba+"|"+name+"|"+lang, true, func(cur *webhook.TemplateState) (*webhook.TemplateState, error) {
		next, err := fn(cur)
		if next != nil {
			next.WABAID, next.Name, next.Language = waba, name, lang
		}
		return next, err
	})
	if err != nil {
		return webhook.TemplateState{}, fmt.Errorf("update template: %w", err)
	}
	if t == nil {
		return webhook.TemplateState{}, nil
	}
	return *t, nil
}

// GetTemplate returns the template record, or persist.ErrNotFound.
func (s *Store) GetTemplate(_ context.Context, waba, name, language string) (template.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.templates[waba+"|"+name+"|"+template.NormalizeLanguage(language)]
	if !ok {
		return template.Template{}, persist.ErrNotFound
	}
	return decode[webhook.TemplateState](raw).Template, nil
}

// ListTemplates returns every template record of a WABA, by name and language.
func (s *Store) ListTemplates(_ context.Context, waba string) ([]template.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []template.Template
	for _, k := range slices.Sorted(maps.Keys(s.templates)) {
		if strings.HasPrefix(k, waba+"|") {
			out = append(out, decode[webhook.TemplateState](s.templates[k]).Template)
		}
	}
	return out, nil
}

// GetAccount returns the account record of waba, or persist.ErrNotFound.
func (s *Store) GetAccount(_ context.Context, waba string) (*webhook.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.accounts[waba]
	if !ok {
		return nil, persist.ErrNotFound
	}
	return decode[webhook.Account](raw), nil
}

// UpdateAccount applies fn to the account of waba (cur nil when there is none).
func (s *Store) UpdateAccount(_ context.Context, waba string, fn persist.Update[webhook.Account]) (*webhook.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, _, err := update(s.accounts, waba, true, func(cur *webhook.Account) (*webhook.Account, error) {
		next, err := fn(cur)
		if next != nil {
			next.WABAID = waba
		}
		return next, err
	})
	if err != nil {
		return nil, fmt.Errorf("update account: %w", err)
	}
	if a == nil {
		return &webhook.Account{WABAID: waba}, nil
	}
	return a, nil
}

// Claim takes the claim of id for owner for lease.
func (s *Store) Claim(_ context.Context, id, owner string, lease time.Duration) (webhook.ClaimState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if c, ok := s.claims[id]; ok {
		if c.state == "done" {
			return webhook.AlreadyDone, nil
		}
		if c.leaseMs >= now.UnixMilli() {
			return webhook.Held, nil
		}
	}
	s.claims[id] = &claim{state: "claimed", owner: owner, leaseMs: now.Add(lease).UnixMilli()}
	return webhook.Claimed, nil
}

// MarkDone marks claims done.
func (s *Store) MarkDone(_ context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.claims[id] = &claim{state: "done"}
	}
	return nil
}

// Release drops a claim owner still holds.
func (s *Store) Release(_ context.Context, id, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.claims[id]; ok && c.state == "claimed" && c.owner == owner {
		delete(s.claims, id)
	}
	return nil
}

// ClaimStatus returns the state of id's claim ("claimed", "done") or persist.ErrNotFound.
func (s *Store) ClaimStatus(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.claims[id]
	if !ok {
		return "", persist.ErrNotFound
	}
	return c.state, nil
}

// Park keeps a payload; the same reason and body on the same day are kept once.
func (s *Store) Park(_ context.Context, p webhook.Parked) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	day := p.ReceivedAt.UTC().Format(time.DateOnly)
	for _, q := range s.parked {
		if q.Reason == p.Reason && string(q.Body) == string(p.Body) && q.ReceivedAt.UTC().Format(time.DateOnly) == day {
			return nil
		}
	}
	p.Body = append([]byte(nil), p.Body...)
	s.parked = append(s.parked, p)
	return nil
}

// ParkedOn returns the payloads parked on day (UTC).
func (s *Store) ParkedOn(_ context.Context, day time.Time) ([]webhook.Parked, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []webhook.Parked
	for _, p := range s.parked {
		if p.ReceivedAt.UTC().Format(time.DateOnly) == day.UTC().Format(time.DateOnly) {
			out = append(out, p)
		}
	}
	return out, nil
}
