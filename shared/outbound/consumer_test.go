package outbound_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/webhook"
)

// TestConsumerDecisions runs each branch of the decision through the consumer on DynamoDB
// Local and the Graph API fake, and checks the record, what Meta was sent, and that no branch
// other than a retry is a batch item failure.
func TestConsumerDecisions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	type env struct {
		h   *harness
		snd *sender.Sender
		to  string
		ref customer.Ref
	}
	cases := []struct {
		name      string
		senderMut func(*sender.Sender)
		// req sets up the state and returns the request (id "req-<n>" is set by the test).
		req    func(e env) outbound.Request
		status outbound.Status
		reason string
		// sends is the number of messages Meta accepted from the sender.
		sends int
		check func(t *testing.T, e env, rec outbound.Record, sends []graphfake.Send)
	}{
		{name: "free-form in the window", status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request {
				e.h.openWindow(e.snd, e.ref)
				r := textReq("", e.snd, e.to)
				r.ReplyTo, r.AssistantID = "wamid.earlier", "a1"
				return r
			},
			check: func(t *testing.T, e env, rec outbound.Record, sends []graphfake.Send) {
				var body map[string]any
				_ = json.Unmarshal(sends[0].Body, &body)
				ctx, _ := body["context"].(map[string]any)
				if sends[0].Type != "text" || sends[0].To != e.to || sends[0].BizOpaqueCallbackData != rec.ID || ctx["message_id"] != "wamid.earlier" {
					t.Errorf("send %+v", sends[0])
				}
				if rec.Mode != outbound.ModeFreeform || rec.WAMID != sends[0].WAMID || rec.AssistantID != "a1" || rec.From != e.snd.PhoneNumber {
					t.Errorf("record %+v", rec)
				}
				if id, err := e.h.st.RequestIDForWAMID(e.h.ctx, rec.WAMID); err != nil || id != rec.ID {
					t.Errorf("wamid lookup %q %v", id, err)
				}
				if used, _ := e.h.st.BudgetUsed(e.h.ctx, e.snd.PortfolioKey()); used != 0 {
					t.Errorf("a reply counted against the messaging limit (%d)", used)
				}
			}},
		{name: "by sender number, to wa_id digits", status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request {
				e.h.openWindow(e.snd, e.ref)
				return outbound.Request{From: e.snd.PhoneNumber, To: strings.TrimPrefix(e.to, "+"), Text: "hi"}
			},
			check: func(t *testing.T, e env, rec outbound.Record, sends []graphfake.Send) {
				if sends[0].To != e.to || rec.To != e.to || rec.SenderID != e.snd.ID {
					t.Errorf("send to %q, record %+v", sends[0].To, rec)
				}
			}},
		{name: "image by link", status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request {
				e.h.openWindow(e.snd, e.ref)
				return outbound.Request{SenderID: e.snd.ID, To: e.to, Media: &outbound.Media{Type: "image", Link: "https://example.com/a.jpg", Caption: "look"}}
			},
			check: func(t *testing.T, e env, rec outbound.Record, sends []graphfake.Send) {
				if !strings.Contains(string(sends[0].Body), `"image":{"link":"https://example.com/a.jpg","caption":"look"}`) {
					t.Errorf("body %s", sends[0].Body)
				}
			}},
		{name: "window closed: the template", status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request {
				r := textReq("", e.snd, e.to)
				r.Template = templateReq("", e.snd, e.to, outbound.CategoryUtility).Template
				return r
			},
			check: func(t *testing.T, e env, rec outbound.Record, sends []graphfake.Send) {
				if sends[0].Type != "template" || sends[0].TemplateName != "order_update" || rec.Mode != outbound.ModeTemplate {
					t.Errorf("send %+v record %+v", sends[0], rec)
				}
				if !strings.Contains(string(sends[0].Body), `"language":{"code":"en_US","policy":"deterministic"}`) ||
					!strings.Contains(string(sends[0].Body), `"components":[{"type":"body"`) {
					t.Errorf("template body %s", sends[0].Body)
				}
				if used, _ := e.h.st.BudgetUsed(e.h.ctx, e.snd.PortfolioKey()); used != 1 {
					t.Errorf("messaging limit used %d, want 1", used)
				}
			}},
		{name: "window closed, no template", status: outbound.StatusRejected, reason: outbound.ReasonWindowClosedTemplateRequired,
			req: func(e env) outbound.Request { return textReq("", e.snd, e.to) }},
		{name: "window expired an hour ago", status: outbound.StatusRejected, reason: outbound.ReasonWindowClosedTemplateRequired,
			req: func(e env) outbound.Request {
				w := customer.WindowFor(e.h.clock.Now().Add(-25*time.Hour), false, 72*time.Hour)
				_ = e.h.st.OpenWindow(e.h.ctx, e.snd.ID, e.ref, w)
				return textReq("", e.snd, e.to)
			},
			check: func(t *testing.T, e env, rec outbound.Record, _ []graphfake.Send) {
				if !strings.Contains(rec.Detail, "closed at") {
					t.Errorf("detail %q", rec.Detail)
				}
			}},
		{name: "unknown sender id", status: outbound.StatusRejected, reason: outbound.ReasonUnknownSender,
			req: func(e env) outbound.Request { return outbound.Request{SenderID: "999999999", To: e.to, Text: "x"} }},
		{name: "unknown sender number", status: outbound.StatusRejected, reason: outbound.ReasonUnknownSender,
			req: func(e env) outbound.Request { return outbound.Request{From: "+40799999999", To: e.to, Text: "x"} }},
		{name: "senderId and from disagree", status: outbound.StatusRejected, reason: outbound.ReasonSenderMismatch,
			req: func(e env) outbound.Request {
				return outbound.Request{SenderID: e.snd.ID, From: "+40799999998", To: e.to, Text: "x"}
			}},
		{name: "sender offline", senderMut: func(s *sender.Sender) { s.Status = sender.StatusOffline },
			status: outbound.StatusRejected, reason: outbound.ReasonSenderNotOnline,
			req: func(e env) outbound.Request { e.h.openWindow(e.snd, e.ref); return textReq("", e.snd, e.to) }},
		{name: "sender suspended", senderMut: func(s *sender.Sender) {
			s.Status, s.Suspension = sender.StatusSuspended, &sender.Suspension{Reason: "DISABLE", Previous: sender.StatusOnline}
		}, status: outbound.StatusRejected, reason: outbound.ReasonSenderSuspended,
			req: func(e env) outbound.Request { e.h.openWindow(e.snd, e.ref); return textReq("", e.snd, e.to) }},
		{name: "soft-suspended sender: template deferred", senderMut: func(s *sender.Sender) {
			s.Status, s.Suspension = sender.StatusSuspended, &sender.Suspension{Reason: "131048", Soft: true, Previous: sender.StatusOnline,
				Until: time.Now().Add(2 * time.Hour)}
		}, status: outbound.StatusDeferred, reason: outbound.ReasonSenderSoftSuspended,
			req: func(e env) outbound.Request { return templateReq("", e.snd, e.to, outbound.CategoryUtility) }},
		{name: "soft-suspended sender: reply sent", senderMut: func(s *sender.Sender) {
			s.Status, s.Suspension = sender.StatusSuspended, &sender.Suspension{Reason: "131048", Soft: true, Previous: sender.StatusOnline,
				Until: time.Now().Add(2 * time.Hour)}
		}, status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request { e.h.openWindow(e.snd, e.ref); return textReq("", e.snd, e.to) }},
		{name: "assistant not assigned", status: outbound.StatusRejected, reason: outbound.ReasonAssistantNotAssigned,
			req: func(e env) outbound.Request {
				e.h.openWindow(e.snd, e.ref)
				r := textReq("", e.snd, e.to)
				r.AssistantID = "a9"
				return r
			}},
		{name: "business-initiated restriction: template refused",
			senderMut: func(s *sender.Sender) {
				s.Restrictions = []sender.Restriction{{Type: sender.RestrictBusinessInitiated, Until: time.Now().Add(time.Hour)}}
			},
			status: outbound.StatusRejected, reason: outbound.ReasonRestrictedBusinessInitiated,
			req: func(e env) outbound.Request { return templateReq("", e.snd, e.to, outbound.CategoryUtility) }},
		{name: "business-initiated restriction: reply sent",
			senderMut: func(s *sender.Sender) {
				s.Restrictions = []sender.Restriction{{Type: sender.RestrictBusinessInitiated, Until: time.Now().Add(time.Hour)}}
			},
			status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request { e.h.openWindow(e.snd, e.ref); return textReq("", e.snd, e.to) }},
		{name: "customer-initiated restriction: reply refused",
			senderMut: func(s *sender.Sender) {
				s.Restrictions = []sender.Restriction{{Type: sender.RestrictCustomerInitiated}}
			},
			status: outbound.StatusRejected, reason: outbound.ReasonRestrictedCustomerInitiated,
			req: func(e env) outbound.Request { e.h.openWindow(e.snd, e.ref); return textReq("", e.snd, e.to) }},
		{name: "marketing opt-out: marketing template refused", status: outbound.StatusRejected, reason: outbound.ReasonOptedOutMarketing,
			req: func(e env) outbound.Request {
				optOut(e.h, e.snd, e.ref, false)
				return templateReq("", e.snd, e.to, outbound.CategoryMarketing)
			}},
		{name: "marketing opt-out: utility template sent", status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request {
				optOut(e.h, e.snd, e.ref, false)
				return templateReq("", e.snd, e.to, outbound.CategoryUtility)
			}},
		{name: "stop keyword: free-form refused", status: outbound.StatusRejected, reason: outbound.ReasonOptedOut,
			req: func(e env) outbound.Request {
				e.h.openWindow(e.snd, e.ref)
				optOut(e.h, e.snd, e.ref, true)
				return textReq("", e.snd, e.to)
			}},
		{name: "paused template, window closed", status: outbound.StatusRejected, reason: outbound.ReasonWindowClosedTemplateRequired,
			req: func(e env) outbound.Request {
				_, _ = e.h.st.UpdateTemplate(e.h.ctx, e.snd.WABAID, "order_update", "en-US", func(t *template.Template) (*template.Template, error) {
					if t == nil {
						t = &template.Template{}
					}
					t.Status = "PAUSED"
					return t, nil
				})
				return templateReq("", e.snd, e.to, outbound.CategoryUtility)
			},
			check: func(t *testing.T, e env, rec outbound.Record, _ []graphfake.Send) {
				if !strings.Contains(rec.Detail, "PAUSED") {
					t.Errorf("detail %q", rec.Detail)
				}
			}},
		{name: "undeliverable recipient", status: outbound.StatusRejected, reason: outbound.ReasonRecipientUndeliverable,
			req: func(e env) outbound.Request {
				_ = e.h.st.MarkDeliverability(e.h.ctx, e.snd.WABAID, e.ref, customer.Deliverability{UndeliverableUntil: e.h.clock.Now().Add(time.Hour)})
				return templateReq("", e.snd, e.to, outbound.CategoryUtility)
			}},
		{name: "marketing template to a US number", status: outbound.StatusRejected, reason: outbound.ReasonMarketingBlockedUS,
			req: func(e env) outbound.Request {
				return templateReq("", e.snd, "+12015550123", outbound.CategoryMarketing)
			}},
		{name: "BSUID only: sent with recipient", status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request {
				uid := fmt.Sprintf("GB.%d", e.h.seq.Add(1))
				e.h.openWindow(e.snd, customer.Ref{UserID: uid})
				return outbound.Request{SenderID: e.snd.ID, ToUserID: uid, Text: "hi"}
			},
			check: func(t *testing.T, e env, rec outbound.Record, sends []graphfake.Send) {
				if sends[0].To != "" || !strings.HasPrefix(sends[0].Recipient, "GB.") || rec.ToUserID != sends[0].Recipient {
					t.Errorf("send %+v record %+v", sends[0], rec)
				}
			}},
		{name: "BSUID with a known phone: sent to the phone", status: outbound.StatusSent, sends: 1,
			req: func(e env) outbound.Request {
				uid := fmt.Sprintf("GB.%d", e.h.seq.Add(1))
				_ = e.h.st.PutAliasAt(e.h.ctx, e.snd.WABAID, customer.Ref{UserID: uid, Phone: e.to}, e.h.clock.Now())
				e.h.openWindow(e.snd, e.ref) // the window is known under the phone
				return outbound.Request{SenderID: e.snd.ID, ToUserID: uid, Text: "hi"}
			},
			check: func(t *testing.T, e env, rec outbound.Record, sends []graphfake.Send) {
				if sends[0].To != e.to || sends[0].Recipient != "" {
					t.Errorf("send %+v", sends[0])
				}
			}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			snd := h.newSender(tc.senderMut)
			to := h.recipient()
			e := env{h: h, snd: snd, to: to, ref: customer.Ref{Phone: to}}
			req := tc.req(e)
			req.ID = fmt.Sprintf("dec-%d", i)
			if _, failed := h.send(req); failed {
				t.Fatal("reported as a batch item failure")
			}
			rec := h.record(req.ID)
			if rec.Status != tc.status || rec.Reason != tc.reason {
				t.Errorf("record %s/%s, want %s/%s (detail %q)", rec.Status, rec.Reason, tc.status, tc.reason, rec.Detail)
			}
			if tc.status != outbound.StatusSent && rec.Detail == "" {
				t.Error("a refusal without a detail")
			}
			if rec.Request == nil || rec.Request.ID != req.ID || rec.CreatedAt.IsZero() {
				t.Errorf("record lacks its request or creation time: %+v", rec)
			}
			sends := h.sendsFrom(snd.ID)
			if len(sends) != tc.sends {
				t.Fatalf("%d sends, want %d", len(sends), tc.sends)
			}
			if tc.check != nil {
				tc.check(t, e, rec, sends)
			}
		})
	}
}

