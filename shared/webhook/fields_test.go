package webhook_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// messageFixtures maps each single-message fixture to its type and timestamp.
var messageFixtures = map[string]struct {
	typ string
	ts  int64
}{
	"messages_audio_voice":                       {"audio", 1764000660},
	"messages_button":                            {"button", 1764001200},
	"messages_contacts":                          {"contacts", 1764000900},
	"messages_document":                          {"document", 1764000720},
	"messages_edit":                              {"edit", 1764001680},
	"messages_future_type":                       {"hologram", 1764001740},
	"messages_image":                             {"image", 1764000540},
	"messages_interactive_button_reply":          {"interactive", 1764000960},
	"messages_interactive_call_permission_reply": {"interactive", 1764001140},
	"messages_interactive_list_reply":            {"interactive", 1764001020},
	"messages_interactive_nfm_reply":             {"interactive", 1764001080},
	"messages_location":                          {"location", 1764000840},
	"messages_order":                             {"order", 1764001380},
	"messages_reaction":                          {"reaction", 1764001260},
	"messages_reaction_removed":                  {"reaction", 1764001320},
	"messages_request_welcome":                   {"request_welcome", 1764001560},
	"messages_revoke":                            {"revoke", 1764001620},
	"messages_sticker":                           {"sticker", 1764000780},
	"messages_text":                              {"text", 1764000060},
	"messages_text_forwarded":                    {"text", 1764000300},
	"messages_text_reply_context":                {"text", 1764000240},
	"messages_text_unicode":                      {"text", 1764000120},
	"messages_unknown_legacy":                    {"unknown", 1764001500},
	"messages_unsupported":                       {"unsupported", 1764001440},
	"messages_video":                             {"video", 1764000600},
}

