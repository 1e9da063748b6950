package whatsapp

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decoded is what a caller sees of a body: the parse error, or per change its field and its
// decoded value or decode error.
type decodedBody struct {
	ParseErr string
	Object   string
	Entries  []decodedEntry
}

type decodedEntry struct {
	ID      ID
	Time    UnixTime
	Changes []decodedChange
}

type decodedChange struct {
	Field string
	Value any
	Err   string
}

func view(n *Notification, err error) decodedBody {
	if err != nil {
		return decodedBody{ParseErr: err.Error()}
	}
	out := decodedBody{Object: n.Object}
	for _, e := range n.Entry {
		de := decodedEntry{ID: e.ID, Time: e.Time}
		for _, c := range e.Changes {
			v, err := c.Decode()
			dc := decodedChange{Field: c.Field, Value: v}
			if err != nil {
				dc.Err = err.Error()
			}
			de.Changes = append(de.Changes, dc)
		}
		out.Entries = append(out.Entries, de)
	}
	return out
}

// twoStep is ParseNotification then Decode of every change: the reference DecodeNotification
// must equal.
func twoStep(body []byte) decodedBody { return view(ParseNotification(body)) }

// requireSameDecode fails when DecodeNotification and the two steps disagree on body, and
// returns the notification DecodeNotification gave.
func requireSameDecode(t testing.TB, body []byte) *Notification {
	t.Helper()
	n, err := DecodeNotification(body)
	if diff := cmp.Diff(twoStep(body), view(n, err)); diff != "" {
		t.Fatalf("DecodeNotification differs from ParseNotification + Decode (-two steps +one pass):\n%s", diff)
	}
	return n
}

// onePass reports whether every change of n was decoded with the envelope.
func onePass(n *Notification) bool {
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			if c.decoded == nil || c.Value != nil {
				return false
			}
		}
	}
	return true
}

func TestDecodeNotificationMatchesTwoStepsOnFixtures(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	// The fixtures that must take the two-step path, and why.
	twoStepFixtures := map[string]string{
		"messages_future_type": "an unknown message type keeps its raw JSON",
		"unknown_field":        "an unknown field keeps its raw value",
		"user_id_update":       "its metadata is a pointer",
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			n := requireSameDecode(t, body)
			if _, slow := twoStepFixtures[name]; onePass(n) == slow {
				t.Errorf("one pass = %v, want %v", onePass(n), !slow)
			}
		})
	}
}

