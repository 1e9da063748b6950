package whatsapp

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Identities used consistently by every fixture.
const (
	fixtureWABA    = "102290129340398"
	fixturePNID    = "106540352242922"
	fixtureDisplay = "15550783881"
	fixtureWaID    = "16505551234"
	fixtureUserID  = "US.13491208655302741918"
	fixtureParent  = "US.ENT.11815799212886844830"
)

const payloadDir = "testdata/payloads"

// decodeFixture decodes a fixture with DecodeNotification (checked against ParseNotification
// and Decode), failing on any error.
func decodeFixture(t testing.TB, name string) (*Notification, []any) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(payloadDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	n := requireSameDecode(t, body)
	if n == nil {
		t.Fatalf("%s does not parse", name)
	}
	var out []any
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			v, err := c.Decode()
			if err != nil {
				t.Fatalf("Decode %s: %v", c.Field, err)
			}
			out = append(out, v)
		}
	}
	return n, out
}

// only returns the single decoded value, asserting its type.
func only[T any](t *testing.T, vals []any) *T {
	t.Helper()
	if len(vals) != 1 {
		t.Fatalf("got %d changes, want 1", len(vals))
	}
	v, ok := vals[0].(*T)
	if !ok {
		t.Fatalf("decoded %T, want %T", vals[0], new(T))
	}
	return v
}

// inbound returns the single message of a messages value, checking the shared identities.
func inbound(t *testing.T, vals []any, wantType string) (*MessagesValue, *Message) {
	t.Helper()
	v := only[MessagesValue](t, vals)
	if len(v.Messages) != 1 {
		t.Fatalf("got %d messages, want 1", len(v.Messages))
	}
	m := &v.Messages[0]
	if m.Type != wantType {
		t.Fatalf("type = %q, want %q", m.Type, wantType)
	}
	if m.ID == "" || m.Timestamp.IsZero() {
		t.Errorf("message lacks id or timestamp: %+v", m)
	}
	return v, m
}

