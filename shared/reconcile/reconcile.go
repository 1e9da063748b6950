// Package reconcile corrects what a missed webhook left wrong: it pages through the senders,
// reads each registered sender's phone number object and health_status from the Graph API and
// applies Meta's view (quality, limit tier, throughput, number and name status, suspension),
// recording every status change with source reconciler. It paces its Graph calls with a token
// bucket, stops early on Meta's call-rate errors (4, 80007) or an invalid token, and leaves a
// cursor so the next run resumes where this one stopped.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
)

// Pacing defaults: Meta allows 5,000 management calls per hour per WABA with a registered
// number (200 without); one call per second stays under that for any single WABA.
const (
	DefaultCallsPerSecond = 1.0
	DefaultBurst          = 5
	DefaultPageSize       = 100
	// DefaultPerWABAPerSecond paces each WABA's calls just under Meta's 5,000 per hour for a
	// WABA with a registered number: one read per sender, so 1,000 senders of one WABA take
	// about 13 minutes, and WABAs run in parallel.
	DefaultPerWABAPerSecond = 1.35
	// DefaultWorkers bounds how many WABAs are reconciled at once.
	DefaultWorkers = 8
	// DefaultMargin is the time kept before the invocation's deadline to save the cursor.
	DefaultMargin = 15 * time.Second
)

// Store is the persistence the reconciler needs.
type Store interface {
	// ListSenders returns one page of senders and the cursor of the next ("" at the end).
	ListSenders(ctx context.Context, limit int, cursor string) ([]*sender.Sender, string, error)
	// UpdateSender applies fn with optimistic locking (persist.ErrNoChange: nothing is
	// written). A sender deleted meanwhile gives persist.ErrNotFound.
	UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) error
	// PortfolioTier returns the portfolio's recorded tier ("" when never told).
	PortfolioTier(ctx context.Context, key string) (string, error)
	// SetPortfolioTier records the portfolio's tier as observed at.
	SetPortfolioTier(ctx context.Context, key, tier string, at time.Time) error
	// WABABan returns what Meta told about the WABA's ban (zero when never told).
	WABABan(ctx context.Context, waba string) (sender.WABABan, error)
	// Cursor and SaveCursor keep where an interrupted run stopped.
	Cursor(ctx context.Context) (string, error)
	SaveCursor(ctx context.Context, cursor string) error
}

// Graph is the part of the Graph API the reconciler reads (implemented by *graph.Client).
type Graph interface {
	// GetPhoneNumberWithHealth reads the number and its health_status in one call (fields=).
	GetPhoneNumberWithHealth(ctx context.Context, phoneNumberID string) (graph.PhoneNumber, *graph.HealthStatus, error)
	// Register registers the number again after Meta approved a new display name.
	Register(ctx context.Context, phoneNumberID, pin string) error
}

// PINSource returns the two-step PIN kept for a number, persist.ErrNotFound when none is kept.
// The PIN is passed to Register only: never logged, never stored in the table.
type PINSource interface {
	PIN(ctx context.Context, phoneNumberID string) (string, error)
}

var _ Graph = (*graph.Client)(nil)

// Pacer hands out permission for one Graph call (a *Bucket).
type Pacer interface {
	Wait(ctx context.Context) error
}

// RequeueFunc re-enqueues the outbound requests whose deferral is due at now and reports how
// many it re-enqueued. The outbound pipeline provides it; the reconciler's schedule runs it.
type RequeueFunc func(ctx context.Context, now time.Time) (int, error)

// Options configure a Reconciler.
type Options struct {
	Store Store
	Graph Graph
	Log   *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Pace, when set, paces every Graph call of the run (on top of the per-WABA pacing).
	Pace Pacer
	// WABAPacer returns the pacer of one WABA's calls; nil is a NewBucket of
	// DefaultPerWABAPerSecond and DefaultBurst per WABA.
	WABAPacer func(waba string) Pacer
	// Workers bounds the WABAs reconciled in parallel; 0 is DefaultWorkers.
	Workers  int
	PageSize int
	// Margin is kept before the context's deadline to stop cleanly; 0 is DefaultMargin.
	Margin time.Duration
	// Requeue, when set, runs at the start of every run (see RequeueFunc).
	Requeue RequeueFunc
	// PINs gives the kept two-step PIN for the re-register after a display-name approval; nil
	// (no PIN kept) leaves the sender marked with the reason pin_unknown.
	PINs PINSource
}

// Reconciler runs reconciliation passes.
type Reconciler struct {
	o Options
}

// New returns a Reconciler.
func New(o Options) *Reconciler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.WABAPacer == nil {
		now := o.Now
		o.WABAPacer = func(string) Pacer { return NewBucket(DefaultPerWABAPerSecond, DefaultBurst, now, nil) }
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Margin <= 0 {
		o.Margin = DefaultMargin
	}
	return &Reconciler{o: o}
}

