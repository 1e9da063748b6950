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
	DefaultPageSize       = 25
	// DefaultMargin is the time kept before the invocation's deadline to save the cursor.
	DefaultMargin = 15 * time.Second
)

// Store is the persistence the reconciler needs.
type Store interface {
	// ListSenders returns one page of senders and the cursor of the next ("" at the end).
	ListSenders(ctx context.Context, limit int, cursor string) ([]*sender.Sender, string, error)
	// UpdateSender applies fn with optimistic locking; fn reports whether it changed anything
	// (false: nothing is written). A sender deleted meanwhile gives ErrGone.
	UpdateSender(ctx context.Context, id string, fn func(*sender.Sender) (bool, error)) error
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

// ErrGone is returned by Store.UpdateSender for a sender that no longer exists.
var ErrGone = errors.New("sender no longer exists")

// Graph is the part of the Graph API the reconciler reads (implemented by *graph.Client).
type Graph interface {
	GetPhoneNumber(ctx context.Context, phoneNumberID string) (graph.PhoneNumber, error)
	GetHealthStatus(ctx context.Context, nodeID string) (graph.HealthStatus, error)
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
	// Pace paces Graph calls; nil is NewBucket(DefaultCallsPerSecond, DefaultBurst, Now, nil).
	Pace     Pacer
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
	if o.Pace == nil {
		o.Pace = NewBucket(DefaultCallsPerSecond, DefaultBurst, o.Now, nil)
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
	StopCallRate     = "call_rate"     // Meta's 4 / 80007: slow down management calls
	StopTokenInvalid = "token_invalid" // 190: every further call would fail
	StopDeadline     = "deadline"      // the invocation is about to time out
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

// Run makes one pass, resuming from the saved cursor. It returns an error only for storage
// failures; Graph trouble is in the report.
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
	// The list is ordered by status, so a sender whose status this run changes may show up
	// again further on: each is examined once per run.
	seen := map[string]bool{}
	for {
		if r.nearDeadline(ctx) {
			rep.Stopped = StopDeadline
			return rep, r.save(ctx, cursor)
		}
		page, next, err := r.o.Store.ListSenders(ctx, r.o.PageSize, cursor)
		if err != nil {
			return rep, fmt.Errorf("reconcile: list senders: %w", err)
		}
		for _, s := range page {
			if seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			if r.nearDeadline(ctx) {
				rep.Stopped = StopDeadline
				return rep, r.save(ctx, cursor)
			}
			err := r.one(ctx, s, &rep)
			var stop *errStop
			switch {
			case errors.As(err, &stop):
				rep.Stopped, rep.StopCode = stop.reason, stop.code
				r.o.Log.Warn("reconcile stopped early", "reason", stop.reason, "graphCode", stop.code, "sender", s.ID)
				return rep, r.save(ctx, cursor)
			case err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
				rep.Stopped = StopDeadline
				return rep, r.save(context.WithoutCancel(ctx), cursor)
			case err != nil:
				return rep, err
			}
		}
		if next == "" {
			rep.Complete = true
			return rep, r.save(ctx, "")
		}
		cursor = next
	}
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
	case graph.ClassTokenInvalid:
		return &errStop{reason: StopTokenInvalid, code: graph.Code(err)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// one reconciles one sender.
func (r *Reconciler) one(ctx context.Context, s *sender.Sender, rep *Report) error {
	if !needsMeta(s) {
		rep.Skipped++
		return nil
	}
	if err := r.o.Pace.Wait(ctx); err != nil {
		return err
	}
	pn, err := r.o.Graph.GetPhoneNumber(ctx, s.ID)
	if err != nil {
		if stop := stopFor(err); stop != nil {
			return stop
		}
		rep.GraphErrors++
		r.o.Log.Warn("reconcile: phone number unreadable", "sender", s.ID, "class", string(graph.Classify(err)), "graphCode", graph.Code(err))
		return nil
	}
	ban, err := r.o.Store.WABABan(ctx, s.WABAID)
	if err != nil {
		return fmt.Errorf("reconcile sender %s: %w", s.ID, err)
	}
	obs := Observation{Phone: pn, Ban: ban}
	if err := r.o.Pace.Wait(ctx); err != nil {
		return err
	}
	hs, err := r.o.Graph.GetHealthStatus(ctx, s.ID)
	if err != nil {
		if stop := stopFor(err); stop != nil {
			return stop
		}
		// The phone number object alone still corrects quality, limit and status.
		rep.GraphErrors++
		r.o.Log.Warn("reconcile: health status unreadable", "sender", s.ID, "class", string(graph.Classify(err)), "graphCode", graph.Code(err))
	} else {
		obs.Health = &hs
	}
	rep.Examined++

	now := r.o.Now().UTC()
	var changes []Change
	reregister := false
	err = r.o.Store.UpdateSender(ctx, s.ID, func(cur *sender.Sender) (bool, error) {
		changes = Apply(cur, obs, now)
		reregister = cur.ReregisterNeeded && cur.Registered()
		return len(changes) > 0, nil
	})
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reconcile sender %s: %w", s.ID, err)
	}
	if len(changes) > 0 {
		rep.Corrected++
	}
	for _, c := range changes {
		if c.Field == "status" {
			rep.StatusChanges++
		}
		r.o.Log.Info("sender corrected", "sender", s.ID, "field", c.Field, "from", c.From, "to", c.To, "source", string(sender.SourceReconciler))
	}

	if reregister {
		if err := r.reregister(ctx, s.ID, now); err != nil {
			return err
		}
	}

	// The limit belongs to the business portfolio: keep its shared record in step.
	if tier := TierName(pn.MessagingLimit); tier != "" {
		key := s.PortfolioKey()
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
func (r *Reconciler) reregister(ctx context.Context, id string, now time.Time) error {
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
		if err := r.o.Pace.Wait(ctx); err != nil {
			return err
		}
		rerr := r.o.Graph.Register(ctx, id, pin)
		if stop := stopFor(rerr); rerr != nil && stop != nil {
			return stop
		}
		reason = ReasonReregistered
		if rerr != nil {
			reason = fmt.Sprintf("%s: %s", ReasonReregisterFailed, graph.Classify(rerr))
			r.o.Log.Warn("reconcile: re-register failed", "sender", id, "class", string(graph.Classify(rerr)), "graphCode", graph.Code(rerr))
		}
	}
	err := r.o.Store.UpdateSender(ctx, id, func(cur *sender.Sender) (bool, error) {
		if !cur.ReregisterNeeded {
			return false, nil
		}
		if reason == ReasonReregistered {
			cur.ReregisterNeeded = false
		}
		if n := len(cur.StatusHistory); n > 0 && cur.StatusHistory[n-1].Reason == reason && reason != ReasonReregistered {
			return reason == ReasonReregistered, nil
		}
		cur.Note(reason, sender.SourceReconciler, now)
		return true, nil
	})
	if err != nil && !errors.Is(err, ErrGone) {
		return fmt.Errorf("reconcile sender %s: %w", id, err)
	}
	return nil
}