func optOut(h *harness, snd *sender.Sender, ref customer.Ref, keyword bool) {
	h.t.Helper()
	if err := h.st.ApplyOptOut(h.ctx, snd.WABAID, ref, webhook.OptOutEvent{
		Stop: true, Keyword: keyword, Source: "user_preferences", At: h.clock.Now()}); err != nil {
		h.t.Fatal(err)
	}
}

// TestInvalidRequestsRejected: an invalid request is recorded as rejected and acknowledged,
// never retried; without a usable id it is recorded under its SQS MessageId.
func TestInvalidRequestsRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bad := h.raw(`{"id":"inv-1","from":"+40721234567","to":"0721 234 567","text":"x"}`, "g")
	noID := h.raw(`not json at all`, "g2")
	failed := h.handle(bad, noID)
	if len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	rec := h.record("inv-1")
	if rec.Status != outbound.StatusRejected || rec.Reason != outbound.ReasonInvalidRequest || !strings.Contains(rec.Detail, "E.164") {
		t.Errorf("record %+v", rec)
	}
	rec = h.record("sqs-" + noID.MessageID)
	if rec.Status != outbound.StatusRejected || rec.Reason != outbound.ReasonInvalidRequest {
		t.Errorf("record %+v", rec)
	}
	// An invalid repeat of a valid request in progress does not overwrite it.
	deferredSnd := h.newSender(func(s *sender.Sender) {
		s.Status, s.Suspension = sender.StatusSuspended, &sender.Suspension{Soft: true, Previous: sender.StatusOnline}
	})
	h.send(templateReq("inv-2", deferredSnd, h.recipient(), outbound.CategoryUtility))
	h.handle(h.raw(`{"id":"inv-2","senderId":"1","to":"0721"}`, "g3"))
	if r := h.record("inv-2"); r.Status != outbound.StatusDeferred {
		t.Errorf("an invalid repeat overwrote a deferred request: %+v", r)
	}
	// A later valid request under an id already rejected is not sent.
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	h.send(textReq("inv-1", snd, to))
	if n := len(h.sendsFrom(snd.ID)); n != 0 || h.record("inv-1").Status != outbound.StatusRejected {
		t.Errorf("rejected id sent again: %d sends", n)
	}
}

