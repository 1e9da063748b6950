package whatsapp

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseNotificationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		wantReason ParseReason
	}{
		{name: "empty", body: "", wantReason: ParseEmpty},
		{name: "whitespace", body: " \n\t", wantReason: ParseEmpty},
		{name: "not json", body: "hello", wantReason: ParseMalformed},
		{name: "truncated", body: `{"object":"whatsapp_business_account","entry":[`, wantReason: ParseMalformed},
		{name: "array", body: `[]`, wantReason: ParseMalformed},
		{name: "string", body: `"whatsapp_business_account"`, wantReason: ParseMalformed},
		{name: "entry not array", body: `{"object":"whatsapp_business_account","entry":{}}`, wantReason: ParseMalformed},
		{name: "change not object", body: `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[1]}]}`, wantReason: ParseMalformed},
		{name: "entry time huge", body: `{"object":"whatsapp_business_account","entry":[{"id":"1","time":1e400,"changes":[]}]}`, wantReason: ParseMalformed},
		{name: "no object", body: `{"entry":[]}`, wantReason: ParseWrongObject},
		{name: "page object", body: `{"object":"page","entry":[]}`, wantReason: ParseWrongObject},
		{name: "instagram", body: `{"object":"instagram","entry":[{"id":"1","changes":[]}]}`, wantReason: ParseWrongObject},
		{name: "trailing garbage", body: `{"object":"whatsapp_business_account","entry":[]} x`, wantReason: ParseMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := ParseNotification([]byte(tt.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseNotification() = %v, %v; want *ParseError", n, err)
			}
			if pe.Reason != tt.wantReason {
				t.Errorf("reason = %q, want %q (%v)", pe.Reason, tt.wantReason, err)
			}
			if n != nil {
				t.Error("notification should be nil on error")
			}
			if pe.Error() == "" {
				t.Error("empty message")
			}
		})
	}
}

