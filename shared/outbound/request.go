// Package outbound is the outbound pipeline's domain: the request contract internal systems
// enqueue, the record every request ends in, and the decision free-form / template / refuse.
package outbound

import (
	"encoding/json"
	"time"
)

// Request is one outbound message request: one JSON object per SQS message. The JSON Schema in
// schema/request.schema.json documents it; Validate enforces it.
type Request struct {
	// ID is the caller's idempotency key; also the SQS MessageDeduplicationId.
	ID string `json:"id"`
	// From is the sender's E.164 number; SenderID its phone_number_id. One is required.
	From     string `json:"from,omitempty"`
	SenderID string `json:"senderId,omitempty"`
	// To is the recipient's E.164 (or wa_id digits); ToUserID Meta's business-scoped user id.
	To          string `json:"to,omitempty"`
	ToUserID    string `json:"toUserId,omitempty"`
	AssistantID string `json:"assistantId,omitempty"`
	// Free-form content: Text, or Media.
	Text  string `json:"text,omitempty"`
	Media *Media `json:"media,omitempty"`
	// ReplyTo is an optional wamid to reply to (context).
	ReplyTo string `json:"replyTo,omitempty"`
	// Template is used when the window is closed.
	Template *Template `json:"template,omitempty"`
	// ForceTemplate is set by the pipeline itself when re-sending after 131047.
	ForceTemplate bool `json:"forceTemplate,omitempty"`
}

// Media is free-form media by link or by uploaded media id.
type Media struct {
	Type     string `json:"type"` // image, video, audio, document, sticker
	Link     string `json:"link,omitempty"`
	ID       string `json:"id,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Template names an approved template and its parameters.
type Template struct {
	Name       string          `json:"name"`
	Language   string          `json:"language"` // code string such as "en_US"
	Category   string          `json:"category,omitempty"`
	Components json.RawMessage `json:"components,omitempty"`
}

// Mode is how a request was (or would be) sent.
type Mode string

// Send modes.
const (
	ModeFreeform Mode = "freeform"
	ModeTemplate Mode = "template"
)

// Status is the state of an outbound record.
type Status string

// Record statuses. sent < delivered < read (< played for voice) never regress; failed, rejected
// are terminal; deferred and queued are waiting.
const (
	StatusQueued    Status = "queued"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusPlayed    Status = "played"
	StatusFailed    Status = "failed"
	StatusRejected  Status = "rejected"
	StatusDeferred  Status = "deferred"
	// StatusSending: a send was attempted and Meta's answer is not known yet (in flight, or
	// lost); the request is not sent again before a status webhook had AnswerWait to arrive.
	StatusSending Status = "sending"
)

// Rank orders delivery statuses so that a status update never regresses a record. Statuses
// that are not part of the delivery progression rank 0.
func (s Status) Rank() int {
	switch s {
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	case StatusPlayed:
		return 4
	}
	return 0
}

// Record is what every request ends in, readable through GET /messages/{id}.
type Record struct {
	ID          string `json:"id"`
	SenderID    string `json:"senderId,omitempty"`
	From        string `json:"from,omitempty"`
	To          string `json:"to,omitempty"`
	ToUserID    string `json:"toUserId,omitempty"`
	AssistantID string `json:"assistantId,omitempty"`
	Mode        Mode   `json:"mode,omitempty"`
	Status      Status `json:"status"`
	// Reason is machine-readable (window_closed_template_required, sender_offline, …).
	Reason string `json:"reason,omitempty"`
	// Detail is a human-readable explanation of Reason (never message content).
	Detail     string `json:"detail,omitempty"`
	ErrorCode  int    `json:"errorCode,omitempty"`
	ErrorTitle string `json:"errorTitle,omitempty"`
	WAMID      string `json:"wamid,omitempty"`
	Attempts   int    `json:"attempts"`
	// Request is the original request, kept so a 131047 can be re-sent as its template.
	Request *Request `json:"request,omitempty"`
	// FallbackID is the id of the template re-send enqueued after a 131047, once.
	FallbackID string `json:"fallbackId,omitempty"`
	// SendingAt is when the latest send attempt started (status sending).
	SendingAt     time.Time `json:"sendingAt,omitzero"`
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
	// StatusAt is the Meta timestamp of the newest delivery status applied.
	StatusAt  time.Time `json:"statusAt,omitzero"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}
