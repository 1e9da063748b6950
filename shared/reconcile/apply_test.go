package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/sender"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func healthyPhone() graph.PhoneNumber {
	return graph.PhoneNumber{QualityRating: "GREEN", MessagingLimit: graph.ParseMessagingLimit("TIER_2K"),
		Status: graph.StatusConnected, NameStatus: graph.NameApproved, ThroughputLevel: graph.ThroughputStandard}
}

func health(can string) *graph.HealthStatus {
	h := &graph.HealthStatus{CanSendMessage: can}
	if can != graph.CanSendAvailable {
		h.Entities = []graph.HealthEntity{{EntityType: "WABA", ID: "2001", CanSendMessage: can,
			Errors: []graph.HealthIssue{{Code: 141000, Description: "Account restricted"}}}}
	}
	return h
}

// inSync is a sender matching healthyPhone and AVAILABLE.
func inSync(st sender.Status) *sender.Sender {
	s := sender.New("1001", sender.TypeExternal, "+40721234567", "2001", "", "Shop", nil, sender.SourceOperator, t0.Add(-time.Hour))
	s.Status = st
	s.QualityRating, s.MessagingLimit, s.MetaStatus = sender.QualityHigh, "TIER_2K", "CONNECTED"
	s.DisplayNameStatus, s.ThroughputLevel, s.CanSendMessage = "APPROVED", "STANDARD", "AVAILABLE"
	return s
}

