package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
)

// Webhook field names, as found in Change.Field.
const (
	FieldMessages                     = "messages"
	FieldPhoneNumberQualityUpdate     = "phone_number_quality_update"
	FieldBusinessCapabilityUpdate     = "business_capability_update"
	FieldAccountUpdate                = "account_update"
	FieldAccountReviewUpdate          = "account_review_update"
	FieldAccountAlerts                = "account_alerts"
	FieldMessageTemplateStatusUpdate  = "message_template_status_update"
	FieldMessageTemplateQualityUpdate = "message_template_quality_update"
	FieldPhoneNumberNameUpdate        = "phone_number_name_update"
	FieldUserPreferences              = "user_preferences"
	FieldUserIDUpdate                 = "user_id_update"
)

// ParseReason classifies a ParseError, for metrics and parking.
type ParseReason string

// Parse failure reasons.
const (
	// ParseEmpty: the body is empty or only whitespace.
	ParseEmpty ParseReason = "empty"
	// ParseMalformed: the body is not JSON, or not shaped like a notification envelope.
	ParseMalformed ParseReason = "malformed"
	// ParseWrongObject: the envelope's object is not "whatsapp_business_account".
	ParseWrongObject ParseReason = "wrong_object"
)

// ParseError is returned by ParseNotification when the body is not a WhatsApp notification.
// Callers park such payloads (the signature was valid, so Meta sent them) rather than retry.
type ParseError struct {
	Reason ParseReason
	// Object is the envelope's object when Reason is ParseWrongObject.
	Object string
	// Err is the underlying JSON error, if any.
	Err error
}

// Error implements error; the JSON detail is truncated to keep logs small.
func (e *ParseError) Error() string {
	switch {
	case e.Reason == ParseWrongObject:
		return fmt.Sprintf("whatsapp: parse notification: object %q is not %q", e.Object, ObjectWhatsAppBusinessAccount)
	case e.Err != nil:
		return fmt.Sprintf("whatsapp: parse notification (%s): %s", e.Reason, truncate(e.Err.Error(), maxErrText))
	default:
		return fmt.Sprintf("whatsapp: parse notification (%s)", e.Reason)
	}
}

// Unwrap returns the underlying JSON error.
func (e *ParseError) Unwrap() error { return e.Err }

// ParseNotification decodes the envelope of a webhook body. Change values stay raw (copied, so
// body may be reused); decode each with Change.Decode. An error is always a *ParseError.
//
// Envelope-level problems (not JSON, wrong object, an entry or change that is not an object, an
// entry time that is not a timestamp) fail the whole body; problems inside a change value only
// fail that change's Decode.
func ParseNotification(body []byte) (*Notification, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &ParseError{Reason: ParseEmpty}
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, &ParseError{Reason: ParseMalformed, Err: err}
	}
	if n.Object != ObjectWhatsAppBusinessAccount {
		return nil, &ParseError{Reason: ParseWrongObject, Object: truncate(n.Object, 64)}
	}
	return &n, nil
}

// maxErrText bounds error messages: encoding/json quotes offending literals in full, and a
// hostile body must not bloat the logs.
const maxErrText = 300

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Changes yields every change of every entry, in order, with its entry (for the WABA id and
// time).
func (n *Notification) Changes() iter.Seq2[*Entry, *Change] {
	return func(yield func(*Entry, *Change) bool) {
		for i := range n.Entry {
			e := &n.Entry[i]
			for j := range e.Changes {
				if !yield(e, &e.Changes[j]) {
					return
				}
			}
		}
	}
}

// ErrNoValue is wrapped by a DecodeError when a change of a typed field has no value (absent or
// null).
var ErrNoValue = errors.New("whatsapp: change has no value")

// DecodeError is returned by Decode when one change's value cannot be decoded. It concerns only
// that change: callers park it and carry on with the others.
type DecodeError struct {
	Field string
	Err   error
}

// Error implements error; the JSON detail is truncated to keep logs small.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("whatsapp: decode %q change: %s", truncate(e.Field, 64), truncate(e.Err.Error(), maxErrText))
}

// Unwrap returns the underlying error (a JSON error, a *FlexError or ErrNoValue).
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode decodes the change's value; see DecodeChange. For a change that DecodeNotification
// decoded already, it returns that value (the same pointer on every call).
func (c Change) Decode() (any, error) {
	if c.decoded != nil {
		return c.decoded, nil
	}
	return DecodeChange(c.Field, c.Value)
}