// checkCustomerMessage asserts the effects every ordinary customer message has: one event on
// the inbound queue, no separate dedupe record, the window of the BSUID opened at ts + 24 h (TTL
// following), the alias both ways.
func checkCustomerMessage(t *testing.T, e *env, typ string, ts int64, window time.Duration, free bool) webhook.InboundEvent {
	t.Helper()
	evs := e.inbound()
	if len(evs) != 1 {
		t.Fatalf("forwarded %d events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Type != typ || !ev.Timestamp.Equal(unix(ts)) || ev.WABAID != waba ||
		ev.Sender != (webhook.EventSender{PhoneNumberID: pnid, Phone: senderE164, Known: true}) ||
		ev.Customer.UserID != custUID || ev.Customer.Phone != custPhone || ev.Customer.WaID != "16505551234" ||
		ev.Customer.ProfileName != "Sheena Nelson" || ev.Content.Kind != typ {
		t.Fatalf("event: %+v", ev)
	}
	// One write for the message: its dedupe record lives in the window item, no INBOUND# item.
	if it := e.item("INBOUND#"+ev.WAMID, "#INBOUND"); it != nil {
		t.Fatalf("a separate dedupe record for %s: %v", ev.WAMID, it)
	}
	exp, ttl, gotFree, ok := e.window("uid:" + custUID)
	want := unix(ts).Add(window)
	if !ok || exp != want.UnixMilli() || ttl != want.Unix() || gotFree != free {
		t.Fatalf("window: expires %d ttl %d free %v (found %v), want %d %v", exp, ttl, gotFree, ok, want.UnixMilli(), free)
	}
	if ev.Window == nil || !ev.Window.ExpiresAt.Equal(want) || ev.Window.FreeEntry != free {
		t.Fatalf("event window: %+v", ev.Window)
	}
	if u := s(e.item("ALIAS#"+waba+"#tel:"+custPhone, "#ALIAS"), "userId"); u != custUID {
		t.Fatalf("alias tel→uid: %q", u)
	}
	if p := s(e.item("ALIAS#"+waba+"#uid:"+custUID, "#ALIAS"), "phone"); p != custPhone {
		t.Fatalf("alias uid→tel: %q", p)
	}
	// The outbound side finds the window by phone too, through the alias.
	w, err := e.st.GetWindow(e.ctx, pnid, waba, customer.Ref{Phone: custPhone})
	if err != nil || !w.ExpiresAt.Equal(want) {
		t.Fatalf("GetWindow by phone: %+v %v", w, err)
	}
	return ev
}

// withTime rewrites entry.time of a single-entry fixture (an older or newer copy of an event).
func withTime(t *testing.T, body []byte, at int64) []byte {
	t.Helper()
	var n map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		t.Fatal(err)
	}
	for _, e := range n["entry"].([]any) {
		e.(map[string]any)["time"] = at
	}
	out, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withValue replaces a key of the first change's value.
func withValue(t *testing.T, body []byte, key string, v any) []byte {
	t.Helper()
	var n map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		t.Fatal(err)
	}
	val := n["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
	val[key] = v
	out, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryField(t *testing.T) {
	t.Parallel()
	type tc struct {
		seed  func(t *testing.T, e *env)
		check func(t *testing.T, e *env)
	}
	cases := map[string]tc{}

	for name, m := range messageFixtures {
		cases[name] = tc{
			check: func(t *testing.T, e *env) {
				ev := checkCustomerMessage(t, e, m.typ, m.ts, 24*time.Hour, false)
				switch name {
				case "messages_text":
					if ev.Content.Text != "Hi! Do you deliver to Cluj on Sundays?" || !ev.Content.Supported {
						t.Fatalf("content: %+v", ev.Content)
					}
				case "messages_text_unicode":
					if ev.Content.Text != "Bună ziua! Café ☕ 👍" {
						t.Fatalf("unicode text: %q", ev.Content.Text)
					}
				case "messages_text_reply_context":
					if ev.Context == nil || ev.Context.ID == "" {
						t.Fatalf("reply context lost: %+v", ev.Context)
					}
				case "messages_text_forwarded":
					if ev.Context == nil || !ev.Context.Forwarded {
						t.Fatalf("forwarded flag lost: %+v", ev.Context)
					}
				case "messages_future_type":
					if ev.Content.Supported || len(ev.Raw) == 0 || e.metric("UnknownMessageTypes") != 1 {
						t.Fatalf("unknown type: supported %v raw %q metric %d", ev.Content.Supported, ev.Raw, e.metric("UnknownMessageTypes"))
					}
				case "messages_unsupported", "messages_unknown_legacy":
					if ev.Content.Supported {
						t.Fatal("unsupported message marked supported")
					}
				case "messages_image", "messages_video", "messages_document", "messages_sticker", "messages_audio_voice":
					if ev.Content.MediaID == "" || ev.Content.MimeType == "" {
						t.Fatalf("media content: %+v", ev.Content)
					}
				case "messages_location":
					if ev.Content.Location == nil {
						t.Fatal("location lost")
					}
				case "messages_order":
					if ev.Content.Order == nil || len(ev.Content.Order.ProductItems) == 0 {
						t.Fatal("order lost")
					}
				case "messages_interactive_button_reply", "messages_interactive_list_reply":
					if ev.Content.ReplyID == "" {
						t.Fatalf("reply id lost: %+v", ev.Content)
					}
				case "messages_interactive_nfm_reply":
					if ev.Content.FlowResponseJSON == "" {
						t.Fatal("flow response lost")
					}
				case "messages_reaction", "messages_reaction_removed", "messages_revoke", "messages_edit":
					if ev.Content.TargetMessageID == "" {
						t.Fatal("target message lost")
					}
				}
				if e.metric("ForwardedMessages") != 1 {
					t.Fatalf("forwarded metric %d", e.metric("ForwardedMessages"))
				}
			},
		}
	}
	cases["messages_text_referral"] = tc{check: func(t *testing.T, e *env) {
		ev := checkCustomerMessage(t, e, "text", 1764000360, 72*time.Hour, true)
		if ev.Referral == nil || ev.Referral.CtwaClid == "" && ev.Referral.SourceType == "" {
			t.Fatalf("referral lost: %+v", ev.Referral)
		}
	}}
	cases["messages_text_referral_post"] = tc{check: func(t *testing.T, e *env) {
		checkCustomerMessage(t, e, "text", 1764000420, 72*time.Hour, true)
	}}
	cases["messages_text_stop"] = tc{check: func(t *testing.T, e *env) {
		ev := checkCustomerMessage(t, e, "text", 1764000180, 24*time.Hour, false)
		if !ev.StopKeyword {
			t.Fatal("event does not say stop_keyword")
		}
		for _, k := range []string{"uid:" + custUID, "tel:" + custPhone} {
			o := e.optOut(k)
			if o["marketing"] != true || o["keyword"] != true || o["source"] != "keyword" || o["at"] != unix(1764000180).Format(time.RFC3339) {
				t.Fatalf("opt-out under %s: %v", k, o)
			}
		}
		got, err := e.st.GetOptOut(e.ctx, waba, customer.Ref{Phone: custPhone})
		if err != nil || !got.Marketing || !got.Keyword {
			t.Fatalf("GetOptOut: %+v %v", got, err)
		}
	}}
	cases["messages_text_bsuid_no_phone"] = tc{check: func(t *testing.T, e *env) {
		evs := e.inbound()
		if len(evs) != 1 || evs[0].Customer.UserID != custUID || evs[0].Customer.Phone != "" || evs[0].Customer.Username != "@sheena.nelson" {
			t.Fatalf("events: %+v", evs)
		}
		if exp, _, _, ok := e.window("uid:" + custUID); !ok || exp != unix(1764000900).Add(24*time.Hour).UnixMilli() {
			t.Fatalf("window of a BSUID-only customer: %d %v", exp, ok)
		}
		if e.item("ALIAS#"+waba+"#uid:"+custUID, "#ALIAS") != nil {
			t.Fatal("alias written without a phone")
		}
	}}
	cases["messages_text_group"] = tc{check: func(t *testing.T, e *env) {
		evs := e.inbound()
		if len(evs) != 1 || evs[0].GroupID == "" || evs[0].Window != nil {
			t.Fatalf("group event: %+v", evs)
		}
		if _, _, _, ok := e.window("uid:" + custUID); ok {
			t.Fatal("a group message opened a 1:1 window")
		}
	}}
	oldStop := func(t *testing.T, e *env) {
		if err := e.st.ApplyOptOut(e.ctx, waba, customer.Ref{UserID: custUID, Phone: custPhone},
			webhook.OptOutEvent{Stop: true, Source: "user_preferences", At: unix(1764000000)}); err != nil {
			t.Fatal(err)
		}
	}
	cases["messages_system_user_changed_number"] = tc{seed: oldStop, check: func(t *testing.T, e *env) {
		evs := e.inbound()
		if len(evs) != 1 || evs[0].Type != "system" || evs[0].Window != nil || evs[0].Content.Subtype != "user_changed_number" {
			t.Fatalf("system event: %+v", evs)
		}
		if u := s(e.item("ALIAS#"+waba+"#tel:"+newPhone, "#ALIAS"), "userId"); u != newUID {
			t.Fatalf("alias of the new number: %q", u)
		}
		for _, k := range []string{"uid:" + newUID, "tel:" + newPhone} {
			if o := e.optOut(k); o["marketing"] != true {
				t.Fatalf("opt-out not carried to %s: %v", k, o)
			}
		}
		if _, _, _, ok := e.window("tel:" + custPhone); ok {
			t.Fatal("a system message opened a window")
		}
	}}
	cases["messages_system_user_changed_user_id"] = tc{seed: oldStop, check: func(t *testing.T, e *env) {
		if evs := e.inbound(); len(evs) != 1 || evs[0].Content.Subtype != "user_changed_user_id" {
			t.Fatalf("system event: %+v", evs)
		}
		if o := e.optOut("uid:" + newUID); o["marketing"] != true {
			t.Fatalf("opt-out not carried to the new BSUID: %v", o)
		}
	}}
	cases["messages_value_errors"] = tc{check: func(t *testing.T, e *env) {
		a := e.account()
		if ve := a.Errors["131000"]; ve.Title != "Something went wrong" || ve.Details == "" {
			t.Fatalf("out-of-band error not recorded: %+v", a.Errors)
		}
		if len(e.inbound()) != 0 {
			t.Fatal("errors forwarded as a message")
		}
	}}

	// Statuses.
	const trackedID, trackedWAMID = "req_01JD2K7Q9X3V8M4N5P6R7S8T9U", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBINTcxRDNEMTA2QjU0MENGQzBGNEYAA=="
	for name, want := range map[string]struct {
		status outbound.Status
		ts     int64
	}{
		"statuses_sent":      {outbound.StatusSent, 1764003000},
		"statuses_delivered": {outbound.StatusDelivered, 1764003002},
		"statuses_read":      {outbound.StatusRead, 1764003100},
	} {
		cases[name] = tc{
			seed: func(t *testing.T, e *env) {
				e.seedRecord(trackedID, trackedWAMID, false)
				e.mustPost(withValue(t, fixture(t, "statuses_sent"), "statuses", []any{}))
			},
			check: func(t *testing.T, e *env) {
				r := e.record(trackedID)
				if r.Status != want.status || !r.StatusAt.Equal(unix(want.ts)) {
					t.Fatalf("record: %s at %v", r.Status, r.StatusAt)
				}
				// An older status never regresses it.
				e.mustPost(fixture(t, "statuses_sent"))
				if r := e.record(trackedID); r.Status != want.status {
					t.Fatalf("regressed to %s", r.Status)
				}
			},
		}
	}
	const playedWAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIRUY2MzI1NjFFNEYyMTlGMDJGNUIAA=="
	cases["statuses_played"] = tc{
		seed: func(t *testing.T, e *env) { e.seedRecord("req_voice", playedWAMID, false) },
		check: func(t *testing.T, e *env) {
			if r := e.record("req_voice"); r.Status != outbound.StatusPlayed {
				t.Fatalf("played by wamid lookup: %s", r.Status)
			}
		},
	}
	orphan := func(wamid, status string) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			it := e.item("WAMID#"+wamid, "STATUS#"+status)
			if it == nil || n(it, "expiresAt") != fixtureTime.Add(30*24*time.Hour).Unix() {
				t.Fatalf("orphan status not kept: %v", it)
			}
			// Once the outbound side records the wamid it applies the orphan.
			e.seedRecord("req_late", wamid, false)
			if _, err := e.st.ApplyOrphans(e.ctx, wamid, "req_late"); err != nil {
				t.Fatal(err)
			}
			if r := e.record("req_late"); string(r.Status) != status {
				t.Fatalf("orphan not applied: %s", r.Status)
			}
			if e.item("WAMID#"+wamid, "STATUS#"+status) != nil {
				t.Fatal("orphan kept after it was applied")
			}
		}
	}
	cases["statuses_read_alt_parent_spelling"] = tc{check: orphan("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIOEE3QkE4RDI2Nzc4NzVBRURERTMAA==", "read")}
	cases["statuses_sent_free_entry_point"] = tc{check: orphan("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIMjUyMjUwQjU2MjVEMEY4MDhENUMAA==", "sent")}
	const reengageWAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIMDIyMTIxMDEwNEQzRjJFNzJFQkQAA=="
	cases["statuses_failed_131047"] = tc{
		seed: func(t *testing.T, e *env) {
			e.seedRecord("req_reengage", reengageWAMID, true)
			// The customer wrote 55 minutes before: by our count the window is open.
			e.mustPost(fixture(t, "messages_text"))
			e.inbound()
		},
		check: func(t *testing.T, e *env) {
			r := e.record("req_reengage")
			if r.Status != outbound.StatusFailed || r.ErrorCode != 131047 || r.ErrorTitle != "Re-engagement message" || r.FallbackID != "req_reengage:t" {
				t.Fatalf("record: %+v", r)
			}
			if exp, _, _, _ := e.window("uid:" + custUID); exp != unix(1764003400).UnixMilli() {
				t.Fatalf("window not closed at the failure: %d", exp)
			}
			w, _ := e.st.GetWindow(e.ctx, pnid, waba, customer.Ref{Phone: custPhone})
			if w.OpenAt(fixtureTime) {
				t.Fatal("window still open after 131047")
			}
			reqs := e.outbound()
			if len(reqs) != 1 || reqs[0].ID != "req_reengage:t" || !reqs[0].ForceTemplate || reqs[0].Template == nil || reqs[0].Template.Name != "order_update" {
				t.Fatalf("fallback: %+v", reqs)
			}
			// Exactly once: Meta's redelivery enqueues nothing more.
			e.mustPost(fixture(t, "statuses_failed_131047"))
			if reqs := e.outbound(); len(reqs) != 0 {
				t.Fatalf("fallback sent again: %+v", reqs)
			}
			// A message older than the close cannot reopen the window.
			e.mustPost(fixture(t, "messages_text_stop"))
			if exp, _, _, _ := e.window("uid:" + custUID); exp != unix(1764003400).UnixMilli() {
				t.Fatalf("older message reopened the window: %d", exp)
			}
		},
	}
	cases["statuses_failed_131050"] = tc{
		seed: func(t *testing.T, e *env) {
			e.seedRecord("req_optout", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIMERDRkU3Qjg0MkI4RDg0OEQ5RjQAA==", false)
		},
		check: func(t *testing.T, e *env) {
			if r := e.record("req_optout"); r.Status != outbound.StatusFailed || r.ErrorCode != 131050 {
				t.Fatalf("record: %+v", r)
			}
			o := e.optOut("tel:" + custPhone)
			if o["marketing"] != true || o["keyword"] == true || o["source"] != "error_131050" {
				t.Fatalf("opt-out: %v", o)
			}
		},
	}
	cases["statuses_failed_131026_then_delivered"] = tc{
		seed: func(t *testing.T, e *env) {
			e.seedRecord("req_undeliverable", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIOUM3RUQyODc3NzFBMUU2NjU3NzQAA==", false)
		},
		check: func(t *testing.T, e *env) {
			if r := e.record("req_undeliverable"); r.Status != outbound.StatusDelivered {
				t.Fatalf("record: %+v", r)
			}
			// Another device received it: the customer is not blocked for 72 h.
			d, err := e.st.GetDeliverability(e.ctx, waba, customer.Ref{Phone: custPhone})
			if err != nil || !d.UndeliverableUntil.IsZero() {
				t.Fatalf("deliverability: %+v %v", d, err)
			}
		},
	}
	cases["statuses_failed_131026"] = tc{
		seed: func(t *testing.T, e *env) {
			e.seedRecord("req_undeliverable", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIOUM3RUQyODc3NzFBMUU2NjU3NzQAA==", false)
		},
		check: func(t *testing.T, e *env) {
			if r := e.record("req_undeliverable"); r.Status != outbound.StatusFailed || r.ErrorCode != 131026 {
				t.Fatalf("record: %+v", r)
			}
			d, err := e.st.GetDeliverability(e.ctx, waba, customer.Ref{Phone: custPhone})
			if err != nil || !d.UndeliverableUntil.Equal(unix(1764003400).Add(customer.UndeliverableFor)) {
				t.Fatalf("deliverability: %+v %v", d, err)
			}
		},
	}
	cases["batch_mixed"] = tc{check: func(t *testing.T, e *env) {
		if evs := e.inbound(); len(evs) != 1 || evs[0].Content.Text != "Thanks!" {
			t.Fatalf("events: %+v", evs)
		}
		if e.item("WAMID#wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIOUY3RjA4OUI4NzNERjZFMDMwMUQAA==", "STATUS#delivered") == nil ||
			e.item("WAMID#wamid.HBgLMTY1MDU1NTEyMzQVAgARGBINEJENERGNDc0REUzN0M1MTg4MDgAA==", "STATUS#read") == nil {
			t.Fatal("statuses of the batch not kept")
		}
		if a := e.account(); a.Review == nil || a.Review.Decision != "APPROVED" {
			t.Fatalf("review of the batch: %+v", a.Review)
		}
	}}

	// Limits, quality, throughput.
	portfolio := func(t *testing.T, e *env, key, tier string, at int64) {
		t.Helper()
		p, err := e.st.GetPortfolio(e.ctx, key)
		if err != nil || p.Tier != tier || !p.EventAt.Equal(unix(at)) {
			t.Fatalf("portfolio %s: %+v %v, want %s at %d", key, p, err, tier, at)
		}
	}
	seedSender := func(t *testing.T, e *env) { e.seedSender() }
	for name, want := range map[string]struct {
		tier  string
		limit int
		at    int64
	}{
		"business_capability_update_tier_10k":         {"TIER_10K", 10000, 1764005100},
		"business_capability_update_numeric":          {"TIER_2K", 2000, 1764005110},
		"business_capability_update_unlimited":        {"TIER_UNLIMITED", sender.Unlimited, 1764005120},
		"business_capability_update_legacy_per_phone": {"TIER_UNLIMITED", sender.Unlimited, 1764005130},
		"business_capability_update_legacy_1k":        {"TIER_2K", 2000, 1764005140},
	} {
		cases[name] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
			portfolio(t, e, "waba:"+waba, want.tier, want.at)
			portfolio(t, e, "biz:"+business, want.tier, want.at)
			p, _ := e.st.GetPortfolio(e.ctx, "biz:"+business)
			if p.DailyLimit() != want.limit {
				t.Fatalf("daily limit %d, want %d", p.DailyLimit(), want.limit)
			}
			if s := e.sender(); s.MessagingLimit != want.tier || !s.LimitEventAt.Equal(unix(want.at)) {
				t.Fatalf("sender limit %s at %v", s.MessagingLimit, s.LimitEventAt)
			}
			// An older event changes nothing.
			older := withValue(t, withTime(t, fixture(t, name), want.at-100), "max_daily_conversations_per_business", "TIER_50")
			e.mustPost(older)
			portfolio(t, e, "biz:"+business, want.tier, want.at)
			if s := e.sender(); s.MessagingLimit != want.tier {
				t.Fatalf("older event applied to the sender: %s", s.MessagingLimit)
			}
		}}
	}
	cases["phone_number_quality_update"] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
		portfolio(t, e, "biz:"+business, "TIER_UNLIMITED", 1764005000)
		s := e.sender()
		if s.MessagingLimit != "TIER_UNLIMITED" || s.ThroughputLevel != webhook.ThroughputHigh || !s.LimitEventAt.Equal(unix(1764005000)) || s.QualityRating != sender.QualityNew {
			t.Fatalf("sender: limit %s throughput %s at %v quality %s", s.MessagingLimit, s.ThroughputLevel, s.LimitEventAt, s.QualityRating)
		}
	}}
	cases["phone_number_quality_update_legacy_downgrade"] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
		portfolio(t, e, "biz:"+business, "TIER_250", 1764005010)
		if s := e.sender(); s.MessagingLimit != "TIER_250" || s.ThroughputLevel != "" {
			t.Fatalf("sender: %s %s", s.MessagingLimit, s.ThroughputLevel)
		}
	}}
	cases["phone_number_quality_update_onboarding"] = tc{
		seed: func(t *testing.T, e *env) {
			e.seedSender()
			if _, err := e.st.SetPortfolioTier(e.ctx, "biz:"+business, "TIER_2K", unix(1764000000)); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, e *env) {
			// A new number's onboarding (TIER_NOT_SET) says nothing about the portfolio: its
			// limit stays, and the WABA's key is not set to 250 either.
			portfolio(t, e, "biz:"+business, "TIER_2K", 1764000000)
			if p, err := e.st.GetPortfolio(e.ctx, "waba:"+waba); err == nil {
				t.Fatalf("TIER_NOT_SET recorded for the portfolio: %+v", p)
			}
			if s := e.sender(); s.MessagingLimit != "TIER_NOT_SET" {
				t.Fatalf("sender: %s", s.MessagingLimit)
			}
		},
	}

	// Account updates.
	suspendedBy := func(reason string) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			s := e.sender()
			if s.Status != sender.StatusSuspended || s.Suspension == nil || s.Suspension.Reason != reason || s.Suspension.Previous != sender.StatusOnline {
				t.Fatalf("sender: %s %+v", s.Status, s.Suspension)
			}
		}
	}
	cases["account_update_disable"] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
		suspendedBy(webhook.ReasonWABADisabled)(t, e)
		if a := e.account(); a.Ban == nil || a.Ban.State != "DISABLE" || !a.Ban.EventAt.Equal(unix(1764006000)) {
			t.Fatalf("ban: %+v", a.Ban)
		}
	}}
	cases["account_update_deleted"] = tc{seed: seedSender, check: suspendedBy(webhook.ReasonAccountDeleted)}
	cases["account_update_reinstate"] = tc{
		seed: func(t *testing.T, e *env) {
			e.seedSender()
			e.mustPost(fixture(t, "account_update_disable"))
		},
		check: func(t *testing.T, e *env) {
			if s := e.sender(); s.Status != sender.StatusOnline || s.Suspension != nil {
				t.Fatalf("not reinstated: %s %+v", s.Status, s.Suspension)
			}
			// The older DISABLE delivered again changes nothing.
			e.mustPost(fixture(t, "account_update_disable"))
			if s := e.sender(); s.Status != sender.StatusOnline {
				t.Fatalf("older ban re-applied: %s", s.Status)
			}
		},
	}
	cases["account_update_schedule_for_disable"] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
		s := e.sender()
		last := s.StatusHistory[len(s.StatusHistory)-1]
		if s.Status != sender.StatusOnline || last.Reason != "waba_scheduled_for_disable:2025-12-01" || last.From != last.To || !last.At.Equal(unix(1764006010)) {
			t.Fatalf("warning: %s %+v", s.Status, last)
		}
		a := e.account()
		if a.ScheduledDisable == nil || !a.ScheduledDisable.At.Equal(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("scheduled disable: %+v", a.ScheduledDisable)
		}
		e.mustPost(fixture(t, "account_update_schedule_for_disable"))
		if n := len(e.sender().StatusHistory); n != len(s.StatusHistory) {
			t.Fatal("warning recorded twice")
		}
	}}
	cases["account_update_restriction_int"] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
		s := e.sender()
		want := []sender.Restriction{{Type: sender.RestrictBusinessInitiated, Until: unix(1764604800)}}
		if len(s.Restrictions) != 1 || s.Restrictions[0] != want[0] || !s.RestrictedAt(sender.RestrictBusinessInitiated, fixtureTime) || s.Status != sender.StatusOnline {
			t.Fatalf("restrictions: %+v status %s", s.Restrictions, s.Status)
		}
	}}
	cases["account_update_restriction_iso"] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
		s := e.sender()
		if len(s.Restrictions) != 2 || s.Restrictions[0].Type != "RESTRICTED_ADD_PHONE_NUMBER_ACTION" || !s.Restrictions[0].Until.IsZero() ||
			s.Restrictions[1].Type != sender.RestrictCustomerInitiated || !s.Restrictions[1].Until.Equal(time.Date(2025, 12, 1, 16, 0, 0, 0, time.UTC)) {
			t.Fatalf("restrictions: %+v", s.Restrictions)
		}
	}}
	cases["account_update_violation"] = tc{check: func(t *testing.T, e *env) {
		if a := e.account(); len(a.Violations) != 1 || a.Violations[0].Type != "SCAM" || !a.Violations[0].EventAt.Equal(unix(1764006050)) {
			t.Fatalf("violations: %+v", a.Violations)
		}
	}}
	cases["account_update_partner_removed"] = tc{check: func(t *testing.T, e *env) {
		if a := e.account(); len(a.Events) != 1 || a.Events[0].Event != "PARTNER_REMOVED" || !strings.Contains(a.Events[0].Detail, "CLIENT_INITIATED") {
			t.Fatalf("events: %+v", a.Events)
		}
	}}
	// The other partner events are recorded on the account item (their effects on senders and
	// tokens belong to the Partners port, tested in shared/app).
	for _, ev := range []string{"partner_added", "partner_app_uninstalled", "account_offboarded", "account_reconnected"} {
		event := strings.ToUpper(ev)
		cases["account_update_"+ev] = tc{check: func(t *testing.T, e *env) {
			if a := e.account(); len(a.Events) != 1 || a.Events[0].Event != event {
				t.Fatalf("events: %+v", a.Events)
			}
		}}
	}
	cases["account_review_update"] = tc{check: func(t *testing.T, e *env) {
		if a := e.account(); a.Review == nil || a.Review.Decision != "APPROVED" || !a.Review.EventAt.Equal(unix(1764006100)) {
			t.Fatalf("review: %+v", a.Review)
		}
	}}
	cases["account_alerts_40"] = tc{check: func(t *testing.T, e *env) {
		// Answered 200 the first time (mustPost) and every alert kept.
		if a := e.account(); len(a.Alerts) != 40 {
			t.Fatalf("alerts: %d, want 40", len(a.Alerts))
		}
	}}
	cases["account_alerts"] = tc{check: func(t *testing.T, e *env) {
		a := e.account()
		al, ok := a.Alerts["INCREASED_CAPABILITIES_INELIGIBLE|BUSINESS|506914307656634"]
		if !ok || al.Severity != "WARNING" || al.Status != "ACTIVE" || !al.EventAt.Equal(unix(1764006200)) {
			t.Fatalf("alerts: %+v", a.Alerts)
		}
	}}

	// Templates.
	tmpl := func(status, reason string, at int64) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			for _, lang := range []string{"en_US", "en-US"} {
				got, err := e.st.GetTemplate(e.ctx, waba, "order_update", lang)
				if err != nil || got.Status != status || got.Reason != reason || got.Category != "UTILITY" || got.ID != "1689556908129832" || !got.EventAt.Equal(unix(at)) {
					t.Fatalf("template (%s): %+v %v", lang, got, err)
				}
			}
		}
	}
	cases["message_template_status_update_approved"] = tc{check: tmpl("APPROVED", "", 1764007000)}
	cases["message_template_status_update_paused"] = tc{check: tmpl("PAUSED", "FIRST_PAUSE", 1764007010)}
	cases["message_template_status_update_disabled"] = tc{check: tmpl("DISABLED", "", 1764007020)}
	cases["message_template_status_update_rejected"] = tc{
		seed:  func(t *testing.T, e *env) { e.mustPost(fixture(t, "message_template_status_update_approved")) },
		check: tmpl("REJECTED", "INVALID_FORMAT", 1764007030),
	}
	cases["message_template_quality_update"] = tc{check: func(t *testing.T, e *env) {
		got, err := e.st.GetTemplate(e.ctx, waba, "order_update", "en-US")
		if err != nil || got.Quality != "YELLOW" {
			t.Fatalf("template quality: %+v %v", got, err)
		}
	}}

	// Names, preferences, identities.
	cases["phone_number_name_update"] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
		// Approved for an online number: Meta wants it registered again (the reconciler does).
		if s := e.sender(); s.DisplayNameStatus != "APPROVED" || s.DisplayName != "Aloro Tyres" || !s.ReregisterNeeded {
			t.Fatalf("name: %s %q reregister %v", s.DisplayNameStatus, s.DisplayName, s.ReregisterNeeded)
		}
	}}
	cases["phone_number_name_update_rejected"] = tc{seed: seedSender, check: func(t *testing.T, e *env) {
		if s := e.sender(); s.DisplayNameStatus != "REJECTED" || s.DisplayName != "Aloro" || s.ReregisterNeeded {
			t.Fatalf("name: %s %q", s.DisplayNameStatus, s.DisplayName)
		}
		if a := e.account(); a.Names[senderE164].RejectionReason != "NAME_FORMAT_UNACCEPTABLE" {
			t.Fatalf("name decision: %+v", a.Names)
		}
	}}
	cases["user_preferences_stop_br_legacy"] = tc{check: func(t *testing.T, e *env) {
		// Brazil's 12-digit id without the ninth digit is the canonical mobile's customer.
		got, err := e.st.GetOptOut(e.ctx, waba, customer.Ref{Phone: "+5511987654321"})
		if err != nil || !got.Marketing {
			t.Fatalf("opt-out of +5511987654321: %+v %v", got, err)
		}
		if n := e.metric("ParkedPayloads"); n != 0 {
			t.Fatalf("parked %d payloads", n)
		}
	}}
	cases["messages_text_stop_mx_legacy"] = tc{check: func(t *testing.T, e *env) {
		evs := e.inbound()
		if len(evs) != 1 || evs[0].Customer.Phone != "+525512345678" || !evs[0].StopKeyword {
			t.Fatalf("event: %+v", evs)
		}
		// The STOP from 521… opts out the customer addressed as +52…, in either form.
		for _, p := range []string{"+525512345678", "+5215512345678"} {
			ref := customer.Ref{Phone: p}
			if canon, err := phone.ParseRecipient(p); err == nil {
				ref.Phone = canon
			}
			got, err := e.st.GetOptOut(e.ctx, waba, ref)
			if err != nil || !got.Keyword {
				t.Fatalf("opt-out of %s: %+v %v", p, got, err)
			}
			w, err := e.st.GetWindow(e.ctx, pnid, waba, ref)
			if err != nil || !w.ExpiresAt.Equal(unix(1764000190).Add(24*time.Hour)) {
				t.Fatalf("window of %s: %+v %v", p, w, err)
			}
		}
	}}
	cases["user_preferences_stop"] = tc{check: func(t *testing.T, e *env) {
		for _, k := range []string{"uid:" + custUID, "tel:" + custPhone} {
			if o := e.optOut(k); o["marketing"] != true || o["source"] != "user_preferences" || o["at"] != unix(1764008000).Format(time.RFC3339) {
				t.Fatalf("opt-out %s: %v", k, o)
			}
		}
	}}
	cases["user_preferences_resume"] = tc{
		seed: func(t *testing.T, e *env) { e.mustPost(fixture(t, "user_preferences_stop")) },
		check: func(t *testing.T, e *env) {
			if o := e.optOut("uid:" + custUID); o["marketing"] != false {
				t.Fatalf("resume not applied: %v", o)
			}
			// The older stop delivered again does not undo the resume.
			e.mustPost(fixture(t, "user_preferences_stop"))
			if o := e.optOut("uid:" + custUID); o["marketing"] != false {
				t.Fatalf("older stop re-applied: %v", o)
			}
		},
	}
	cases["user_id_update"] = tc{seed: oldStop, check: func(t *testing.T, e *env) {
		if u := s(e.item("ALIAS#"+waba+"#tel:"+custPhone, "#ALIAS"), "userId"); u != newUID {
			t.Fatalf("alias not moved to the new BSUID: %q", u)
		}
		if p := s(e.item("ALIAS#"+waba+"#uid:"+newUID, "#ALIAS"), "phone"); p != custPhone {
			t.Fatalf("new BSUID alias: %q", p)
		}
		if o := e.optOut("uid:" + newUID); o["marketing"] != true {
			t.Fatalf("opt-out not carried: %v", o)
		}
	}}

	// Unknown and knowingly ignored fields.
	cases["unknown_field"] = tc{check: func(t *testing.T, e *env) {
		parked, err := e.st.ParkedOn(e.ctx, fixtureTime)
		if err != nil || len(parked) != 1 || !strings.Contains(parked[0].Reason, "unknown_field") || !bytes.Equal(parked[0].Body, fixture(t, "unknown_field")) {
			t.Fatalf("parked: %+v %v", parked, err)
		}
		if e.metric("UnknownFields") != 1 || e.metric("ParkedPayloads") != 1 {
			t.Fatalf("metrics: %s", e.metrics.String())
		}
	}}
	nothing := func(t *testing.T, e *env) {
		if items := e.scan(); len(items) != 0 {
			t.Fatalf("an ignored field wrote %d items", len(items))
		}
		if len(e.inbound()) != 0 {
			t.Fatal("an ignored field was forwarded")
		}
	}
	cases["ignored_calls"] = tc{check: nothing}
	cases["ignored_smb_message_echoes"] = tc{check: nothing}

	// Every fixture has a case, so a new field or type cannot go untested.
	for _, name := range fixtureNames(t) {
		if _, ok := cases[name]; !ok {
			t.Errorf("fixture %s has no case in TestEveryField", name)
		}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if c.seed != nil {
				c.seed(t, e)
			} else if strings.HasPrefix(name, "messages_") || name == "batch_mixed" {
				e.seedSender()
			}
			e.mustPost(fixture(t, name))
			c.check(t, e)
			if t.Failed() {
				t.Logf("logs:\n%s", e.logs.String())
			}
		})
	}
}

var _ = whatsapp.Sign