func TestDecodeNotificationMatchesTwoStepsOnEdgeCases(t *testing.T) {
	t.Parallel()
	const head = `{"object":"whatsapp_business_account","entry":[{"id":"1","time":1764000000,"changes":[`
	const tail = `]}]}`
	msgs := func(v string) string { return `{"field":"messages","value":` + v + `}` }
	tests := []struct {
		name    string
		body    string
		onePass bool
	}{
		{"empty", ``, false},
		{"blank", " \n\t", false},
		{"not json", `{"object":`, false},
		{"wrong object", `{"object":"page","entry":[]}`, false},
		{"no entry", `{"object":"whatsapp_business_account"}`, true},
		{"null entry", `{"object":"whatsapp_business_account","entry":null}`, true},
		{"entry not an object", `{"object":"whatsapp_business_account","entry":[1]}`, false},
		{"bad entry time", `{"object":"whatsapp_business_account","entry":[{"id":"1","time":"x","changes":[]}]}`, false},
		{"null changes", `{"object":"whatsapp_business_account","entry":[{"id":1,"changes":null}]}`, true},
		{"null change", head + `null` + tail, false},
		{"text", head + msgs(`{"metadata":{"phone_number_id":"2"},"messages":[{"id":"w","timestamp":"1","type":"text","text":{"body":"hi"}}]}`) + tail, true},
		{"value before field", head + `{"value":{"decision":"APPROVED"},"field":"account_review_update"}` + tail, true},
		{"keys in another case", head + `{"FIELD":"account_review_update","Value":{"Decision":"APPROVED"}}` + tail, true},
		{"duplicate metadata, then null", head + msgs(`{"metadata":{"phone_number_id":"2"},"metadata":null}`) + tail, true},
		{"duplicate messages", head + msgs(`{"messages":[{"id":"a","type":"text"}],"messages":[{"id":"b","type":"image"}]}`) + tail, true},
		{"alternate parent spelling", head + msgs(`{"statuses":[{"id":"w","status":"read","timestamp":"1","parent_recipient_user_id":"US.ENT.1"}]}`) + tail, true},
		{"both parent spellings", head + msgs(`{"statuses":[{"id":"w","status":"read","recipient_parent_user_id":"US.ENT.2","parent_recipient_user_id":"US.ENT.1"}]}`) + tail, true},
		{"empty statuses", head + msgs(`{"statuses":[]}`) + tail, true},
		{"null value", head + msgs(`null`) + tail, false},
		{"no value", head + `{"field":"account_alerts"}` + tail, false},
		{"value not an object", head + msgs(`[1,2]`) + tail, false},
		{"bad timestamp in one change", head + msgs(`{"messages":[{"id":"a","timestamp":"soon","type":"text"}]}`) + `,` +
			`{"field":"account_review_update","value":{"decision":"APPROVED"}}` + tail, false},
		{"type error in one change", head + `{"field":"account_review_update","value":{"decision":7}},` +
			`{"field":"account_review_update","value":{"decision":"APPROVED"}}` + tail, false},
		{"key of another field with a bad type", head + `{"field":"account_review_update","value":{"decision":"APPROVED","event":7}}` + tail, false},
		{"key of another field", head + `{"field":"account_review_update","value":{"decision":"APPROVED","event":"X","messages":[]}}` + tail, true},
		{"unknown message type", head + msgs(`{"messages":[{"id":"a","type":"hologram","hologram":{"x":1}}]}`) + tail, false},
		{"unknown field", head + `{"field":"teleport","value":{"to":"mars"}}` + tail, false},
		{"ignored field", head + `{"field":"calls","value":{"calls":[{"id":"c"}]}}` + tail, true},
		{"ignored field, odd value", head + `{"field":"calls","value":"x"}` + tail, false},
		{"ignored field, no value", head + `{"field":"history"}` + tail, true},
		{"user_id_update", head + `{"field":"user_id_update","value":{"metadata":null,"user_id":"US.2","timestamp":"1"}}` + tail, false},
		{"every management field", head + strings.Join([]string{
			`{"field":"phone_number_quality_update","value":{"display_phone_number":"1","event":"ONBOARDING","current_limit":"TIER_1K","old_limit":250,"max_daily_conversations_per_business":"TIER_10K"}}`,
			`{"field":"business_capability_update","value":{"max_daily_conversations_per_business":"UNLIMITED","max_daily_conversation_per_phone":-1,"max_phone_numbers_per_waba":"2","max_phone_numbers_per_business":20}}`,
			`{"field":"account_update","value":{"event":"DISABLED_UPDATE","phone_number":16505551234,"ban_info":{"waba_ban_state":["DISABLE"]},"restriction_info":[{"restriction_type":"RESTRICTED_ADD_PHONE_NUMBER_ACTION","expiration":1764000000}],"violation_info":{"violation_type":"SPAM"},"disconnection_info":{"reason":"x"},"waba_info":{"waba_id":"1","solution_partner_business_ids":[1,"2"]},"country":"RO"}}`,
			`{"field":"account_alerts","value":{"entity_type":"WABA","entity_id":1,"alert_info":{"alert_severity":"CRITICAL","alert_type":"X"}}}`,
			`{"field":"message_template_status_update","value":{"event":"REJECTED","message_template_id":1,"message_template_name":"t","message_template_language":"en","reason":null,"message_template_category":"UTILITY","other_info":{"title":"FIRST_PAUSE"},"disable_info":{"disable_date":"d"}}}`,
			`{"field":"message_template_quality_update","value":{"previous_quality_score":"GREEN","new_quality_score":"RED","message_template_id":"2","message_template_name":"t","message_template_language":"en"}}`,
			`{"field":"phone_number_name_update","value":{"display_phone_number":"1","decision":"REJECTED","requested_verified_name":"N","rejection_reason":null}}`,
			`{"field":"user_preferences","value":{"metadata":{"phone_number_id":"2"},"contacts":[{"wa_id":"1"}],"user_preferences":[{"wa_id":"1","value":"stop","timestamp":1764000000}]}}`,
		}, ",") + tail, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := requireSameDecode(t, []byte(tc.body))
			if n != nil && onePass(n) != tc.onePass {
				t.Errorf("one pass = %v, want %v", onePass(n), tc.onePass)
			}
		})
	}
}

// TestChangeValueCoversEveryTypedValue checks that changeValue decodes every key of every value
// type it stands for into the Go type that value type gives it, so that copying a key out of it
// is the same as decoding the value as its type.
func TestChangeValueCoversEveryTypedValue(t *testing.T) {
	t.Parallel()
	union := map[string]reflect.Type{}
	ut := reflect.TypeFor[changeValue]()
	var embedded []reflect.StructField
	for i := range ut.NumField() {
		f := ut.Field(i)
		if f.Anonymous {
			embedded = append(embedded, f)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		union[name] = f.Type
	}
	for _, e := range embedded { // promoted keys, unless a shallower field takes the name
		for i := range e.Type.NumField() {
			f := e.Type.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); union[name] == nil {
				union[name] = f.Type
			}
		}
	}
	union["statuses"] = reflect.TypeFor[[]Status]() // folded from []statusWire
	covered := map[string]reflect.Type{
		FieldMessages:                     reflect.TypeFor[MessagesValue](),
		FieldPhoneNumberQualityUpdate:     reflect.TypeFor[PhoneNumberQualityUpdate](),
		FieldBusinessCapabilityUpdate:     reflect.TypeFor[BusinessCapabilityUpdate](),
		FieldAccountUpdate:                reflect.TypeFor[AccountUpdate](),
		FieldAccountReviewUpdate:          reflect.TypeFor[AccountReviewUpdate](),
		FieldAccountAlerts:                reflect.TypeFor[AccountAlerts](),
		FieldMessageTemplateStatusUpdate:  reflect.TypeFor[MessageTemplateStatusUpdate](),
		FieldMessageTemplateQualityUpdate: reflect.TypeFor[MessageTemplateQualityUpdate](),
		FieldPhoneNumberNameUpdate:        reflect.TypeFor[PhoneNumberNameUpdate](),
		FieldUserPreferences:              reflect.TypeFor[UserPreferencesValue](),
	}
	for field := range typedDecoders {
		if _, ok := covered[field]; !ok && field != FieldUserIDUpdate {
			t.Errorf("typed field %q is neither in changeValue nor decoded the two-step way", field)
		}
	}
	for field, typ := range covered {
		v, err := DecodeChange(field, []byte(`{}`))
		if err != nil || reflect.TypeOf(v).Elem() != typ {
			t.Errorf("%s decodes to %T (%v), want *%v", field, v, err, typ)
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if got, ok := union[name]; !ok || got != f.Type {
				t.Errorf("%s key %q: changeValue has %v, %v has %v", field, name, got, typ, f.Type)
			}
		}
	}
}

