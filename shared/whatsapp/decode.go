package whatsapp

import (
	"bytes"
	"encoding/json"
)

// DecodeNotification is ParseNotification followed by Decode of every change, in one typed pass
// over the body on the common path: the envelope and every change value are decoded at once,
// each value into changeValue (which holds the keys of the typed values), and each change then
// takes the value its field names. Change.Decode of the result returns that value; Change.Value
// is nil for the changes decoded this way.
//
// Results and errors are always those of ParseNotification and Decode: where the one pass cannot
// give exactly the same (a JSON or type error anywhere, a wrong object, a typed field without a
// value, a user_id_update, an unknown field, whose raw value is kept, or a message of an unknown type, whose raw
// JSON is kept) the body is decoded again the two-step way, and Decode decodes each raw value
// on demand as usual. The commonest body, text messages in a messages change, is read first by
// a hand decoder (decodeTextFast) that gives up on anything outside that shape.
func DecodeNotification(body []byte) (*Notification, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &ParseError{Reason: ParseEmpty}
	}
	if n, ok := decodeTextFast(body); ok {
		return n, nil
	}
	var w notificationWire
	if err := json.Unmarshal(body, &w); err == nil && w.Object == ObjectWhatsAppBusinessAccount {
		if n, ok := w.notification(); ok {
			return n, nil
		}
	}
	return ParseNotification(body)
}

// notificationWire is Notification with every change value decoded in the same pass.
type notificationWire struct {
	Object string      `json:"object"`
	Entry  []entryWire `json:"entry"`
}

type entryWire struct {
	ID      ID           `json:"id"`
	Time    UnixTime     `json:"time,omitempty"`
	Changes []changeWire `json:"changes"`
}

type changeWire struct {
	Field string       `json:"field"`
	Value *changeValue `json:"value"`
}

// changeValue is the union of the top-level keys of the typed change values (all but
// user_id_update), each with the Go
// type its value type gives it (TestChangeValueCoversEveryTypedValue checks this), so that
// decoding a value here and then copying out the keys of its field's type gives what decoding
// it as that type gives. Keys of other fields' types are decoded too: a value that is valid for
// its field but not here only costs the two-step decode.
type changeValue struct {
	// messages (messaging_product, metadata and contacts serve user_preferences too); a messages
	// change returns a pointer to it, and its statuses key is the shallower Statuses, so that the
	// alternate spelling can be folded in.
	MessagesValue
	Statuses []statusWire `json:"statuses,omitempty"`
	// user_preferences
	UserPreferences []UserPreference `json:"user_preferences"`
	// phone_number_quality_update, phone_number_name_update
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	// phone_number_quality_update, account_update, message_template_status_update
	Event string `json:"event"`
	// phone_number_quality_update
	CurrentLimit Tier `json:"current_limit,omitempty"`
	OldLimit     Tier `json:"old_limit,omitempty"`
	// phone_number_quality_update, business_capability_update
	MaxDailyConversationsPerBusiness Tier `json:"max_daily_conversations_per_business,omitempty"`
	// business_capability_update
	MaxDailyConversationPerPhone Tier    `json:"max_daily_conversation_per_phone,omitempty"`
	MaxPhoneNumbersPerWABA       FlexInt `json:"max_phone_numbers_per_waba,omitempty"`
	MaxPhoneNumbersPerBusiness   FlexInt `json:"max_phone_numbers_per_business,omitempty"`
	// account_update
	PhoneNumber       ID                 `json:"phone_number,omitempty"`
	BanInfo           *BanInfo           `json:"ban_info,omitempty"`
	RestrictionInfo   []Restriction      `json:"restriction_info,omitempty"`
	ViolationInfo     *ViolationInfo     `json:"violation_info,omitempty"`
	DisconnectionInfo *DisconnectionInfo `json:"disconnection_info,omitempty"`
	WABAInfo          *WABAInfo          `json:"waba_info,omitempty"`
	Country           string             `json:"country,omitempty"`
	// account_review_update, phone_number_name_update
	Decision string `json:"decision"`
	// account_alerts
	EntityType string    `json:"entity_type,omitempty"`
	EntityID   ID        `json:"entity_id,omitempty"`
	AlertInfo  AlertInfo `json:"alert_info"`
	// message_template_status_update, message_template_quality_update
	TemplateID ID     `json:"message_template_id"`
	Name       string `json:"message_template_name,omitempty"`
	Language   string `json:"message_template_language,omitempty"`
	// message_template_status_update
	Reason      NullString   `json:"reason,omitempty"`
	Category    string       `json:"message_template_category,omitempty"`
	OtherInfo   *OtherInfo   `json:"other_info,omitempty"`
	DisableInfo *DisableInfo `json:"disable_info,omitempty"`
	// message_template_quality_update
	PreviousQualityScore string `json:"previous_quality_score,omitempty"`
	NewQualityScore      string `json:"new_quality_score,omitempty"`
	// phone_number_name_update
	RequestedVerifiedName string     `json:"requested_verified_name,omitempty"`
	RejectionReason       NullString `json:"rejection_reason,omitempty"`
}