// Stop reasons of a run that did not reach the end of the list.
const (
	StopCallRate = "call_rate" // Meta's 4 / 80007: slow down management calls
	StopDeadline = "deadline"  // the invocation is about to time out
)

// Report sums up a run.
type Report struct {
	// Examined senders were compared with Meta; Skipped ones are not registered yet.
	Examined int `json:"examined"`
	Skipped  int `json:"skipped"`
	// Corrected senders had at least one field changed; StatusChanges counts status moves.
	Corrected     int `json:"corrected"`
	StatusChanges int `json:"statusChanges"`
	// GraphErrors counts senders Meta could not tell about (other than a stop).
	GraphErrors int `json:"graphErrors"`
	// TokenRefused lists the portfolios whose token Meta refused (190): their senders are left
	// for the next run, everyone else's are reconciled.
	TokenRefused []string `json:"tokenRefused,omitempty"`
	// Complete is true when the run reached the end of the sender list.
	Complete bool `json:"complete"`
	// Stopped names why the run ended early; StopCode is Meta's code that caused it.
	Stopped  string `json:"stopped,omitempty"`
	StopCode int    `json:"stopCode,omitempty"`
	Requeued int    `json:"requeued"`
}

// errStop ends a run early without failing it.
type errStop struct {
	reason string
	code   int
}

func (e *errStop) Error() string { return "reconcile stopped: " + e.reason }

// Run makes one pass, resuming from the saved cursor. Each page's senders are grouped by WABA
// and the WABAs reconciled in parallel, each paced on its own (Meta's call limits are per WABA).
// It returns an error only for storage failures; Graph trouble is in the report.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	var rep Report
	if r.o.Requeue != nil {
		n, err := r.o.Requeue(ctx, r.o.Now())
		rep.Requeued = n
		if err != nil {
			r.o.Log.Error("requeue deferred requests failed", "error", err.Error())
		}
	}
	cursor, err := r.o.Store.Cursor(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	run := &pass{r: r, seen: map[string]bool{}, bans: map[string]*banEntry{}, pacers: map[string]Pacer{}, tiers: map[string]string{},
		refused: map[string]bool{}}
	for {
		if r.nearDeadline(ctx) {
			rep.Stopped = StopDeadline
			return run.report(rep), r.save(ctx, cursor)
		}
		page, next, err := r.o.Store.ListSenders(ctx, r.o.PageSize, cursor)
		if err != nil {
			return run.report(rep), fmt.Errorf("reconcile: list senders: %w", err)
		}
		err = run.page(ctx, page)
		var stop *errStop
		switch {
		case errors.As(err, &stop):
			rep.Stopped, rep.StopCode = stop.reason, stop.code
			r.o.Log.Warn("reconcile stopped early", "reason", stop.reason, "graphCode", stop.code)
			// The page is done again by the next run: what was corrected stays corrected.
			return run.report(rep), r.save(context.WithoutCancel(ctx), cursor)
		case err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
			rep.Stopped = StopDeadline
			return run.report(rep), r.save(context.WithoutCancel(ctx), cursor)
		case err != nil:
			return run.report(rep), err
		}
		if next == "" {
			rep.Complete = true
			return run.report(rep), r.save(ctx, "")
		}
		cursor = next
	}
}

// pass is the state of one run shared by its workers.
type pass struct {
	r  *Reconciler
	mu sync.Mutex
	// seen: the list is ordered by status, so a sender whose status this run changed may show
	// up again further on; each is examined once per run.
	seen   map[string]bool
	bans   map[string]*banEntry
	pacers map[string]Pacer
	// tiers are the portfolio tiers this run has checked or set, by portfolio key.
	tiers map[string]string
	// refused are the portfolios whose token Meta refused in this run (one business's token,
	// or the platform's for its own WABAs): their other senders are not asked about again.
	refused map[string]bool
	rep     Report
}

// tokenRefused reports whether s's token was refused earlier in this run.
func (p *pass) tokenRefused(s *sender.Sender) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused[s.PortfolioKey()]
}

// refuse records that Meta refused s's token (190).
func (p *pass) refuse(s *sender.Sender, err error) {
	p.mu.Lock()
	p.refused[s.PortfolioKey()] = true
	p.mu.Unlock()
	p.r.o.Log.Warn("reconcile: token refused, the portfolio's senders are left for the next run", "portfolio", s.PortfolioKey(), "sender", s.ID, "graphCode", graph.Code(err))
}

type banEntry struct {
	once sync.Once
	ban  sender.WABABan
	err  error
}

