package outbound_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/sender"
)

// errorCase is one row of the reference's send error table (§6), sent once and checked for the
// record (status, reason, code), the sender / recipient / template state, and whether the
// message went back to the queue (a batch item failure) and after how long.
type errorCase struct {
	code int
	name string
	// kind is the request: "text" (window open, free-form only), "text+template" (window open,
	// with a template), "template" (window closed, marketing template).
	kind    string
	status  outbound.Status
	reason  string
	failure bool
	delay   time.Duration
	// script overrides the scripted answer (default: Meta's error body for code).
	script func(*graphfake.Script)
	// setup changes the sender before the send.
	setup func(t *testing.T, h *harness, snd *sender.Sender)
	check func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record)
}

func TestSendErrorTable(t *testing.T) {
	t.Parallel()
	cases := []errorCase{
		{code: 131047, name: "window closed, template given: sent as the template", kind: "text+template",
			status: outbound.StatusSent, check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				windowClosed(t, h, snd, ref)
				sends := h.sendsFrom(snd.ID)
				if len(sends) != 1 || sends[0].Type != "template" || rec.Mode != outbound.ModeTemplate || !strings.Contains(rec.Detail, "131047") {
					t.Errorf("want exactly one template send after 131047; sends %+v record %+v", sends, rec)
				}
				if used, _ := h.st.BudgetUsed(h.ctx, snd.PortfolioKey()); used != 1 {
					t.Errorf("the fallback template counts against the messaging limit: used %d", used)
				}
			}},
		{code: 131047, name: "window closed, no template", kind: "text",
			status: outbound.StatusFailed, reason: outbound.ReasonWindowClosedTemplateRequired,
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				windowClosed(t, h, snd, ref)
			}},
		{code: 131047, name: "window closed twice: the fallback runs once", kind: "text+template",
			status: outbound.StatusFailed, reason: "window_closed",
			script: func(s *graphfake.Script) { s.Times = 2 },
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				if n := h.callsFrom(snd.ID); n != 2 {
					t.Errorf("%d calls, want the free-form and one template", n)
				}
			}},
		{code: 131026, name: "undeliverable", kind: "template", status: outbound.StatusFailed, reason: "undeliverable",
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				d, _ := h.st.GetDeliverability(h.ctx, snd.WABAID, ref)
				if !d.UndeliverableUntil.Equal(h.clock.Now().Add(72 * time.Hour)) { // customer.ReactionTo: the one table
					t.Errorf("undeliverable until %v", d.UndeliverableUntil)
				}
			}},
		{code: 131049, name: "marketing frequency cap", kind: "template", status: outbound.StatusDeferred, reason: outbound.ReasonMarketingCap,
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				if rec.NextAttemptAt.Before(h.clock.Now().Add(24 * time.Hour)) {
					t.Errorf("deferred only until %v, want ≥ 24 h", rec.NextAttemptAt)
				}
				d, _ := h.st.GetDeliverability(h.ctx, snd.WABAID, ref)
				if d.MarketingCappedUntil.Before(h.clock.Now().Add(24 * time.Hour)) {
					t.Errorf("marketing capped until %v", d.MarketingCappedUntil)
				}
			}},
		{code: 131050, name: "marketing opt-out", kind: "template", status: outbound.StatusFailed, reason: outbound.ReasonOptedOutMarketing,
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				o, _ := h.st.GetOptOut(h.ctx, snd.WABAID, ref)
				if !o.Marketing || o.Source != "send_error_131050" {
					t.Errorf("opt-out %+v", o)
				}
			}},
		{code: 130429, name: "throughput", kind: "text", status: outbound.StatusQueued, reason: "throughput", failure: true, delay: time.Second},
		{code: 131056, name: "pair rate limit", kind: "text", status: outbound.StatusQueued, reason: "pair_rate", failure: true, delay: time.Second},
		{code: 131048, name: "spam rate limit", kind: "template", status: outbound.StatusDeferred, reason: outbound.ReasonSenderSoftSuspended,
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				s := h.sender(snd.ID)
				if s.Status != sender.StatusSuspended || s.Suspension == nil || !s.Suspension.Soft ||
					!s.Suspension.Until.Equal(h.clock.Now().Add(outbound.SpamPause)) || !rec.NextAttemptAt.Equal(s.Suspension.Until) {
					t.Errorf("sender %+v %+v, record next %v", s.Status, s.Suspension, rec.NextAttemptAt)
				}
			}},
		{code: 368, name: "WABA restricted", kind: "text", status: outbound.StatusFailed, reason: "account_restricted", check: hardSuspended},
		{code: 131031, name: "account locked", kind: "text", status: outbound.StatusFailed, reason: "account_locked", check: hardSuspended},
		{code: 131042, name: "payment problem", kind: "template", status: outbound.StatusDeferred, reason: outbound.ReasonPaymentIssue,
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				// The WABA's next chargeable send is held without asking Meta.
				other := h.recipient()
				h.send(templateReq("after-131042", snd, other, outbound.CategoryUtility))
				if r := h.record("after-131042"); r.Status != outbound.StatusDeferred || r.Reason != outbound.ReasonPaymentIssue || h.callsFrom(snd.ID) != 1 {
					t.Errorf("next template %+v, %d calls", r, h.callsFrom(snd.ID))
				}
			}},
		{code: 131051, name: "unsupported type", kind: "text", status: outbound.StatusRejected, reason: "unsupported_type"},
		{code: 132000, name: "template parameter count", kind: "template", status: outbound.StatusFailed, reason: "template_invalid"},
		{code: 132005, name: "template text too long", kind: "template", status: outbound.StatusFailed, reason: "template_invalid"},
		{code: 132007, name: "template format policy", kind: "template", status: outbound.StatusFailed, reason: "template_invalid"},
		{code: 132012, name: "template parameter format", kind: "template", status: outbound.StatusFailed, reason: "template_invalid"},
		{code: 132001, name: "template missing", kind: "template", status: outbound.StatusFailed, reason: "template_missing",
			check: templateStatus(outbound.TemplateStatusMissing)},
		{code: 132015, name: "template paused", kind: "template", status: outbound.StatusDeferred, reason: outbound.ReasonTemplatePaused,
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				templateStatus("PAUSED")(t, h, snd, ref, rec)
				if !rec.NextAttemptAt.Equal(h.clock.Now().Add(outbound.TemplatePausedRetry)) {
					t.Errorf("next attempt %v", rec.NextAttemptAt)
				}
			}},
		{code: 132016, name: "template disabled", kind: "template", status: outbound.StatusFailed, reason: "template_disabled",
			check: templateStatus("DISABLED")},
		{code: 190, name: "access token expired", kind: "text", status: outbound.StatusDeferred, reason: outbound.ReasonTokenInvalid,
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				if !rec.NextAttemptAt.Equal(h.clock.Now().Add(outbound.TokenPause)) {
					t.Errorf("next attempt %v", rec.NextAttemptAt)
				}
				// Another business's sender is not paused: its token was not refused.
				elsewhere := h.newSender(func(s *sender.Sender) { s.BusinessID = "biz-elsewhere" })
				toE := h.recipient()
				h.openWindow(elsewhere, customer.Ref{Phone: toE})
				if _, failed := h.send(textReq("elsewhere-190", elsewhere, toE)); failed || h.record("elsewhere-190").Status != outbound.StatusSent {
					t.Errorf("another business's send during the pause: %+v", h.record("elsewhere-190"))
				}
				// Every other send of the same business (same portfolio) is paused too, without a
				// call to Meta, and not failed.
				other := h.newSender(func(s *sender.Sender) { s.BusinessID, s.WABAID = snd.BusinessID, snd.WABAID })
				to := h.recipient()
				h.openWindow(other, customer.Ref{Phone: to})
				if _, failed := h.send(textReq("after-190", other, to)); failed {
					t.Error("a paused send was reported as a batch item failure")
				}
				if r := h.record("after-190"); r.Status != outbound.StatusDeferred || r.Reason != outbound.ReasonTokenInvalid || h.callsFrom(other.ID) != 0 {
					t.Errorf("send during the pause %+v, %d calls", r, h.callsFrom(other.ID))
				}
				// Once the pause ends the requeued request goes out.
				h.clock.Advance(outbound.TokenPause)
				d := h.delivery(textReq("after-190", other, to))
				h.handle(d)
				if r := h.record("after-190"); r.Status != outbound.StatusSent {
					t.Errorf("after the pause %+v", r)
				}
			}},
		{code: 4, name: "app call rate", kind: "text", status: outbound.StatusQueued, reason: "call_rate", failure: true, delay: time.Second},
		{code: 80007, name: "WABA call rate", kind: "text", status: outbound.StatusQueued, reason: "call_rate", failure: true, delay: time.Second},
		{code: 100, name: "invalid parameter", kind: "text", status: outbound.StatusFailed, reason: "invalid_param"},
		{code: 1, name: "ambiguous: retried", kind: "text", status: outbound.StatusQueued, reason: "ambiguous", failure: true, delay: time.Second},
		{code: 2, name: "temporary", kind: "text", status: outbound.StatusQueued, reason: "transient", failure: true, delay: time.Second},
		{code: 131000, name: "something went wrong", kind: "text", status: outbound.StatusQueued, reason: "transient", failure: true, delay: time.Second},
		{code: 131016, name: "service unavailable", kind: "text", status: outbound.StatusQueued, reason: "transient", failure: true, delay: time.Second},
		{code: 131057, name: "maintenance", kind: "text", status: outbound.StatusQueued, reason: "maintenance", failure: true, delay: time.Minute},
		{code: 133010, name: "not registered", kind: "text", status: outbound.StatusFailed, reason: "not_registered", check: registrationLost},
		{code: 131045, name: "incorrect certificate", kind: "text", status: outbound.StatusFailed, reason: "not_registered", check: registrationLost},
		{code: 133010, name: "not registered while soft-suspended: the suspension gives way", kind: "text",
			status: outbound.StatusFailed, reason: "not_registered", check: registrationLost,
			setup: func(t *testing.T, h *harness, snd *sender.Sender) {
				if _, err := h.st.UpdateSender(h.ctx, snd.ID, func(s *sender.Sender) (*sender.Sender, error) {
					return s, s.Suspend("quality hold", h.clock.Now().Add(time.Hour), true, sender.SourceWebhook, h.clock.Now())
				}); err != nil {
					t.Fatal(err)
				}
			}},
		{code: 130497, name: "country restricted", kind: "template", status: outbound.StatusFailed, reason: "country_restricted"},
		{code: 131021, name: "sender is recipient", kind: "text", status: outbound.StatusRejected, reason: "same_number"},
		{code: 131062, name: "type not for BSUIDs", kind: "text", status: outbound.StatusRejected, reason: "bsuid_unsupported"},
		{code: 131064, name: "limit cut", kind: "template", status: outbound.StatusFailed, reason: "limit_cut",
			check: func(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref, rec outbound.Record) {
				s := h.sender(snd.ID)
				if s.Status != sender.StatusSuspended || s.Suspension == nil || !s.Suspension.Soft {
					t.Errorf("sender %s %+v, want soft-suspended", s.Status, s.Suspension)
				}
			}},
		{code: 0, name: "HTTP 503 without a code", kind: "text", status: outbound.StatusQueued, reason: "network", failure: true, delay: time.Second,
			script: func(s *graphfake.Script) {
				s.ErrorCode, s.Status, s.Body = 0, http.StatusServiceUnavailable, "upstream connect error"
			}},
		// No answer, or one that cannot be understood: Meta may have sent it, so the request
		// waits for a status webhook before any resend (answer_test.go).
		{code: 0, name: "connection dropped", kind: "text", status: outbound.StatusSending, reason: "answer_lost", failure: true, delay: outbound.AnswerPoll,
			script: func(s *graphfake.Script) { s.ErrorCode, s.Drop = 0, true }},
		{code: 0, name: "2xx that is not Meta's answer: not resent", kind: "text", status: outbound.StatusSending, reason: "answer_lost", failure: true, delay: outbound.AnswerPoll,
			script: func(s *graphfake.Script) { s.ErrorCode, s.Status, s.Body = 0, http.StatusOK, `{"ok":true}` }},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", tc.code, tc.name), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			snd := h.newSender(nil)
			to := h.recipient()
			ref := customer.Ref{Phone: to}
			var req outbound.Request
			switch tc.kind {
			case "text":
				h.openWindow(snd, ref)
				req = textReq("req", snd, to)
			case "text+template":
				h.openWindow(snd, ref)
				req = textReq("req", snd, to)
				req.Template = templateReq("", snd, to, outbound.CategoryUtility).Template
			case "template":
				req = templateReq("req", snd, to, outbound.CategoryMarketing)
			}
			s := graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: snd.ID, ErrorCode: tc.code}
			if tc.script != nil {
				tc.script(&s)
			}
			h.script(s)
			if tc.setup != nil {
				tc.setup(t, h, snd)
			}

			d, failed := h.send(req)
			rec := h.record("req")
			if rec.Status != tc.status || rec.Reason != tc.reason {
				t.Errorf("record %s/%s, want %s/%s (detail %q)", rec.Status, rec.Reason, tc.status, tc.reason, rec.Detail)
			}
			if tc.status != outbound.StatusSent && tc.code != 0 && rec.ErrorCode != tc.code {
				t.Errorf("record code %d, want %d", rec.ErrorCode, tc.code)
			}
			if tc.status != outbound.StatusSent && tc.code != 0 && rec.ErrorTitle == "" {
				t.Error("record has no error title")
			}
			if rec.Attempts < 1 {
				t.Errorf("attempts %d", rec.Attempts)
			}
			if failed != tc.failure {
				t.Errorf("batch item failure = %v, want %v", failed, tc.failure)
			}
			if tc.failure {
				if got, ok := h.vis.delayOf(d.ReceiptHandle); !ok || got != tc.delay {
					t.Errorf("retry delay %v (set %v), want %v", got, ok, tc.delay)
				}
			}
			if tc.status == outbound.StatusDeferred && !rec.NextAttemptAt.After(h.clock.Now()) {
				t.Errorf("deferred without a future nextAttemptAt: %v", rec.NextAttemptAt)
			}
			if tc.check != nil {
				tc.check(t, h, snd, ref, rec)
			}
			// Rows that change no sender state leave the sender online.
			if tc.check == nil {
				if s := h.sender(snd.ID); s.Status != sender.StatusOnline {
					t.Errorf("sender became %s", s.Status)
				}
			}
		})
	}
}