// FuzzDecodeNotification checks that the one pass and the two steps agree on arbitrary bodies.
func FuzzDecodeNotification(f *testing.F) {
	addFixtureSeeds(f, func(body []byte) { f.Add(body) })
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},"metadata":null}}]}]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_review_update","value":{"decision":"A","event":1}}]}]}`))
	for _, tc := range fastPathCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { requireSameDecode(t, body) })
}

// fastPathCases are bodies near the shape decodeTextFast takes, and whether it takes them.
var fastPathCases = []struct {
	name string
	body string
	fast bool
}{
	{"text", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"2"},"contacts":[{"profile":{"name":"Sheena"},"wa_id":"40721234567","user_id":"US.1"}],"messages":[{"from":"40721234567","from_user_id":"US.1","id":"wamid.1","timestamp":"1764000000","type":"text","text":{"body":"Hi!"}}]}}]}]}`, true},
	{"spaced, keys reordered", " {\n \"entry\" : [ { \"changes\" : [ { \"value\" : { \"messages\" : [ { \"text\" : { \"body\" : \"x\" } , \"type\" : \"text\" , \"id\" : \"w\" } ] } , \"field\" : \"messages\" } ] , \"time\" : 0 , \"id\" : \"1\" } ] ,\t\"object\" : \"whatsapp_business_account\" }\r\n", true},
	{"escapes and UTF-8", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"id":"w","type":"text","text":{"body":"Caf\u00e9 \ud83d\ude00 \"q\" ☕ \/"}}]}}]}]}`, true},
	{"escaped key", `{"\u006fbject":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}`, true},
	{"two entries, two messages", `{"object":"whatsapp_business_account","entry":[{"id":"1","time":1764000000,"changes":[{"field":"messages","value":{"messages":[{"type":"text"},{"type":"text","timestamp":"0"}]}},{"field":"messages","value":{"messages":[{"type":"text"}]}}]},{"changes":[{"field":"messages","value":{"metadata":{},"contacts":[{"profile":{}}],"messages":[{"type":"text","text":{}}]}}]}]}`, true},
	{"invalid UTF-8", "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{\"messages\":[{\"type\":\"text\",\"text\":{\"body\":\"\xff\"}}]}}]}]}", false},
	{"bad escape", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text","text":{"body":"\x"}}]}}]}]}`, false},
	{"image", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"image","image":{"id":"m"}}]}}]}]}`, false},
	{"statuses", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"w","status":"read"}]}}]}]}`, false},
	{"duplicate key", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text","id":"a","id":"b"}]}}]}]}`, false},
	{"key in another case", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"Type":"text"}]}}]}]}`, false},
	{"unknown key", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text","context":{"id":"w"}}]}}]}]}`, false},
	{"empty messages", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[]}}]}]}`, false},
	{"null", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text","from":null}]}}]}]}`, false},
	{"numeric id", `{"object":"whatsapp_business_account","entry":[{"id":1,"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}`, false},
	{"timestamp with a fraction", `{"object":"whatsapp_business_account","entry":[{"time":1.5,"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}`, false},
	{"timestamp with a leading zero", `{"object":"whatsapp_business_account","entry":[{"time":01,"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}`, false},
	{"timestamp out of range", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text","timestamp":"253402300800"}]}}]}]}`, false},
	{"wrong object", `{"object":"page","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}`, false},
	{"trailing data", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}x`, false},
	{"truncated", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text"`, false},
}

func TestDecodeTextFast(t *testing.T) {
	t.Parallel()
	for _, tc := range fastPathCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, fast := decodeTextFast([]byte(tc.body)); fast != tc.fast {
				t.Errorf("decodeTextFast took it = %v, want %v", fast, tc.fast)
			}
			requireSameDecode(t, []byte(tc.body))
		})
	}
}