func status(t *testing.T, vals []any, want string) (*MessagesValue, *Status) {
	t.Helper()
	v := only[MessagesValue](t, vals)
	if len(v.Statuses) != 1 {
		t.Fatalf("got %d statuses, want 1", len(v.Statuses))
	}
	s := &v.Statuses[0]
	if s.Status != want {
		t.Fatalf("status = %q, want %q", s.Status, want)
	}
	return v, s
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func limit(t *testing.T, tier Tier, wantName Tier, wantN int, wantUnlimited bool) {
	t.Helper()
	eq(t, "tier", tier, wantName)
	n, unl, known := tier.Limit()
	if !known || n != wantN || unl != wantUnlimited {
		t.Errorf("%s.Limit() = %d, %v, %v; want %d, %v, true", tier, n, unl, known, wantN, wantUnlimited)
	}
}

func failedStatus(code int64) func(*testing.T, []any) {
	return func(t *testing.T, vals []any) {
		v, s := status(t, vals, StatusFailed)
		if len(s.Errors) != 1 || int64(s.Errors[0].Code) != code || s.Errors[0].Details() == "" {
			t.Errorf("errors = %+v, want one code %d with details", s.Errors, code)
		}
		if len(s.Contacts) != 0 || s.RecipientUserID != "" {
			t.Errorf("failed status should carry no contacts / user id here")
		}
		ref := s.Customer(v.Contacts)
		eq(t, "recipient wa_id", ref.WaID, fixtureWaID)
		eq(t, "biz opaque", strings.HasPrefix(s.BizOpaqueCallbackData, "req_"), true)
	}
}

func templateStatus(event string, reason NullString) func(*testing.T, []any) {
	return func(t *testing.T, vals []any) {
		u := only[MessageTemplateStatusUpdate](t, vals)
		eq(t, "event", u.Event, event)
		eq(t, "template id", u.TemplateID, "1689556908129832")
		eq(t, "name", u.Name, "order_update")
		eq(t, "language", u.Language, "en_US")
		eq(t, "reason", u.Reason, reason)
		eq(t, "category", u.Category, "UTILITY")
	}
}

func banState(state string) func(*testing.T, []any) {
	return func(t *testing.T, vals []any) {
		u := only[AccountUpdate](t, vals)
		eq(t, "event", u.Event, AccountEventDisabledUpdate)
		if u.BanInfo == nil {
			t.Fatal("no ban_info")
		}
		eq(t, "ban state", u.BanInfo.State(), state)
		if u.BanInfo.WABABanDate == "" {
			t.Error("no ban date")
		}
	}
}

func ignored(field string) func(*testing.T, []any) {
	return func(t *testing.T, vals []any) {
		eq(t, "field", only[KnownIgnored](t, vals).Field, field)
	}
}

// fixtureChecks has one entry per file in testdata/payloads; TestFixtures fails on a file
// without a check, so new fixtures cannot go untested.
var fixtureChecks = map[string]func(*testing.T, []any){
	"messages_text": func(t *testing.T, vals []any) {
		v, m := inbound(t, vals, MessageTypeText)
		eq(t, "phone_number_id", v.Metadata.PhoneNumberID, fixturePNID)
		eq(t, "display", v.Metadata.DisplayPhoneNumber, fixtureDisplay)
		eq(t, "body", m.Text.Body, "Hi! Do you deliver to Cluj on Sundays?")
		eq(t, "content text", m.Content().Text, m.Text.Body)
		eq(t, "timestamp", m.Timestamp.Time().Unix() > 1763990000, true)
		want := CustomerRef{UserID: fixtureUserID, WaID: fixtureWaID, ProfileName: "Sheena Nelson"}
		if diff := cmp.Diff(want, m.Customer(v.Contacts)); diff != "" {
			t.Errorf("customer (-want +got):\n%s", diff)
		}
		eq(t, "free entry", m.HasFreeEntryReferral(), false)
		eq(t, "reply", m.IsReply(), false)
	},
	"messages_text_unicode": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeText)
		eq(t, "body", m.Text.Body, "Bună ziua! Café ☕ 👍")
	},
	"messages_text_stop": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeText)
		eq(t, "body", m.Text.Body, "STOP")
	},
	"messages_text_stop_mx_legacy": func(t *testing.T, vals []any) {
		v, m := inbound(t, vals, MessageTypeText)
		e164, err := m.Customer(v.Contacts).E164()
		eq(t, "legacy 521 wa_id as the canonical number", e164, "+525512345678")
		eq(t, "err", err, error(nil))
	},
	"messages_text_reply_context": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeText)
		eq(t, "reply", m.IsReply(), true)
		eq(t, "context.from", m.Context.From, fixtureDisplay)
	},
	"messages_text_forwarded": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeText)
		eq(t, "forwarded", m.Context.Forwarded && m.Context.FrequentlyForwarded, true)
		eq(t, "reply", m.IsReply(), false)
	},
	"messages_text_referral": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeText)
		eq(t, "free entry", m.HasFreeEntryReferral(), true)
		eq(t, "source_type", m.Referral.SourceType, "ad")
		eq(t, "welcome", m.Referral.WelcomeMessage.Text, "Hi! How can we help with your tyres?")
		eq(t, "ctwa_clid set", m.Referral.CtwaClid != "", true)
	},
	"messages_text_referral_post": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeText)
		eq(t, "free entry", m.HasFreeEntryReferral(), true)
		eq(t, "thumbnail", m.Referral.ThumbnailURL != "", true)
	},
	"messages_text_bsuid_no_phone": func(t *testing.T, vals []any) {
		v, m := inbound(t, vals, MessageTypeText)
		eq(t, "from", m.From, fixtureUserID)
		want := CustomerRef{UserID: fixtureUserID, ParentUserID: fixtureParent, ProfileName: "Sheena Nelson", Username: "@sheena.nelson"}
		ref := m.Customer(v.Contacts)
		if diff := cmp.Diff(want, ref); diff != "" {
			t.Errorf("customer (-want +got):\n%s", diff)
		}
		if _, err := ref.E164(); err != ErrNoPhone {
			t.Errorf("E164 err = %v, want ErrNoPhone", err)
		}
	},
	"messages_text_group": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeText)
		eq(t, "group", m.GroupID, "120363041234567890")
	},
	"messages_image": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeImage)
		c := m.Content()
		eq(t, "media id", c.MediaID, "1003383421387256")
		eq(t, "mime", c.MimeType, "image/jpeg")
		eq(t, "caption", c.Caption, "Photo of the damaged parcel")
	},
	"messages_video": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeVideo)
		eq(t, "media id", m.Content().MediaID, "1184672882839472")
	},
	"messages_audio_voice": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeAudio)
		c := m.Content()
		eq(t, "voice", c.Voice, true)
		eq(t, "mime", c.MimeType, "audio/ogg; codecs=opus")
	},
	"messages_document": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeDocument)
		c := m.Content()
		eq(t, "filename", c.Filename, "invoice-2025-10.pdf")
		eq(t, "caption", c.Caption, "Invoice for October")
	},
	"messages_sticker": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeSticker)
		eq(t, "mime", m.Content().MimeType, "image/webp")
	},
	"messages_location": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeLocation)
		c := m.Content()
		eq(t, "lat", c.Location.Latitude, 46.7700831)
		eq(t, "name", c.Location.Name, "Pickup point")
	},
	"messages_contacts": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeContacts)
		c := m.Content()
		if len(c.Contacts) != 1 {
			t.Fatalf("contacts = %d", len(c.Contacts))
		}
		card := c.Contacts[0]
		eq(t, "name", card.Name.FormattedName, "Barbara J. Johnson")
		eq(t, "phone wa_id", card.Phones[0].WaID, fixtureWaID)
		eq(t, "vcard", strings.HasPrefix(card.Vcard, "BEGIN:VCARD"), true)
		eq(t, "origin", string(card.Origin), `"contact_book"`)
	},
	"messages_interactive_button_reply": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeInteractive)
		c := m.Content()
		eq(t, "subtype", c.Subtype, InteractiveButtonReply)
		eq(t, "reply id", c.ReplyID, "confirm-appointment-7731")
		eq(t, "text", c.Text, "Confirm")
	},
	"messages_interactive_list_reply": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeInteractive)
		c := m.Content()
		eq(t, "subtype", c.Subtype, InteractiveListReply)
		eq(t, "reply id", c.ReplyID, "slot-2025-11-25-1500")
		eq(t, "description", c.Description, "Cluj city centre")
	},
	"messages_interactive_nfm_reply": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeInteractive)
		c := m.Content()
		eq(t, "subtype", c.Subtype, InteractiveNFMReply)
		eq(t, "flow json", strings.Contains(c.FlowResponseJSON, `"flow_token":"booking-7731"`), true)
	},
	"messages_interactive_call_permission_reply": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeInteractive)
		r := m.Interactive.CallPermissionReply
		eq(t, "response", r.Response, "accept")
		eq(t, "expiration", int64(r.ExpirationTimestamp), 1764000000+7*86400)
		eq(t, "content text", m.Content().Text, "accept")
	},
	"messages_button": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeButton)
		c := m.Content()
		eq(t, "payload", c.ReplyID, "STOP_PROMOTIONS")
		eq(t, "text", c.Text, "Stop promotions")
		eq(t, "reply", m.IsReply(), true)
	},
	"messages_reaction": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeReaction)
		c := m.Content()
		eq(t, "emoji", c.Emoji, "👍")
		eq(t, "target", strings.HasPrefix(c.TargetMessageID, "wamid."), true)
	},
	"messages_reaction_removed": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeReaction)
		eq(t, "emoji", m.Content().Emoji, "")
	},
	"messages_order": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeOrder)
		o := m.Content().Order
		eq(t, "catalog", o.CatalogID, "194836987003835")
		eq(t, "items", len(o.ProductItems), 2)
		eq(t, "qty", o.ProductItems[0].Quantity, 4)
		eq(t, "price", o.ProductItems[0].ItemPrice.String(), "389.99")
		eq(t, "qty from string", o.ProductItems[1].Quantity, 1)
		eq(t, "price from string", o.ProductItems[1].ItemPrice.String(), "120")
	},
	"messages_system_user_changed_number": func(t *testing.T, vals []any) {
		v, m := inbound(t, vals, MessageTypeSystem)
		eq(t, "contacts", len(v.Contacts), 0)
		eq(t, "system type", m.System.Type, SystemUserChangedNumber)
		eq(t, "new wa_id", m.System.NewPhoneWaID(), "16505559876")
		eq(t, "previous user id", m.System.PreviousUserID, fixtureUserID)
		eq(t, "customer", m.Customer(v.Contacts).WaID, fixtureWaID)
	},
	"messages_system_user_changed_user_id": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeSystem)
		eq(t, "system type", m.System.Type, SystemUserChangedUserID)
		eq(t, "previous parent", m.System.PreviousParentUserID, fixtureParent)
		eq(t, "customer", m.Customer(nil).UserID, "US.99887766554433221100")
	},
	"messages_unsupported": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeUnsupported)
		c := m.Content()
		eq(t, "supported", c.Supported, false)
		eq(t, "subtype", c.Subtype, "poll")
		eq(t, "error code", m.Errors[0].Code, 131051)
	},
	"messages_unknown_legacy": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeUnknown)
		eq(t, "supported", m.Content().Supported, false)
		eq(t, "error code", m.Errors[0].Code, 131051)
		eq(t, "legacy details", m.Errors[0].Details(), "Message type is not currently supported")
		eq(t, "raw", len(m.Raw), 0)
	},
	"messages_request_welcome": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeRequestWelcome)
		eq(t, "supported", m.Content().Supported, true)
	},
	"messages_revoke": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeRevoke)
		eq(t, "target", strings.HasPrefix(m.Content().TargetMessageID, "wamid."), true)
	},
	"messages_edit": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, MessageTypeEdit)
		eq(t, "target", strings.HasPrefix(m.Content().TargetMessageID, "wamid."), true)
	},
	"messages_future_type": func(t *testing.T, vals []any) {
		_, m := inbound(t, vals, "hologram")
		eq(t, "known", KnownMessageType(m.Type), false)
		eq(t, "supported", m.Content().Supported, false)
		eq(t, "raw kept", strings.Contains(string(m.Raw), `"hologram":{"id":"998877"`) || strings.Contains(string(m.Raw), `"hologram": {`), true)
	},
	"messages_value_errors": func(t *testing.T, vals []any) {
		v := only[MessagesValue](t, vals)
		eq(t, "messages+statuses", len(v.Messages)+len(v.Statuses), 0)
		eq(t, "error code", v.Errors[0].Code, 131000)
	},
	"statuses_sent": func(t *testing.T, vals []any) {
		v, s := status(t, vals, StatusSent)
		eq(t, "pricing model", s.Pricing.PricingModel, "PMP")
		eq(t, "billable", s.Pricing.Billable, true)
		eq(t, "category", s.Pricing.Category, "utility")
		eq(t, "opaque", s.BizOpaqueCallbackData, "req_01JD2K7Q9X3V8M4N5P6R7S8T9U")
		eq(t, "timestamp", s.Timestamp, 1764003000)
		want := CustomerRef{UserID: fixtureUserID, WaID: fixtureWaID, ProfileName: "Sheena Nelson"}
		if diff := cmp.Diff(want, s.Customer(v.Contacts)); diff != "" {
			t.Errorf("recipient (-want +got):\n%s", diff)
		}
	},
	"statuses_delivered": func(t *testing.T, vals []any) {
		_, s := status(t, vals, StatusDelivered)
		eq(t, "pricing", s.Pricing == nil, true)
	},
	"statuses_read": func(t *testing.T, vals []any) {
		_, s := status(t, vals, StatusRead)
		eq(t, "parent", s.RecipientParentUserID, fixtureParent)
	},
	"statuses_read_alt_parent_spelling": func(t *testing.T, vals []any) {
		_, s := status(t, vals, StatusRead)
		eq(t, "parent", s.RecipientParentUserID, fixtureParent)
		eq(t, "customer parent", s.Customer(nil).ParentUserID, fixtureParent)
	},
	"statuses_played": func(t *testing.T, vals []any) {
		status(t, vals, StatusPlayed)
	},
	"statuses_sent_free_entry_point": func(t *testing.T, vals []any) {
		_, s := status(t, vals, StatusSent)
		eq(t, "type", s.Pricing.Type, "free_entry_point")
		eq(t, "billable", s.Pricing.Billable, false)
		eq(t, "origin", s.Conversation.Origin.Type, "referral_conversion")
		eq(t, "conv expiry", s.Conversation.ExpirationTimestamp > s.Timestamp, true)
	},
	"statuses_failed_131047": failedStatus(131047),
	"statuses_failed_131050": failedStatus(131050),
	"statuses_failed_131026": failedStatus(131026),
	"statuses_failed_131026_then_delivered": func(t *testing.T, vals []any) {
		v := only[MessagesValue](t, vals)
		eq(t, "statuses", len(v.Statuses), 2)
		eq(t, "same message", v.Statuses[0].ID, v.Statuses[1].ID)
		eq(t, "failed first", v.Statuses[0].Status, StatusFailed)
		eq(t, "delivered second", v.Statuses[1].Status, "delivered")
	},
	"batch_mixed": func(t *testing.T, vals []any) {
		if len(vals) != 3 {
			t.Fatalf("got %d changes, want 3", len(vals))
		}
		v := vals[0].(*MessagesValue)
		eq(t, "messages", len(v.Messages), 1)
		eq(t, "statuses", len(v.Statuses), 2)
		eq(t, "review", vals[1].(*AccountReviewUpdate).Decision, "APPROVED")
		eq(t, "ignored", vals[2].(*KnownIgnored).Field, "smb_message_echoes")
	},
	"phone_number_quality_update": func(t *testing.T, vals []any) {
		u := only[PhoneNumberQualityUpdate](t, vals)
		eq(t, "event", u.Event, "THROUGHPUT_UPGRADE")
		eq(t, "display", u.DisplayPhoneNumber, fixtureDisplay)
		limit(t, u.Limit(), TierUnlimited, 0, true)
	},
	"phone_number_quality_update_legacy_downgrade": func(t *testing.T, vals []any) {
		u := only[PhoneNumberQualityUpdate](t, vals)
		eq(t, "event", u.Event, "DOWNGRADE")
		limit(t, u.Limit(), Tier250, 250, false)
		limit(t, u.OldLimit, Tier2K, 2000, false)
	},
	"phone_number_quality_update_onboarding": func(t *testing.T, vals []any) {
		u := only[PhoneNumberQualityUpdate](t, vals)
		eq(t, "limit", u.Limit(), TierNotSet)
		if _, _, known := u.Limit().Limit(); known {
			t.Error("TIER_NOT_SET should not be a known limit")
		}
	},
	"business_capability_update_tier_10k": func(t *testing.T, vals []any) {
		u := only[BusinessCapabilityUpdate](t, vals)
		limit(t, u.Limit(), Tier10K, 10000, false)
		eq(t, "max numbers", u.MaxPhoneNumbersPerWABA, 25)
	},
	"business_capability_update_numeric": func(t *testing.T, vals []any) {
		u := only[BusinessCapabilityUpdate](t, vals)
		limit(t, u.Limit(), Tier2K, 2000, false)
		eq(t, "max numbers per business", u.MaxPhoneNumbersPerBusiness, 2)
	},
	"business_capability_update_unlimited": func(t *testing.T, vals []any) {
		u := only[BusinessCapabilityUpdate](t, vals)
		limit(t, u.Limit(), TierUnlimited, 0, true)
		eq(t, "max numbers from string", u.MaxPhoneNumbersPerWABA, 25)
	},
	"business_capability_update_legacy_per_phone": func(t *testing.T, vals []any) {
		u := only[BusinessCapabilityUpdate](t, vals)
		eq(t, "per business", u.MaxDailyConversationsPerBusiness, TierNone)
		limit(t, u.Limit(), TierUnlimited, 0, true)
	},
	"business_capability_update_legacy_1k": func(t *testing.T, vals []any) {
		limit(t, only[BusinessCapabilityUpdate](t, vals).Limit(), Tier2K, 2000, false)
	},
	"account_update_disable":              banState(BanStateDisable),
	"account_update_schedule_for_disable": banState(BanStateScheduleForDisable),
	"account_update_reinstate":            banState(BanStateReinstate),
	"account_update_restriction_int": func(t *testing.T, vals []any) {
		u := only[AccountUpdate](t, vals)
		eq(t, "event", u.Event, AccountEventAccountRestriction)
		eq(t, "phone", u.PhoneNumber, fixtureDisplay)
		r := u.RestrictionInfo[0]
		eq(t, "type", r.RestrictionType, "RESTRICTED_BIZ_INITIATED_MESSAGING")
		eq(t, "expiration", r.Expiration.Time, time.Unix(1764000000+7*86400, 0).UTC())
	},
	"account_update_restriction_iso": func(t *testing.T, vals []any) {
		u := only[AccountUpdate](t, vals)
		eq(t, "n", len(u.RestrictionInfo), 2)
		eq(t, "expiration", u.RestrictionInfo[0].Expiration.Time, time.Date(2025, 12, 1, 16, 0, 0, 0, time.UTC))
		eq(t, "null expiration", u.RestrictionInfo[1].Expiration.IsSet(), false)
	},
	"account_update_violation": func(t *testing.T, vals []any) {
		u := only[AccountUpdate](t, vals)
		eq(t, "event", u.Event, AccountEventAccountViolation)
		eq(t, "violation", u.ViolationInfo.ViolationType, "SCAM")
	},
	"account_update_deleted": func(t *testing.T, vals []any) {
		eq(t, "event", only[AccountUpdate](t, vals).Event, AccountEventAccountDeleted)
	},
	"account_update_partner_removed": func(t *testing.T, vals []any) {
		u := only[AccountUpdate](t, vals)
		eq(t, "reason", u.DisconnectionInfo.Reason, "CLIENT_INITIATED")
		eq(t, "waba", u.WABAInfo.WABAID, fixtureWABA)
	},
	"account_review_update": func(t *testing.T, vals []any) {
		eq(t, "decision", only[AccountReviewUpdate](t, vals).Decision, "APPROVED")
	},
	"account_alerts": func(t *testing.T, vals []any) {
		u := only[AccountAlerts](t, vals)
		eq(t, "entity id from number", u.EntityID, "506914307656634")
		eq(t, "type", u.AlertInfo.AlertType, "INCREASED_CAPABILITIES_INELIGIBLE")
	},
	"account_alerts_40": func(t *testing.T, vals []any) {
		eq(t, "changes", len(vals), 40)
		for _, v := range vals {
			if _, ok := v.(*AccountAlerts); !ok {
				t.Fatalf("change %T, want *AccountAlerts", v)
			}
		}
	},
	"message_template_status_update_approved": templateStatus(TemplateApproved, "NONE"),
	"message_template_status_update_paused": func(t *testing.T, vals []any) {
		templateStatus(TemplatePaused, "")(t, vals)
		eq(t, "other info", only[MessageTemplateStatusUpdate](t, vals).OtherInfo.Title, "FIRST_PAUSE")
	},
	"message_template_status_update_disabled": func(t *testing.T, vals []any) {
		templateStatus(TemplateDisabled, "NONE")(t, vals)
		eq(t, "disable date", only[MessageTemplateStatusUpdate](t, vals).DisableInfo.DisableDate, "November 24, 2025")
	},
	"message_template_status_update_rejected": templateStatus(TemplateRejected, "INVALID_FORMAT"),
	"message_template_quality_update": func(t *testing.T, vals []any) {
		u := only[MessageTemplateQualityUpdate](t, vals)
		eq(t, "new", u.NewQualityScore, "YELLOW")
		eq(t, "id", u.TemplateID, "1689556908129832")
	},
	"phone_number_name_update": func(t *testing.T, vals []any) {
		u := only[PhoneNumberNameUpdate](t, vals)
		eq(t, "decision", u.Decision, "APPROVED")
		eq(t, "reason", u.RejectionReason, "")
	},
	"phone_number_name_update_rejected": func(t *testing.T, vals []any) {
		u := only[PhoneNumberNameUpdate](t, vals)
		eq(t, "reason", u.RejectionReason, "NAME_FORMAT_UNACCEPTABLE")
	},
	"user_preferences_stop_br_legacy": func(t *testing.T, vals []any) {
		u := only[UserPreferencesValue](t, vals)
		eq(t, "wa_id", u.UserPreferences[0].WaID, "551187654321")
		eq(t, "value", u.UserPreferences[0].Value, PreferenceStop)
	},
	"user_preferences_stop": func(t *testing.T, vals []any) {
		u := only[UserPreferencesValue](t, vals)
		p := u.UserPreferences[0]
		eq(t, "value", p.Value, PreferenceStop)
		eq(t, "category", p.Category, "marketing_messages")
		eq(t, "user id", p.UserID, fixtureUserID)
		eq(t, "int timestamp", p.Timestamp, 1764008000)
		eq(t, "pnid", u.Metadata.PhoneNumberID, fixturePNID)
	},
	"user_preferences_resume": func(t *testing.T, vals []any) {
		eq(t, "value", only[UserPreferencesValue](t, vals).UserPreferences[0].Value, PreferenceResume)
	},
	"user_id_update": func(t *testing.T, vals []any) {
		u := only[UserIDUpdate](t, vals)
		eq(t, "previous", u.UserID.Previous, fixtureUserID)
		eq(t, "current", u.UserID.Current, "US.99887766554433221100")
		eq(t, "parent previous", u.ParentUserID.Previous, fixtureParent)
		eq(t, "wa_id", u.WaID, fixtureWaID)
	},
	"ignored_smb_message_echoes": ignored("smb_message_echoes"),
	"ignored_calls":              ignored("calls"),
	"unknown_field": func(t *testing.T, vals []any) {
		u := only[UnknownField](t, vals)
		eq(t, "field", u.Field, "brand_new_field_2027")
		eq(t, "raw", strings.Contains(string(u.Raw), `"something"`), true)
	},
}

func fixtureNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = strings.TrimSuffix(filepath.Base(p), ".json")
	}
	return names
}

func TestFixtures(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, name := range fixtureNames(t) {
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check, ok := fixtureChecks[name]
			if !ok {
				t.Fatalf("fixture %s has no entry in fixtureChecks", name)
			}
			n, vals := decodeFixture(t, name)
			for _, e := range n.Entry {
				eq(t, "entry id (WABA)", e.ID, fixtureWABA)
			}
			for _, v := range vals {
				if mv, ok := v.(*MessagesValue); ok {
					eq(t, "phone_number_id", mv.Metadata.PhoneNumberID, fixturePNID)
					eq(t, "display", mv.Metadata.DisplayPhoneNumber, fixtureDisplay)
				}
			}
			check(t, vals)
		})
	}
	for name := range fixtureChecks {
		if !seen[name] {
			t.Errorf("fixtureChecks has %s but testdata/payloads/%s.json is missing", name, name)
		}
	}
}

// TestFixturesCoverMessageTypes keeps one fixture per message type of MessageTypes and per field
// of KnownFields that this backend acts on.
func TestFixturesCoverMessageTypes(t *testing.T) {
	t.Parallel()
	types := map[string]bool{}
	fields := map[string]bool{}
	for _, name := range fixtureNames(t) {
		_, vals := decodeFixture(t, name)
		for _, v := range vals {
			switch v := v.(type) {
			case *MessagesValue:
				fields[FieldMessages] = true
				for _, m := range v.Messages {
					types[m.Type] = true
				}
			case *KnownIgnored:
			case *UnknownField:
			default:
				fields[fieldOf(v)] = true
			}
		}
	}
	for _, mt := range MessageTypes {
		if !types[mt] {
			t.Errorf("no fixture for message type %q", mt)
		}
	}
	for f := range typedDecoders {
		if !fields[f] {
			t.Errorf("no fixture for field %q", f)
		}
	}
}

// fieldOf maps a decoded value back to its field, by decoding an empty object for each field.
func fieldOf(v any) string {
	for f, dec := range typedDecoders {
		probe, err := dec([]byte(`{}`))
		if err == nil && reflect.TypeOf(probe) == reflect.TypeOf(v) {
			return f
		}
	}
	return ""
}