func TestParseNotificationTolerantEnvelope(t *testing.T) {
	t.Parallel()
	body := `{"object":"whatsapp_business_account","entry":[
		{"id":102290129340398,"time":"1764000000","changes":[]},
		{"id":"102290129340398","changes":null}]}`
	n, err := ParseNotification([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if n.Entry[0].ID != "102290129340398" || n.Entry[0].Time != 1764000000 {
		t.Errorf("entry 0 = %+v", n.Entry[0])
	}
	// A notification with no entries is valid: there is simply nothing to do.
	if _, err := ParseNotification([]byte(`{"object":"whatsapp_business_account"}`)); err != nil {
		t.Errorf("empty entry: %v", err)
	}
}

// TestOneBadChangeDoesNotFailOthers is the core promise: decode errors are per change.
func TestOneBadChangeDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	body := `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[
		{"field":"messages","value":{"messages":[{"id":"wamid.1","timestamp":"not a time","type":"text","text":{"body":"x"}}]}},
		{"field":"business_capability_update","value":{"max_daily_conversations_per_business":1e30}},
		{"field":"account_update","value":"DISABLED"},
		{"field":"account_update"},
		{"field":"messages","value":null},
		{"field":"messages","value":{"messages":[{"id":"wamid.2","timestamp":"1764000000","type":"text","text":{"body":"ok"}}]}},
		{"field":"history","value":null},
		{"field":"never_heard_of_it","value":[1,2,3]}
	]}]}`
	n, err := ParseNotification([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var gotErrs []string
	var ok []any
	for _, c := range n.Entry[0].Changes {
		v, err := c.Decode()
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Field != c.Field {
				t.Errorf("error %v is not a *DecodeError for %s", err, c.Field)
			}
			gotErrs = append(gotErrs, c.Field)
			continue
		}
		ok = append(ok, v)
	}
	wantErrs := []string{"messages", "business_capability_update", "account_update", "account_update", "messages"}
	if !slices.Equal(gotErrs, wantErrs) {
		t.Errorf("failed changes = %v, want %v", gotErrs, wantErrs)
	}
	if len(ok) != 3 {
		t.Fatalf("decoded %d changes, want 3", len(ok))
	}
	if mv := ok[0].(*MessagesValue); mv.Messages[0].Text.Body != "ok" {
		t.Errorf("good message = %+v", mv.Messages[0])
	}
	if ig := ok[1].(*KnownIgnored); ig.Field != "history" {
		t.Errorf("ignored = %+v", ig)
	}
	if u := ok[2].(*UnknownField); u.Field != "never_heard_of_it" || string(u.Raw) != "[1,2,3]" {
		t.Errorf("unknown = %+v", u)
	}
}

func TestDecodeChangeNoValue(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", "null", "  null "} {
		_, err := DecodeChange(FieldAccountUpdate, json.RawMessage(raw))
		if !errors.Is(err, ErrNoValue) {
			t.Errorf("DecodeChange(%q) err = %v, want ErrNoValue", raw, err)
		}
	}
}

// TestAllKnownFieldsMapped checks that every name in KnownFields decodes to something other than
// *UnknownField, typed fields to their own type, and that no typed field is also ignored.
func TestAllKnownFieldsMapped(t *testing.T) {
	t.Parallel()
	want := map[string]any{
		FieldMessages:                     &MessagesValue{},
		FieldPhoneNumberQualityUpdate:     &PhoneNumberQualityUpdate{},
		FieldBusinessCapabilityUpdate:     &BusinessCapabilityUpdate{},
		FieldAccountUpdate:                &AccountUpdate{},
		FieldAccountReviewUpdate:          &AccountReviewUpdate{},
		FieldAccountAlerts:                &AccountAlerts{},
		FieldMessageTemplateStatusUpdate:  &MessageTemplateStatusUpdate{},
		FieldMessageTemplateQualityUpdate: &MessageTemplateQualityUpdate{},
		FieldPhoneNumberNameUpdate:        &PhoneNumberNameUpdate{},
		FieldUserPreferences:              &UserPreferencesValue{},
		FieldUserIDUpdate:                 &UserIDUpdate{},
	}
	if !slices.IsSorted(KnownFields) {
		t.Error("KnownFields is not sorted")
	}
	if len(KnownFields) != len(want)+len(IgnoredFields) {
		t.Errorf("KnownFields has %d names, want %d typed + %d ignored", len(KnownFields), len(want), len(IgnoredFields))
	}
	for _, f := range KnownFields {
		v, err := DecodeChange(f, json.RawMessage(`{}`))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, unknown := v.(*UnknownField); unknown {
			t.Errorf("%s decodes to *UnknownField", f)
			continue
		}
		if w, typed := want[f]; typed {
			if reflect.TypeOf(v) != reflect.TypeOf(w) {
				t.Errorf("%s decodes to %T, want %T", f, v, w)
			}
		} else if ig, ok := v.(*KnownIgnored); !ok || ig.Field != f {
			t.Errorf("%s decodes to %#v, want *KnownIgnored", f, v)
		}
	}
	for f := range want {
		if !slices.Contains(KnownFields, f) {
			t.Errorf("typed field %s missing from KnownFields", f)
		}
		if slices.Contains(IgnoredFields, f) {
			t.Errorf("typed field %s is also in IgnoredFields", f)
		}
	}
	for _, f := range []string{"automatic_events", "history", "partner_solutions", "payment_configuration_update",
		"security", "smb_app_state_sync", "smb_message_echoes", "calls", "group_lifecycle_update",
		"group_settings_update", "group_participants_update", "group_participant_update",
		"business_username_update", "template_category_update", "message_template_components_update"} {
		if !slices.Contains(IgnoredFields, f) {
			t.Errorf("%s should be known-ignored", f)
		}
	}
}

func TestMessageTypesAreDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, mt := range MessageTypes {
		if seen[mt] {
			t.Errorf("duplicate %s", mt)
		}
		seen[mt] = true
		if !KnownMessageType(mt) {
			t.Errorf("KnownMessageType(%s) = false", mt)
		}
	}
	if KnownMessageType("hologram") || KnownMessageType("") {
		t.Error("unknown types reported as known")
	}
}