// TestAmbiguousErrorRetryLimit: code 1 is retried a few times, then failed.
func TestAmbiguousErrorRetryLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: snd.ID, ErrorCode: 1, Times: -1})
	req := textReq("amb", snd, to)
	for receive := 1; ; receive++ {
		d := h.delivery(req)
		d.ReceiveCount = receive
		failed := h.handle(d)[d.MessageID]
		rec := h.record("amb")
		if receive <= 2 {
			if !failed || rec.Status != outbound.StatusQueued || rec.Attempts != receive {
				t.Fatalf("receive %d: failed %v record %+v", receive, failed, rec)
			}
			continue
		}
		if failed || rec.Status != outbound.StatusFailed || rec.Reason != "ambiguous" || rec.ErrorCode != 1 || rec.Attempts != 3 {
			t.Fatalf("receive %d: failed %v record %+v", receive, failed, rec)
		}
		break
	}
}

// TestPairRateBackoffGrows: 131056 is retried after 4^X seconds, X the earlier receives.
func TestPairRateBackoffGrows(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: snd.ID, ErrorCode: 131056, Times: 3})
	for receive, want := range map[int]time.Duration{1: time.Second, 2: 4 * time.Second, 3: 16 * time.Second} {
		d := h.delivery(textReq(fmt.Sprintf("pair-%d", receive), snd, to))
		d.ReceiveCount = receive
		h.clock.Advance(time.Hour) // past any pacing hold of the earlier receive
		if !h.handle(d)[d.MessageID] {
			t.Fatalf("receive %d not retried", receive)
		}
		if got, _ := h.vis.delayOf(d.ReceiptHandle); got != want {
			t.Errorf("receive %d: delay %v, want %v", receive, got, want)
		}
	}
}