// TestDuplicateDelivery: a request delivered again (SQS at-least-once, or a caller's repeat
// after the five-minute deduplication window) is acknowledged and not sent again.
func TestDuplicateDelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	snd := h.newSender(nil)
	to := h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	req := textReq("dup", snd, to)
	first := h.delivery(req)
	again := h.delivery(req)
	again.ReceiveCount = 2
	if failed := h.handle(first); len(failed) != 0 {
		t.Fatal(failed)
	}
	if failed := h.handle(again, h.delivery(req)); len(failed) != 0 {
		t.Fatal(failed)
	}
	if n := len(h.sendsFrom(snd.ID)); n != 1 {
		t.Fatalf("%d sends, want 1", n)
	}
	if rec := h.record("dup"); rec.Status != outbound.StatusSent || rec.Attempts != 1 {
		t.Errorf("record %+v", rec)
	}
}

// TestFIFOOrderAfterFailure: once a message of a group fails, the later ones of that group in
// the batch are failed too (unsent, same delay); other groups go on.
func TestFIFOOrderAfterFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	snd := h.newSender(nil)
	to, other := h.recipient(), h.recipient()
	h.openWindow(snd, customer.Ref{Phone: to})
	h.openWindow(snd, customer.Ref{Phone: other})
	h.script(graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: snd.ID, Recipient: to, ErrorCode: 130429})
	d1, d2, d3 := h.delivery(textReq("f1", snd, to)), h.delivery(textReq("f2", snd, to)), h.delivery(textReq("f3", snd, to))
	o1 := h.delivery(textReq("o1", snd, other))
	failed := h.handle(d1, o1, d2, d3)
	if !failed[d1.MessageID] || !failed[d2.MessageID] || !failed[d3.MessageID] || failed[o1.MessageID] {
		t.Fatalf("failed %v", failed)
	}
	sends := h.sendsFrom(snd.ID)
	if len(sends) != 1 || sends[0].To != other {
		t.Fatalf("sends %+v: only the other group's message may go out", sends)
	}
	want, _ := h.vis.delayOf(d1.ReceiptHandle)
	for _, d := range []outbound.Delivery{d2, d3} {
		if got, ok := h.vis.delayOf(d.ReceiptHandle); !ok || got != want {
			t.Errorf("later message delay %v, want the head's %v", got, want)
		}
	}
	if _, err := h.st.GetRecord(h.ctx, "f2"); err == nil {
		t.Error("an unprocessed message got a record")
	}
	// Redelivered in order, they all go out in order.
	h.clock.Advance(time.Minute)
	if failed := h.handle(d1, d2, d3); len(failed) != 0 {
		t.Fatalf("redelivery failed %v", failed)
	}
	var ids []string
	for _, s := range h.sendsFrom(snd.ID)[1:] {
		ids = append(ids, s.BizOpaqueCallbackData)
	}
	if got := strings.Join(ids, ","); got != "f1,f2,f3" {
		t.Errorf("send order %s", got)
	}
}