func (p *pass) report(base Report) Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	base.Examined, base.Skipped, base.Corrected = p.rep.Examined, p.rep.Skipped, p.rep.Corrected
	base.StatusChanges, base.GraphErrors = p.rep.StatusChanges, p.rep.GraphErrors
	base.TokenRefused = slices.Sorted(maps.Keys(p.refused))
	return base
}

// ban reads the WABA's ban state once per run.
func (p *pass) ban(ctx context.Context, waba string) (sender.WABABan, error) {
	p.mu.Lock()
	e, ok := p.bans[waba]
	if !ok {
		e = &banEntry{}
		p.bans[waba] = e
	}
	p.mu.Unlock()
	e.once.Do(func() { e.ban, e.err = p.r.o.Store.WABABan(ctx, waba) })
	return e.ban, e.err
}

// wait paces one Graph call for the WABA (and the run's own pacer when set).
func (p *pass) wait(ctx context.Context, waba string) error {
	p.mu.Lock()
	pc, ok := p.pacers[waba]
	if !ok {
		pc = p.r.o.WABAPacer(waba)
		p.pacers[waba] = pc
	}
	p.mu.Unlock()
	if err := pc.Wait(ctx); err != nil {
		return err
	}
	if p.r.o.Pace != nil {
		return p.r.o.Pace.Wait(ctx)
	}
	return nil
}

// page reconciles one page: its senders grouped by WABA, the WABAs in parallel (at most
// Workers at once), each WABA's senders in order. The first stop or failure cancels the rest.
func (p *pass) page(ctx context.Context, page []*sender.Sender) error {
	groups := map[string][]*sender.Sender{}
	var order []string
	p.mu.Lock()
	for _, s := range page {
		if p.seen[s.ID] {
			continue
		}
		p.seen[s.ID] = true
		if _, ok := groups[s.WABAID]; !ok {
			order = append(order, s.WABAID)
		}
		groups[s.WABAID] = append(groups[s.WABAID], s)
	}
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
		sem   = make(chan struct{}, p.r.o.Workers)
	)
	fail := func(err error) {
		errMu.Lock()
		if first == nil {
			first = err
			cancel()
		}
		errMu.Unlock()
	}
	for _, waba := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for _, s := range groups[waba] {
				if ctx.Err() != nil {
					return
				}
				if p.r.nearDeadline(ctx) {
					fail(context.DeadlineExceeded)
					return
				}
				if err := p.one(ctx, s); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func (r *Reconciler) save(ctx context.Context, cursor string) error {
	if err := r.o.Store.SaveCursor(ctx, cursor); err != nil {
		return fmt.Errorf("reconcile: save cursor: %w", err)
	}
	return nil
}

func (r *Reconciler) nearDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < r.o.Margin
}

// needsMeta reports whether Meta has anything to say about a sender in this status: numbers
// not registered yet (pending, failed) are left to the operator's verification flow.
func needsMeta(s *sender.Sender) bool {
	switch s.Status {
	case sender.StatusOnline, sender.StatusOffline, sender.StatusSuspended, sender.StatusConnecting:
		return true
	}
	return false
}