func TestApply(t *testing.T) {
	t.Parallel()
	suspended := func(src sender.Source, until time.Time) *sender.Sender {
		s := inSync(sender.StatusOnline)
		if err := s.Suspend("earlier", until, false, src, t0.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name       string
		s          *sender.Sender
		phone      func(*graph.PhoneNumber)
		health     *graph.HealthStatus
		wantStatus sender.Status
		wantFields []string
	}{
		{"in sync", inSync(sender.StatusOnline), nil, health("AVAILABLE"), sender.StatusOnline, nil},
		{"quality dropped", inSync(sender.StatusOnline), func(p *graph.PhoneNumber) { p.QualityRating = "RED" },
			health("AVAILABLE"), sender.StatusOnline, []string{"qualityRating"}},
		{"limit raised, numeric", inSync(sender.StatusOnline), func(p *graph.PhoneNumber) { p.MessagingLimit = graph.ParseMessagingLimit("10000") },
			health("AVAILABLE"), sender.StatusOnline, []string{"messagingLimit"}},
		{"throughput and name", inSync(sender.StatusOffline), func(p *graph.PhoneNumber) {
			p.ThroughputLevel, p.NameStatus = "HIGH", "DECLINED"
		}, health("AVAILABLE"), sender.StatusOffline, []string{"throughputLevel", "displayNameStatus"}},
		{"banned", inSync(sender.StatusOnline), func(p *graph.PhoneNumber) { p.Status = "BANNED" },
			health("BLOCKED"), sender.StatusSuspended, []string{"metaStatus", "canSendMessage", "status"}},
		{"restricted while offline", inSync(sender.StatusOffline), func(p *graph.PhoneNumber) { p.Status = "RESTRICTED" },
			health("LIMITED"), sender.StatusSuspended, []string{"metaStatus", "canSendMessage", "status"}},
		{"health blocked", inSync(sender.StatusOnline), nil, health("BLOCKED"), sender.StatusSuspended, []string{"canSendMessage", "status"}},
		{"blocked while connecting is setup", inSync(sender.StatusConnecting), func(p *graph.PhoneNumber) { p.Status = "PENDING" },
			health("BLOCKED"), sender.StatusConnecting, []string{"metaStatus", "canSendMessage"}},
		{"health unknown", inSync(sender.StatusOnline), nil, nil, sender.StatusOnline, nil},
		{"reconciler's suspension lifted", suspended(sender.SourceReconciler, time.Time{}), nil, health("AVAILABLE"),
			sender.StatusOnline, []string{"status"}},
		{"webhook's hard suspension lifted", suspended(sender.SourceWebhook, time.Time{}), nil, health("AVAILABLE"),
			sender.StatusOnline, []string{"status"}},
		{"outbound's 368 suspension lifted", suspended(sender.SourceOutbound, time.Time{}), nil, health("AVAILABLE"),
			sender.StatusOnline, []string{"status"}},
		{"registration lost is failed, not suspended", inSync(sender.StatusOnline), func(p *graph.PhoneNumber) { p.Status = "DISCONNECTED" },
			health("BLOCKED"), sender.StatusFailed, []string{"metaStatus", "canSendMessage", "status"}},
		{"registration lost while offline", inSync(sender.StatusOffline), func(p *graph.PhoneNumber) { p.Status = "DISCONNECTED" },
			health("BLOCKED"), sender.StatusFailed, []string{"metaStatus", "canSendMessage", "status"}},
		{"health-block suspension of a lost registration becomes failed", suspended(sender.SourceReconciler, time.Time{}),
			func(p *graph.PhoneNumber) { p.Status = "DISCONNECTED" }, health("BLOCKED"), sender.StatusFailed,
			[]string{"metaStatus", "canSendMessage", "status"}},
		{"connecting number Meta reports registered", inSync(sender.StatusConnecting), nil, health("AVAILABLE"),
			sender.StatusOnline, []string{"status"}},
		{"reconciler's suspension kept while limited", suspended(sender.SourceReconciler, time.Time{}), nil, health("LIMITED"),
			sender.StatusSuspended, []string{"canSendMessage"}},
		{"expired suspension lifted", suspended(sender.SourceOutbound, t0.Add(-time.Second)), nil, health("AVAILABLE"),
			sender.StatusOnline, []string{"status"}},
		{"expired suspension kept while Meta blocks", suspended(sender.SourceOutbound, t0.Add(-time.Second)), nil, health("BLOCKED"),
			sender.StatusSuspended, []string{"canSendMessage"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := healthyPhone()
			if tc.phone != nil {
				tc.phone(&p)
			}
			moves := func() int {
				n := 0
				for _, h := range tc.s.StatusHistory {
					if h.From != h.To {
						n++
					}
				}
				return n
			}
			histBefore, notesBefore := moves(), len(tc.s.StatusHistory)-moves()
			changes := Apply(tc.s, Observation{Phone: p, Health: tc.health}, t0)
			var fields []string
			for _, c := range changes {
				fields = append(fields, c.Field)
			}
			if diff := cmp.Diff(tc.wantFields, fields); diff != "" {
				t.Errorf("changed fields (-want +got):\n%s", diff)
			}
			if tc.s.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s", tc.s.Status, tc.wantStatus)
			}
			statusMoved := moves() != histBefore
			if statusMoved {
				last := tc.s.StatusHistory[len(tc.s.StatusHistory)-1]
				if last.Source != sender.SourceReconciler || last.Reason == "" || !last.At.Equal(t0) {
					t.Errorf("history entry = %+v", last)
				}
			}
			// Every field correction is in the history with source reconciler.
			fieldFixes := len(fields)
			if statusMoved {
				fieldFixes--
			}
			if notes := len(tc.s.StatusHistory) - moves() - notesBefore; notes != fieldFixes {
				t.Errorf("%d corrections recorded in the history, want %d", notes, fieldFixes)
			}
			if statusMoved != (len(fields) > 0 && fields[len(fields)-1] == "status") {
				t.Errorf("history and changes disagree: %v", fields)
			}
			// Applying the same observation again changes nothing.
			if again := Apply(tc.s, Observation{Phone: p, Health: tc.health}, t0); len(again) != 0 {
				t.Errorf("second Apply changed %v", again)
			}
		})
	}
}