// DecodeChange decodes the value of a change of the given field into exactly one of:
//
//	*MessagesValue, *PhoneNumberQualityUpdate, *BusinessCapabilityUpdate, *AccountUpdate,
//	*AccountReviewUpdate, *AccountAlerts, *MessageTemplateStatusUpdate,
//	*MessageTemplateQualityUpdate, *PhoneNumberNameUpdate, *UserPreferencesValue, *UserIDUpdate,
//	*KnownIgnored (fields in IgnoredFields), *UnknownField (anything else).
//
// so that callers use a type switch. Unknown fields and unknown message types are not errors.
// An error is always a *DecodeError and concerns this change only.
func DecodeChange(field string, raw json.RawMessage) (any, error) {
	if dec, ok := typedDecoders[field]; ok {
		if isNull(raw) {
			return nil, &DecodeError{Field: field, Err: ErrNoValue}
		}
		v, err := dec(raw)
		if err != nil {
			return nil, &DecodeError{Field: field, Err: err}
		}
		return v, nil
	}
	if _, ok := ignoredSet[field]; ok {
		return &KnownIgnored{Field: field}, nil
	}
	return &UnknownField{Field: field, Raw: raw}, nil
}

func isNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// typedDecoders maps every field with a typed value to its decoder.
var typedDecoders = map[string]func([]byte) (any, error){
	FieldMessages:                     decodeMessages,
	FieldPhoneNumberQualityUpdate:     decodeAs[PhoneNumberQualityUpdate],
	FieldBusinessCapabilityUpdate:     decodeAs[BusinessCapabilityUpdate],
	FieldAccountUpdate:                decodeAs[AccountUpdate],
	FieldAccountReviewUpdate:          decodeAs[AccountReviewUpdate],
	FieldAccountAlerts:                decodeAs[AccountAlerts],
	FieldMessageTemplateStatusUpdate:  decodeAs[MessageTemplateStatusUpdate],
	FieldMessageTemplateQualityUpdate: decodeAs[MessageTemplateQualityUpdate],
	FieldPhoneNumberNameUpdate:        decodeAs[PhoneNumberNameUpdate],
	FieldUserPreferences:              decodeAs[UserPreferencesValue],
	FieldUserIDUpdate:                 decodeAs[UserIDUpdate],
}

// IgnoredFields lists fields this backend knowingly does not act on; they decode to
// *KnownIgnored without their value being read.
var IgnoredFields = []string{
	"automatic_events",
	"business_username_update",
	"calls",
	"group_lifecycle_update",
	"group_participant_update",
	"group_participants_update",
	"group_settings_update",
	"history",
	"message_template_components_update",
	"partner_solutions",
	"payment_configuration_update",
	"security",
	"smb_app_state_sync",
	"smb_message_echoes",
	"template_category_update",
}

var ignoredSet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(IgnoredFields))
	for _, f := range IgnoredFields {
		m[f] = struct{}{}
	}
	return m
}()

// KnownFields lists every field DecodeChange maps to something other than *UnknownField
// (typed fields and IgnoredFields), sorted.
var KnownFields = func() []string {
	out := make([]string, 0, len(typedDecoders)+len(IgnoredFields))
	for f := range typedDecoders {
		out = append(out, f)
	}
	out = append(out, IgnoredFields...)
	slices.Sort(out)
	return out
}()

func decodeAs[T any](raw []byte) (any, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, err
	}
	return v, nil
}

// statusWire accepts the "parent_recipient_user_id" spelling one SDK used.
type statusWire struct {
	Status
	ParentRecipientUserID string `json:"parent_recipient_user_id"`
}

var knownMessageTypes = func() map[string]struct{} {
	m := make(map[string]struct{}, len(MessageTypes))
	for _, t := range MessageTypes {
		m[t] = struct{}{}
	}
	return m
}()

// KnownMessageType reports whether t is one of MessageTypes.
func KnownMessageType(t string) bool {
	_, ok := knownMessageTypes[t]
	return ok
}

// foldStatuses turns the decoded statuses into Status, with the alternate spelling folded in
// (nil when there are none, as the statuses key of MessagesValue leaves it).
func foldStatuses(ws []statusWire) []Status {
	if len(ws) == 0 {
		return nil
	}
	out := make([]Status, len(ws))
	for i := range ws {
		out[i] = ws[i].Status
		if out[i].RecipientParentUserID == "" {
			out[i].RecipientParentUserID = ws[i].ParentRecipientUserID
		}
	}
	return out
}

func decodeMessages(raw []byte) (any, error) {
	// One pass: the embedded value takes every key except "statuses", which the shallower field
	// shadows so the alternate spelling can be folded in.
	var w struct {
		MessagesValue
		Statuses []statusWire `json:"statuses,omitempty"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, err
	}
	v := &w.MessagesValue
	v.Statuses = foldStatuses(w.Statuses)
	// Unknown message types keep their JSON; re-read only in that rare case.
	for i := range v.Messages {
		if KnownMessageType(v.Messages[i].Type) {
			continue
		}
		var r struct {
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(raw, &r); err == nil && len(r.Messages) == len(v.Messages) {
			for j := range v.Messages {
				if !KnownMessageType(v.Messages[j].Type) {
					v.Messages[j].Raw = r.Messages[j]
				}
			}
		}
		break
	}
	return v, nil
}