// stopFor turns the errors that make further calls pointless into a stop.
func stopFor(err error) error {
	switch graph.Classify(err) {
	case graph.ClassCallRate:
		return &errStop{reason: StopCallRate, code: graph.Code(err)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// one reconciles one sender: one Graph read (the number with its health_status).
func (p *pass) one(ctx context.Context, s *sender.Sender) error {
	r := p.r
	if !needsMeta(s) || p.tokenRefused(s) {
		p.count(func(rep *Report) { rep.Skipped++ })
		return nil
	}
	if err := p.wait(ctx, s.WABAID); err != nil {
		return err
	}
	pn, hs, err := r.o.Graph.GetPhoneNumberWithHealth(ctx, s.ID)
	if err != nil {
		if graph.Classify(err) == graph.ClassTokenInvalid {
			p.refuse(s, err)
			p.count(func(rep *Report) { rep.GraphErrors++ })
			return nil
		}
		if stop := stopFor(err); stop != nil {
			return stop
		}
		p.count(func(rep *Report) { rep.GraphErrors++ })
		r.o.Log.Warn("reconcile: phone number unreadable", "sender", s.ID, "class", string(graph.Classify(err)), "graphCode", graph.Code(err))
		return nil
	}
	ban, err := p.ban(ctx, s.WABAID)
	if err != nil {
		return fmt.Errorf("reconcile sender %s: %w", s.ID, err)
	}
	obs := Observation{Phone: pn, Health: hs, Ban: ban}
	p.count(func(rep *Report) { rep.Examined++ })

	now := r.o.Now().UTC()
	// Try on the listed copy first: a sender in step with Meta costs no further storage call.
	changes := Apply(s, obs, now)
	reregister := s.ReregisterNeeded && s.Registered()
	if len(changes) > 0 {
		err = r.o.Store.UpdateSender(ctx, s.ID, func(cur *sender.Sender) (*sender.Sender, error) {
			changes = Apply(cur, obs, now)
			reregister = cur.ReregisterNeeded && cur.Registered()
			if len(changes) == 0 {
				return nil, persist.ErrNoChange
			}
			return cur, nil
		})
		if errors.Is(err, persist.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reconcile sender %s: %w", s.ID, err)
		}
	}
	p.count(func(rep *Report) {
		if len(changes) > 0 {
			rep.Corrected++
		}
		for _, c := range changes {
			if c.Field == "status" {
				rep.StatusChanges++
			}
		}
	})
	for _, c := range changes {
		r.o.Log.Info("sender corrected", "sender", s.ID, "field", c.Field, "from", c.From, "to", c.To, "source", string(sender.SourceReconciler))
	}

	if reregister {
		if err := p.reregister(ctx, s, now); err != nil {
			return err
		}
	}

	// The limit belongs to the business portfolio: keep its shared record in step.
	if tier := TierName(pn.MessagingLimit); tier != "" {
		key := s.PortfolioKey()
		p.mu.Lock()
		known := p.tiers[key] == tier
		p.mu.Unlock()
		if known {
			// Checked (or set) already in this run: the portfolio is shared by its numbers.
			return nil
		}
		defer func() { p.mu.Lock(); p.tiers[key] = tier; p.mu.Unlock() }()
		cur, err := r.o.Store.PortfolioTier(ctx, key)
		if err != nil {
			return fmt.Errorf("reconcile portfolio %s: %w", key, err)
		}
		if cur != tier {
			if err := r.o.Store.SetPortfolioTier(ctx, key, tier, now); err != nil {
				return fmt.Errorf("reconcile portfolio %s: %w", key, err)
			}
			r.o.Log.Info("portfolio limit corrected", "portfolio", key, "from", cur, "to", tier, "source", string(sender.SourceReconciler))
		}
	}
	return nil
}

// Reasons recorded by the re-register after a display-name approval.
const (
	ReasonReregistered     = "registered again after the display-name approval"
	ReasonReregisterNoPIN  = "re-register after the display-name approval: pin_unknown (set a new two-step PIN)"
	ReasonReregisterFailed = "re-register after the display-name approval failed"
)

// reregister registers the number again with its kept PIN after Meta approved a new display
// name (Meta's rule). Without a PIN the sender keeps ReregisterNeeded and its history says
// pin_unknown once; a failed register is retried by the next run.
func (p *pass) reregister(ctx context.Context, s *sender.Sender, now time.Time) error {
	r, id := p.r, s.ID
	pin := ""
	var perr error = persist.ErrNotFound
	if r.o.PINs != nil {
		pin, perr = r.o.PINs.PIN(ctx, id)
	}
	if perr != nil && !errors.Is(perr, persist.ErrNotFound) {
		r.o.Log.Warn("reconcile: kept PIN unreadable", "sender", id, "error", perr.Error())
		return nil
	}
	reason := ReasonReregisterNoPIN
	if perr == nil {
		if err := p.wait(ctx, s.WABAID); err != nil {
			return err
		}
		rerr := r.o.Graph.Register(ctx, id, pin)
		if graph.Classify(rerr) == graph.ClassTokenInvalid {
			p.refuse(s, rerr)
			return nil // the re-register stays needed
		}
		if stop := stopFor(rerr); rerr != nil && stop != nil {
			return stop
		}
		reason = ReasonReregistered
		if rerr != nil {
			reason = fmt.Sprintf("%s: %s", ReasonReregisterFailed, graph.Classify(rerr))
			r.o.Log.Warn("reconcile: re-register failed", "sender", id, "class", string(graph.Classify(rerr)), "graphCode", graph.Code(rerr))
		}
	}
	err := r.o.Store.UpdateSender(ctx, id, func(cur *sender.Sender) (*sender.Sender, error) {
		if !cur.ReregisterNeeded {
			return nil, persist.ErrNoChange
		}
		if reason == ReasonReregistered {
			cur.ReregisterNeeded = false
		}
		if n := len(cur.StatusHistory); n > 0 && cur.StatusHistory[n-1].Reason == reason && reason != ReasonReregistered {
			return nil, persist.ErrNoChange
		}
		cur.Note(reason, sender.SourceReconciler, now)
		return cur, nil
	})
	if err != nil && !errors.Is(err, persist.ErrNotFound) {
		return fmt.Errorf("reconcile sender %s: %w", id, err)
	}
	return nil
}

func (p *pass) count(f func(*Report)) {
	p.mu.Lock()
	f(&p.rep)
	p.mu.Unlock()
}