func windowClosed(t *testing.T, h *harness, snd *sender.Sender, ref customer.Ref) {
	t.Helper()
	w, err := h.st.GetWindow(h.ctx, snd.ID, snd.WABAID, ref)
	if err != nil || w.OpenAt(h.clock.Now()) {
		t.Errorf("window %+v (%v) still open after 131047", w, err)
	}
}

func hardSuspended(t *testing.T, h *harness, snd *sender.Sender, _ customer.Ref, rec outbound.Record) {
	t.Helper()
	s := h.sender(snd.ID)
	if s.Status != sender.StatusSuspended || s.Suspension == nil || s.Suspension.Soft || !s.Suspension.Until.IsZero() ||
		s.Suspension.Source != sender.SourceOutbound || s.Suspension.Previous != sender.StatusOnline {
		t.Errorf("sender %s %+v, want suspended until Meta lifts it", s.Status, s.Suspension)
	}
	if last := s.StatusHistory[len(s.StatusHistory)-1]; last.To != sender.StatusSuspended || !strings.Contains(last.Reason, fmt.Sprint(rec.ErrorCode)) {
		t.Errorf("history %+v", last)
	}
}

func registrationLost(t *testing.T, h *harness, snd *sender.Sender, _ customer.Ref, _ outbound.Record) {
	t.Helper()
	if s := h.sender(snd.ID); s.Status != sender.StatusFailed {
		t.Errorf("sender %s, want failed (run setup again)", s.Status)
	}
}

func templateStatus(want string) func(*testing.T, *harness, *sender.Sender, customer.Ref, outbound.Record) {
	return func(t *testing.T, h *harness, snd *sender.Sender, _ customer.Ref, _ outbound.Record) {
		t.Helper()
		tm, err := h.st.GetTemplate(h.ctx, snd.WABAID, "order_update", "en_US")
		if err != nil || tm.Status != want {
			t.Errorf("template %+v (%v), want status %s", tm, err, want)
		}
	}
}