// notification builds the Notification; ok is false when a change needs the two-step decode.
func (w *notificationWire) notification() (*Notification, bool) {
	var n *Notification
	if len(w.Entry) == 1 && len(w.Entry[0].Changes) == 1 {
		// The usual POST: one entry of one change, in one allocation.
		one := &struct {
			n Notification
			e [1]Entry
			c [1]Change
		}{}
		one.n.Entry, one.e[0].Changes = one.e[:], one.c[:]
		n = &one.n
	} else {
		n = &Notification{}
		if w.Entry != nil {
			n.Entry = make([]Entry, len(w.Entry))
		}
	}
	n.Object = w.Object
	for i := range w.Entry {
		we := &w.Entry[i]
		e := &n.Entry[i]
		e.ID, e.Time = we.ID, we.Time
		if we.Changes != nil && e.Changes == nil {
			e.Changes = make([]Change, len(we.Changes))
		}
		for j := range we.Changes {
			v, ok := we.Changes[j].typed()
			if !ok {
				return nil, false
			}
			e.Changes[j] = Change{Field: we.Changes[j].Field, decoded: v}
		}
	}
	return n, true
}

// typed returns what DecodeChange returns for the change; ok is false when only the raw value
// can give it.
func (c *changeWire) typed() (any, bool) {
	u := c.Value
	if _, typed := typedDecoders[c.Field]; typed && u == nil {
		return nil, false
	}
	switch c.Field {
	case FieldMessages:
		v := &u.MessagesValue
		v.Statuses = foldStatuses(u.Statuses)
		for i := range v.Messages {
			if !KnownMessageType(v.Messages[i].Type) {
				return nil, false
			}
		}
		return v, true
	case FieldPhoneNumberQualityUpdate:
		return &PhoneNumberQualityUpdate{DisplayPhoneNumber: u.DisplayPhoneNumber, Event: u.Event, CurrentLimit: u.CurrentLimit,
			OldLimit: u.OldLimit, MaxDailyConversationsPerBusiness: u.MaxDailyConversationsPerBusiness}, true
	case FieldBusinessCapabilityUpdate:
		return &BusinessCapabilityUpdate{MaxDailyConversationsPerBusiness: u.MaxDailyConversationsPerBusiness,
			MaxDailyConversationPerPhone: u.MaxDailyConversationPerPhone, MaxPhoneNumbersPerWABA: u.MaxPhoneNumbersPerWABA,
			MaxPhoneNumbersPerBusiness: u.MaxPhoneNumbersPerBusiness}, true
	case FieldAccountUpdate:
		return &AccountUpdate{Event: u.Event, PhoneNumber: u.PhoneNumber, BanInfo: u.BanInfo, RestrictionInfo: u.RestrictionInfo,
			ViolationInfo: u.ViolationInfo, DisconnectionInfo: u.DisconnectionInfo, WABAInfo: u.WABAInfo, Country: u.Country}, true
	case FieldAccountReviewUpdate:
		return &AccountReviewUpdate{Decision: u.Decision}, true
	case FieldAccountAlerts:
		return &AccountAlerts{EntityType: u.EntityType, EntityID: u.EntityID, AlertInfo: u.AlertInfo}, true
	case FieldMessageTemplateStatusUpdate:
		return &MessageTemplateStatusUpdate{Event: u.Event, TemplateID: u.TemplateID, Name: u.Name, Language: u.Language,
			Reason: u.Reason, Category: u.Category, OtherInfo: u.OtherInfo, DisableInfo: u.DisableInfo}, true
	case FieldMessageTemplateQualityUpdate:
		return &MessageTemplateQualityUpdate{PreviousQualityScore: u.PreviousQualityScore, NewQualityScore: u.NewQualityScore,
			TemplateID: u.TemplateID, Name: u.Name, Language: u.Language}, true
	case FieldPhoneNumberNameUpdate:
		return &PhoneNumberNameUpdate{DisplayPhoneNumber: u.DisplayPhoneNumber, Decision: u.Decision,
			RequestedVerifiedName: u.RequestedVerifiedName, RejectionReason: u.RejectionReason}, true
	case FieldUserPreferences:
		return &UserPreferencesValue{MessagingProduct: u.MessagingProduct, Metadata: u.Metadata, Contacts: u.Contacts,
			UserPreferences: u.UserPreferences}, true
	case FieldUserIDUpdate:
		// Its metadata is a pointer (nil when null or absent) where the others' is a value, and
		// Meta no longer sends the field: the two-step decode serves it.
		return nil, false
	}
	if _, ok := ignoredSet[c.Field]; ok {
		return &KnownIgnored{Field: c.Field}, true
	}
	// An unknown field keeps its raw value.
	return nil, false
}