// TestApplyBan: a ban told by webhook keeps (or puts) the sender suspended, a scheduled disable
// suspends at its date, and once Meta reinstates the WABA a ban suspension is lifted.
func TestApplyBan(t *testing.T) {
	t.Parallel()
	banned := func() *sender.Sender {
		s := inSync(sender.StatusOnline)
		if err := s.Suspend(sender.ReasonWABADisabled, time.Time{}, false, sender.SourceWebhook, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	date := t0.Add(-time.Minute)
	tests := []struct {
		name   string
		s      *sender.Sender
		ban    sender.WABABan
		want   sender.Status
		reason string
	}{
		{"ban in force kept though healthy", banned(), sender.WABABan{State: sender.BanDisable, EventAt: t0.Add(-time.Hour)},
			sender.StatusSuspended, sender.ReasonWABADisabled},
		{"reinstated ban lifted", banned(), sender.WABABan{State: sender.BanReinstate, EventAt: t0.Add(-time.Minute)},
			sender.StatusOnline, ""},
		{"missed fan-out suspends", inSync(sender.StatusOnline), sender.WABABan{State: sender.BanAccountDeleted, EventAt: t0.Add(-time.Hour)},
			sender.StatusSuspended, sender.ReasonAccountDeleted},
		{"scheduled disable at its date", inSync(sender.StatusOffline), sender.WABABan{ScheduledAt: date, ScheduledEventAt: t0.Add(-72 * time.Hour)},
			sender.StatusSuspended, sender.ReasonWABADisabled},
		{"scheduled disable before its date", inSync(sender.StatusOnline), sender.WABABan{ScheduledAt: t0.Add(time.Hour), ScheduledEventAt: t0.Add(-72 * time.Hour)},
			sender.StatusOnline, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			Apply(tc.s, Observation{Phone: healthyPhone(), Health: health("AVAILABLE"), Ban: tc.ban}, t0)
			if tc.s.Status != tc.want {
				t.Fatalf("status %s, want %s", tc.s.Status, tc.want)
			}
			if tc.reason != "" && (tc.s.Suspension == nil || tc.s.Suspension.Reason != tc.reason) {
				t.Errorf("suspension %+v, want reason %s", tc.s.Suspension, tc.reason)
			}
		})
	}
}

// TestApplyKeepsPendingName: a display-name change awaiting Meta's review is not overwritten by
// the current name's name_status.
func TestApplyKeepsPendingName(t *testing.T) {
	t.Parallel()
	s := inSync(sender.StatusOnline)
	s.RequestDisplayName("Shop Two", t0)
	if changes := Apply(s, Observation{Phone: healthyPhone(), Health: health("AVAILABLE")}, t0); len(changes) != 0 || s.DisplayNameStatus != sender.NamePendingReview {
		t.Fatalf("changes %v, name status %s", changes, s.DisplayNameStatus)
	}
}

func TestApplyQualityMapping(t *testing.T) {
	t.Parallel()
	for meta, want := range map[string]sender.Quality{"GREEN": sender.QualityHigh, "YELLOW": sender.QualityMedium,
		"RED": sender.QualityLow, "UNKNOWN": sender.QualityNew, "NA": sender.QualityNew} {
		s := inSync(sender.StatusOnline)
		p := healthyPhone()
		p.QualityRating = meta
		Apply(s, Observation{Phone: p}, t0)
		if s.QualityRating != want {
			t.Errorf("%s → %s, want %s", meta, s.QualityRating, want)
		}
	}
}

func TestTierName(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{"TIER_250": "TIER_250", "tier_2k": "TIER_2K", "TIER_UNLIMITED": "TIER_UNLIMITED",
		"UNLIMITED": "TIER_UNLIMITED", "2000": "TIER_2K", "100000": "TIER_100K", "": "", "TIER_7": ""} {
		if got := TierName(graph.ParseMessagingLimit(raw)); got != want {
			t.Errorf("TierName(%q) = %q, want %q", raw, got, want)
		}
	}
}

// fakeClock advances only when the bucket sleeps.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func TestBucketPaces(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: t0}
	b := NewBucket(2, 3, clk.now, clk.sleep)
	for range 3 {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if !clk.t.Equal(t0) {
		t.Fatalf("the burst waited %v", clk.t.Sub(t0))
	}
	for range 10 {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 10 calls beyond the burst at 2/s take 5 s.
	if got := clk.t.Sub(t0); got < 4900*time.Millisecond || got > 5100*time.Millisecond {
		t.Errorf("10 paced calls took %v, want 5s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Wait(ctx); err == nil {
		t.Error("Wait on a cancelled context succeeded")
	}
}
