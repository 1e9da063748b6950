package numberpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
)

// Store persists intents and numbers (implemented by *store.Store and the memory store, shared/store/memory). Updates follow
// persist.Update: cur is nil when the item does not exist.
type Store interface {
	GetIntent(ctx context.Context, requestID string) (*Intent, error)
	UpdateIntent(ctx context.Context, requestID string, fn persist.Update[Intent]) (*Intent, error)
	// OpenIntents lists pending and bought intents.
	OpenIntents(ctx context.Context) ([]Intent, error)
	GetNumber(ctx context.Context, e164 string) (*Number, error)
	UpdateNumber(ctx context.Context, e164 string, fn persist.Update[Number]) (*Number, error)
	// ListNumbers lists every pool number (released ones too), ordered by E.164.
	ListNumbers(ctx context.Context) ([]Number, error)
}

// Graph is the part of the Graph API the pool calls (implemented by *graph.Client).
type Graph interface {
	AddPreVerifiedNumber(ctx context.Context, businessID, e164 string) (string, error)
	PreVerifiedNumber(ctx context.Context, id string) (graph.PreVerified, error)
	AddWABAPhoneNumber(ctx context.Context, wabaID, cc, national, verifiedName string) (string, error)
	RequestCode(ctx context.Context, id, method, language string) error
	VerifyCode(ctx context.Context, id, code string) error
}

// Defaults of Options.
const (
	DefaultCodeTimeout = 10 * time.Minute
	DefaultHold        = 30 * 24 * time.Hour
	// DefaultReverifyBefore re-verifies this long before expiry; Meta allows re-verification
	// only in the last 45 days, so larger values are cut to that.
	DefaultReverifyBefore = 30 * 24 * time.Hour
	maxReverifyBefore     = 45 * 24 * time.Hour
	// DefaultLanguage is the locale of Meta's verification message.
	DefaultLanguage = "en_US"
	// leaseFor keeps a concurrent caller with the same request id out while a purchase runs.
	leaseFor = 2 * time.Minute
	// settleAfter: a pending intent with nothing bought this long after it began bought nothing.
	settleAfter = time.Hour
)

// Options configure a Pool.
type Options struct {
	Store   Store
	Carrier carrier.Carrier
	Graph   Graph
	Mode    Mode
	// BusinessID is the platform's business portfolio (ModePreVerified's add_phone_numbers).
	BusinessID string
	// WebhookBaseURL is the public base of this backend; the carrier posts to
	// {base}/carrier/sms and {base}/carrier/voice.
	WebhookBaseURL string
	CodeTimeout    time.Duration
	Hold           time.Duration
	ReverifyBefore time.Duration
	Language       string
	// VoiceCountries are countries (ISO 3166-1) whose numbers are verified by call, not SMS.
	VoiceCountries []string
	Log            *slog.Logger
	Now            func() time.Time
}

// Pool is the number pool service.
type Pool struct {
	o Options
}

// New builds a Pool with defaults filled in.
func New(o Options) *Pool {
	if o.Mode == "" {
		o.Mode = ModePreVerified
	}
	if o.CodeTimeout <= 0 {
		o.CodeTimeout = DefaultCodeTimeout
	}
	if o.Hold <= 0 {
		o.Hold = DefaultHold
	}
	if o.ReverifyBefore <= 0 {
		o.ReverifyBefore = DefaultReverifyBefore
	}
	o.ReverifyBefore = min(o.ReverifyBefore, maxReverifyBefore)
	if o.Language == "" {
		o.Language = DefaultLanguage
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.WebhookBaseURL = strings.TrimRight(o.WebhookBaseURL, "/")
	return &Pool{o: o}
}

// Mode is the configured mode.
func (p *Pool) Mode() Mode { return p.o.Mode }

func (p *Pool) now() time.Time { return p.o.Now().UTC() }

// Hooks are the carrier webhooks of every pool number.
func (p *Pool) Hooks() carrier.Hooks {
	return carrier.Hooks{SMSURL: p.o.WebhookBaseURL + "/carrier/sms", VoiceURL: p.o.WebhookBaseURL + "/carrier/voice"}
}

// Offer is a number that can be offered: from our verified pool or the carrier's stock.
type Offer struct {
	carrier.Available
	// Source is "pool" (ours, verified) or "carrier" (for sale).
	Source        string    `json:"source"`
	VerifiedUntil time.Time `json:"verifiedUntil,omitzero"`
}

// Available lists our verified, unclaimed numbers of country first, then the carrier's.
func (p *Pool) Available(ctx context.Context, country, kind string, limit int) ([]Offer, error) {
	nums, err := p.o.Store.ListNumbers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pool: %w", err)
	}
	var out []Offer
	ours := map[string]bool{}
	for _, n := range nums {
		if n.State != StateReleased {
			ours[n.E164] = true
		}
		if n.State != StateVerified || n.Country != country || !n.VerifiedUntil.After(p.now()) {
			continue
		}
		out = append(out, Offer{Source: "pool", VerifiedUntil: n.VerifiedUntil, Available: carrier.Available{
			E164: n.E164, Country: n.Country, Kind: kind, Capabilities: carrier.Capabilities{SMS: true, Voice: true}}})
	}
	sale, err := p.o.Carrier.Available(ctx, country, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("carrier available: %w", err)
	}
	for _, a := range sale {
		if ours[a.E164] || !a.Capabilities.SMS && !a.Capabilities.Voice {
			continue
		}
		out = append(out, Offer{Source: "carrier", Available: a})
	}
	return out, nil
}

