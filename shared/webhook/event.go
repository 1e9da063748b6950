package webhook

import (
	_ "embed"
	"encoding/json"
	"time"

	"github.com/aloro/wa-senders/shared/whatsapp"
)

// InboundSchema is the JSON Schema (Draft 2020-12) of InboundEvent, the message the webhook
// puts on the inbound queue for the assistants.
//
//go:embed schema/inbound.schema.json
var InboundSchema []byte

// EventVersion is the version of the InboundEvent shape.
const EventVersion = 1

// InboundEvent is one customer message, normalised, as forwarded to INBOUND_QUEUE_URL. Field
// names follow Meta's (snake_case) so that wamid, wa_id and user_id read the same everywhere.
// It is forwarded once per delivery of the message; the FIFO queue drops a repeat of its wamid
// within five minutes and a forward mark stops Meta's retry of a POST that answered 500. A
// repeat after five minutes (the process died after the send, or Meta redelivered a message it
// got a 200 for) carries the same wamid, so consumers that must be exact dedupe on it.
type InboundEvent struct {
	Version int    `json:"version"`
	WAMID   string `json:"wamid"`
	WABAID  string `json:"waba_id"`
	// Sender is the business phone number that received the message.
	Sender EventSender `json:"sender"`
	// Customer is who wrote; user_id (BSUID) is the key where present, phone and wa_id are
	// absent for username users who have not shared their number.
	Customer EventCustomer `json:"customer"`
	// Type is Meta's message type, verbatim (also for types this backend does not know).
	Type    string           `json:"type"`
	Content whatsapp.Content `json:"content"`
	// Timestamp is Meta's message timestamp (the customer's send time).
	Timestamp time.Time `json:"timestamp"`
	// Context is set on replies, forwards and button taps.
	Context *whatsapp.MessageContext `json:"context,omitempty"`
	// Referral is set for Click-to-WhatsApp entries (free entry point).
	Referral *whatsapp.Referral   `json:"referral,omitempty"`
	GroupID  string               `json:"group_id,omitempty"`
	Errors   []whatsapp.ErrorInfo `json:"errors,omitempty"`
	// Window is the customer service window after this message (absent for system and group
	// messages, which do not open one).
	Window *EventWindow `json:"window,omitempty"`
	// StopKeyword is true when the whole message is an opt-out keyword (already recorded).
	StopKeyword bool `json:"stop_keyword,omitempty"`
	// Raw is Meta's message JSON for types this backend does not know, so nothing is lost.
	Raw json.RawMessage `json:"raw,omitempty"`
	// Truncated is true when the event was too large for SQS: content was dropped and the
	// message kept in a parking record.
	Truncated  bool      `json:"truncated,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// EventSender is the business number of an InboundEvent.
type EventSender struct {
	PhoneNumberID string `json:"phone_number_id"`
	// Phone is E.164; empty when Meta's display number could not be read and no sender is known.
	Phone string `json:"phone,omitempty"`
	// Known is false when no sender record exists for the number (the registry may be behind).
	Known bool `json:"known"`
}

// EventCustomer is the customer of an InboundEvent.
type EventCustomer struct {
	UserID       string `json:"user_id,omitempty"`
	ParentUserID string `json:"parent_user_id,omitempty"`
	// Phone is E.164; WaID the same digits as Meta sends them.
	Phone       string `json:"phone,omitempty"`
	WaID        string `json:"wa_id,omitempty"`
	ProfileName string `json:"profile_name,omitempty"`
	Username    string `json:"username,omitempty"`
}

// EventWindow is the customer service window of an InboundEvent.
type EventWindow struct {
	ExpiresAt time.Time `json:"expires_at"`
	FreeEntry bool      `json:"free_entry"`
}