func TestUnknownMessageTypeKeepsRawAmongKnown(t *testing.T) {
	t.Parallel()
	raw := `{"messages":[
		{"id":"a","timestamp":"1","type":"text","text":{"body":"x"}},
		{"id":"b","timestamp":"2","type":"hologram","hologram":{"k":1}},
		{"id":"c","timestamp":"3","type":"poll_vote","poll_vote":{"option":2}}]}`
	v, err := DecodeChange(FieldMessages, json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	ms := v.(*MessagesValue).Messages
	if ms[0].Raw != nil {
		t.Error("known type should not keep raw")
	}
	if !strings.Contains(string(ms[1].Raw), `"hologram":{"k":1}`) || !strings.Contains(string(ms[2].Raw), `"poll_vote"`) {
		t.Errorf("raw = %s / %s", ms[1].Raw, ms[2].Raw)
	}
}

func TestStatusParentSpellings(t *testing.T) {
	t.Parallel()
	raw := `{"statuses":[
		{"id":"a","status":"read","timestamp":"1","recipient_parent_user_id":"US.ENT.1"},
		{"id":"b","status":"read","timestamp":"1","parent_recipient_user_id":"US.ENT.2"},
		{"id":"c","status":"read","timestamp":"1","recipient_parent_user_id":"US.ENT.3","parent_recipient_user_id":"US.ENT.4"}]}`
	v, err := DecodeChange(FieldMessages, json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range v.(*MessagesValue).Statuses {
		got = append(got, s.RecipientParentUserID)
	}
	if want := []string{"US.ENT.1", "US.ENT.2", "US.ENT.3"}; !slices.Equal(got, want) {
		t.Errorf("parents = %v, want %v", got, want)
	}
}

func TestHostileInput(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	deepObj := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	tests := []struct {
		name string
		body string
	}{
		{name: "deeply nested body", body: deep},
		{name: "deeply nested value", body: `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":` + deep + `}]}]}`},
		{name: "deeply nested object in message", body: `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"id":"x","type":"text","text":` + deepObj + `}]}}]}]}`},
		{name: "deeply nested unknown field", body: `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"zzz","value":` + deepObj + `}]}]}`},
		{name: "invalid utf-8", body: "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{\"messages\":[{\"id\":\"x\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"\xff\xfe\xc3\"}}]}}]}]}"},
		{name: "invalid utf-8 in field", body: "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"\xff\",\"value\":{}}]}]}"},
		{name: "huge numbers everywhere", body: `{"object":"whatsapp_business_account","entry":[{"id":1e999999,"changes":[
			{"field":"messages","value":{"messages":[{"id":"x","timestamp":1e999999,"type":"location","location":{"latitude":1e999999,"longitude":-1e999999}}],
			  "statuses":[{"id":"s","status":"failed","timestamp":"99999999999999999999999999","errors":[{"code":1e999999}]}]}},
			{"field":"business_capability_update","value":{"max_daily_conversations_per_business":99999999999999999999999999999999,"max_phone_numbers_per_waba":1e400}},
			{"field":"message_template_status_update","value":{"message_template_id":123456789012345678901234567890123456789}},
			{"field":"account_update","value":{"restriction_info":[{"expiration":1e400}]}},
			{"field":"user_preferences","value":{"user_preferences":[{"timestamp":-1e400}]}}]}]}`},
		{name: "long strings", body: `{"object":"whatsapp_business_account","entry":[{"id":"` + strings.Repeat("9", 1<<16) + `","changes":[{"field":"` + strings.Repeat("f", 1<<16) + `","value":{}}]}]}`},
		{name: "nul bytes", body: "{\"object\":\"whatsapp_business_account\"\x00}"},
		{name: "huge literal in typed float", body: `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"id":"x","type":"location","location":{"latitude":` + strings.Repeat("9", 1<<17) + `}}]}}]}]}`},
		{name: "huge literal in envelope", body: `{"object":"whatsapp_business_account","entry":[{"id":"1","time":` + strings.Repeat("9", 1<<17) + `}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Must not panic; errors are fine but must be the typed ones.
			n, err := ParseNotification([]byte(tt.body))
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("untyped parse error %v", err)
				}
				if len(pe.Error()) > 2000 {
					t.Errorf("error message is %d bytes; hostile input must not bloat logs", len(pe.Error()))
				}
				return
			}
			for _, e := range n.Entry {
				for _, c := range e.Changes {
					v, err := c.Decode()
					if err != nil {
						var de *DecodeError
						if !errors.As(err, &de) {
							t.Fatalf("untyped decode error %v", err)
						}
						if len(de.Error()) > 2000 {
							t.Errorf("error message is %d bytes; hostile input must not bloat logs", len(de.Error()))
						}
						continue
					}
					if mv, ok := v.(*MessagesValue); ok {
						for i := range mv.Messages {
							_ = mv.Messages[i].Content()
							_ = mv.Messages[i].Customer(mv.Contacts)
						}
					}
				}
			}
		})
	}
}

func TestHugeTemplateIDKeepsDigits(t *testing.T) {
	t.Parallel()
	v, err := DecodeChange(FieldMessageTemplateStatusUpdate, json.RawMessage(`{"event":"APPROVED","message_template_id":123456789012345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(*MessageTemplateStatusUpdate).TemplateID; got != "123456789012345678901234567890" {
		t.Errorf("id = %s", got)
	}
}

func TestInvalidUTF8IsReplacedNotFatal(t *testing.T) {
	t.Parallel()
	body := []byte("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{\"messages\":[{\"id\":\"x\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"a\xffb\"}}]}}]}]}")
	n, err := ParseNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.Entry[0].Changes[0].Decode()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(*MessagesValue).Messages[0].Text.Body; got != "a\uFFFDb" {
		t.Errorf("body = %q", got)
	}
}

func TestParseDoesNotAliasBody(t *testing.T) {
	t.Parallel()
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_review_update","value":{"decision":"APPROVED"}}]}]}`)
	n, err := ParseNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = ' '
	}
	v, err := n.Entry[0].Changes[0].Decode()
	if err != nil || v.(*AccountReviewUpdate).Decision != "APPROVED" {
		t.Fatalf("decode after body reuse: %v, %v", v, err)
	}
}

func TestNotificationChanges(t *testing.T) {
	t.Parallel()
	n, _ := decodeFixture(t, "batch_mixed")
	var got []string
	for e, c := range n.Changes() {
		got = append(got, string(e.ID)+"/"+c.Field)
	}
	want := []string{fixtureWABA + "/messages", fixtureWABA + "/account_review_update", fixtureWABA + "/smb_message_echoes"}
	if !slices.Equal(got, want) {
		t.Errorf("Changes() = %v, want %v", got, want)
	}
	for range n.Changes() {
		break // early exit must not panic
	}
}