// OfferedIDs are the pre-verified ids of the numbers a business can pick now (verified, not
// expired, unclaimed): what the Embedded Signup launch lists as the pre-verified numbers it
// offers.
func (p *Pool) OfferedIDs(ctx context.Context) ([]string, error) {
	nums, err := p.o.Store.ListNumbers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pool: %w", err)
	}
	ids := []string{}
	for _, n := range nums {
		if n.State == StateVerified && n.MetaID != "" && n.VerifiedUntil.After(p.now()) {
			ids = append(ids, n.MetaID)
		}
	}
	return ids, nil
}

// List returns the whole pool.
func (p *Pool) List(ctx context.Context) ([]Number, error) { return p.o.Store.ListNumbers(ctx) }

// Get returns one pool number (persist.ErrNotFound when not ours).
func (p *Pool) Get(ctx context.Context, e164 string) (*Number, error) {
	return p.o.Store.GetNumber(ctx, e164)
}

// Buy buys e164 from the carrier into the pool, idempotently by requestID, and (in
// ModePreVerified) starts its verification. A failed verification start is recorded on the
// number, not returned: the number is bought either way.
func (p *Pool) Buy(ctx context.Context, requestID, e164 string) (*Number, error) {
	e164, err := phone.ParseE164(e164)
	if err != nil {
		return nil, err
	}
	now := p.now()
	created, fresh := false, false
	in, err := p.o.Store.UpdateIntent(ctx, requestID, func(cur *Intent) (*Intent, error) {
		// The store calls this again when another writer won: decide afresh each time.
		created, fresh = false, false
		switch {
		case cur == nil:
			created, fresh = true, true
			return &Intent{RequestID: requestID, E164: e164, State: IntentPending, LeaseUntil: now.Add(leaseFor), CreatedAt: now, UpdatedAt: now}, nil
		case cur.E164 != e164:
			return nil, ErrRequestReused
		case cur.State == IntentPending && cur.LeaseUntil.Before(now):
			// An earlier attempt died or gave up: take it over and settle it.
			next := *cur
			next.LeaseUntil, next.UpdatedAt = now.Add(leaseFor), now
			created = true
			return &next, nil
		}
		return nil, persist.ErrNoChange
	})
	if err != nil {
		return nil, fmt.Errorf("purchase intent: %w", err)
	}
	switch {
	case in.State == IntentFailed:
		return nil, &PurchaseError{RequestID: requestID, Reason: in.Reason}
	case in.State == IntentPending && !created:
		return nil, ErrInProgress
	case in.State == IntentDone:
		return p.o.Store.GetNumber(ctx, e164)
	}
	if in.State == IntentPending {
		if taken, err := p.takenByOther(ctx, e164, requestID); err != nil || taken {
			if taken {
				p.failIntent(ctx, requestID, "the number is in the pool already")
				return nil, ErrTaken
			}
			return nil, err
		}
	}
	return p.complete(ctx, in, fresh)
}

// takenByOther reports whether e164 is a live pool number of another request.
func (p *Pool) takenByOther(ctx context.Context, e164, requestID string) (bool, error) {
	n, err := p.o.Store.GetNumber(ctx, e164)
	if errors.Is(err, persist.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read pool number: %w", err)
	}
	return n.State != StateReleased && n.RequestID != requestID, nil
}

// complete takes an open intent to done: buy (or find what an earlier attempt bought), record
// the number, start verification. fresh says no earlier attempt can have bought it.
func (p *Pool) complete(ctx context.Context, in *Intent, fresh bool) (*Number, error) {
	sid := in.CarrierSID
	if in.State == IntentPending {
		owned, err := p.purchase(ctx, in, fresh)
		if err != nil {
			return nil, err
		}
		sid = owned.SID
		now := p.now()
		if _, err := p.o.Store.UpdateIntent(ctx, in.RequestID, func(cur *Intent) (*Intent, error) {
			if cur == nil || cur.State != IntentPending {
				return nil, persist.ErrNoChange
			}
			next := *cur
			next.State, next.CarrierSID, next.UpdatedAt = IntentBought, sid, now
			return &next, nil
		}); err != nil {
			// Bought but not noted: the intent stays pending and the next attempt or Reconcile
			// finds the number at the carrier.
			return nil, fmt.Errorf("note purchase: %w", err)
		}
		p.o.Log.Info("pool number bought", "request", in.RequestID, "carrier_sid", sid)
	}
	country, _ := phone.Region(in.E164)
	now := p.now()
	n, err := p.o.Store.UpdateNumber(ctx, in.E164, func(cur *Number) (*Number, error) {
		if cur != nil && cur.State != StateReleased {
			if cur.CarrierSID == sid {
				return nil, persist.ErrNoChange
			}
			return nil, ErrTaken
		}
		return &Number{E164: in.E164, Country: country, CarrierSID: sid, RequestID: in.RequestID, State: StateUnverified,
			Reason: "bought; not verified yet", CreatedAt: now, UpdatedAt: now}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("add to pool: %w", err)
	}
	if _, err := p.o.Store.UpdateIntent(ctx, in.RequestID, func(cur *Intent) (*Intent, error) {
		if cur == nil || cur.State == IntentDone {
			return nil, persist.ErrNoChange
		}
		next := *cur
		next.State, next.CarrierSID, next.LeaseUntil, next.UpdatedAt = IntentDone, sid, time.Time{}, now
		return &next, nil
	}); err != nil {
		return nil, fmt.Errorf("close purchase intent: %w", err)
	}
	if p.o.Mode == ModePreVerified && n.State == StateUnverified && n.Attempt == 0 {
		if v, err := p.StartVerification(ctx, n.E164, ""); err == nil {
			n = v
		} else if got, gerr := p.o.Store.GetNumber(ctx, n.E164); gerr == nil {
			n = got
		}
	}
	return n, nil
}

// purchase asks the carrier, settling an ambiguous answer by looking the number up.
func (p *Pool) purchase(ctx context.Context, in *Intent, fresh bool) (carrier.Owned, error) {
	// A taken-over intent may have bought already: look before buying.
	if !fresh {
		if owned, err := p.o.Carrier.Find(ctx, in.E164); err == nil {
			return owned, nil
		} else if !errors.Is(err, carrier.ErrNotOwned) {
			p.releaseLease(ctx, in.RequestID)
			return carrier.Owned{}, fmt.Errorf("carrier lookup: %w", err)
		}
	}
	owned, err := p.o.Carrier.Buy(ctx, in.E164, p.Hooks(), "wa-senders pool")
	if err == nil {
		return owned, nil
	}
	if carrier.IsDefinite(err) {
		reason := "the carrier refused the purchase"
		var ce *carrier.Error
		if errors.As(err, &ce) {
			reason = fmt.Sprintf("the carrier refused the purchase (code %d)", ce.Code)
		}
		p.failIntent(ctx, in.RequestID, reason)
		return carrier.Owned{}, &PurchaseError{RequestID: in.RequestID, Reason: reason}
	}
	// No answer or a server error: the purchase may have happened.
	if owned, ferr := p.o.Carrier.Find(ctx, in.E164); ferr == nil {
		return owned, nil
	}
	p.releaseLease(ctx, in.RequestID)
	return carrier.Owned{}, fmt.Errorf("carrier buy (the same request id retries safely): %w", err)
}

func (p *Pool) failIntent(ctx context.Context, requestID, reason string) {
	now := p.now()
	if _, err := p.o.Store.UpdateIntent(ctx, requestID, func(cur *Intent) (*Intent, error) {
		if cur == nil || cur.State != IntentPending {
			return nil, persist.ErrNoChange
		}
		next := *cur
		next.State, next.Reason, next.LeaseUntil, next.UpdatedAt = IntentFailed, reason, time.Time{}, now
		return &next, nil
	}); err != nil {
		p.o.Log.Warn("mark purchase failed", "request", requestID, "error", err.Error())
	}
}

// releaseLease lets the next attempt with the same request id settle at once.
func (p *Pool) releaseLease(ctx context.Context, requestID string) {
	now := p.now()
	_, _ = p.o.Store.UpdateIntent(ctx, requestID, func(cur *Intent) (*Intent, error) {
		if cur == nil || cur.State != IntentPending {
			return nil, persist.ErrNoChange
		}
		next := *cur
		next.LeaseUntil, next.UpdatedAt = time.Time{}, now
		return &next, nil
	})
}
