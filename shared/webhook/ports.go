package webhook

import (
	"context"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// The ports below are what the webhook needs from storage and queues. *store.Store implements
// Store and *queue.Queue implements Queue; the webhook imports neither (nor the AWS SDK).

// Store is every storage port of the webhook. Getters answer persist.ErrNotFound (wrapped or
// not) for a missing item.
type Store interface {
	Inbound
	Claims
	Parking
	Senders
	Windows
	Customers
	Records
	Templates
	Accounts
}

// ClaimState is the outcome of claiming an id before forwarding it.
type ClaimState int

// Claim outcomes.
const (
	// Claimed: this delivery owns the id until its lease runs out: send, then MarkDone.
	Claimed ClaimState = iota + 1
	// AlreadyDone: the id was forwarded before; this delivery is a duplicate.
	AlreadyDone
	// Held: another delivery holds an unexpired claim; answer 500 so Meta retries later.
	Held
)

// String names the state for logs.
func (s ClaimState) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case AlreadyDone:
		return "done"
	case Held:
		return "held"
	}
	return "unknown"
}

// InboundMessage names a customer message for its dedupe record.
type InboundMessage struct {
	WAMID         string
	PhoneNumberID string
	Customer      customer.Ref
	// Window is the window the message opens; nil when it opens none (a group or system
	// message, no phone_number_id or customer): its dedupe record then stands alone.
	Window *customer.Window
}

// Inbound is what a customer message costs the store: one call on the common path.
type Inbound interface {
	// RecordInbound opens m's window (as Windows.OpenWindow) and, in the same conditional
	// write, reads m's forward mark: forwarded is true when a POST that forwarded m answered
	// 500 and left the mark, so this delivery is Meta's retry and m must not be sent again.
	RecordInbound(ctx context.Context, m InboundMessage) (forwarded bool, err error)
	// MarkForwarded marks messages this POST forwarded when it is about to answer 500.
	MarkForwarded(ctx context.Context, msgs []InboundMessage) error
}

// Claims is the claim → send → mark record of a template re-send: the claim is one conditional write, the
// mark turns it into a "done" record that outlives Meta's 7-day retry horizon.
type Claims interface {
	Claim(ctx context.Context, id, owner string, lease time.Duration) (ClaimState, error)
	// MarkDone records that the ids were forwarded (one request for many ids).
	MarkDone(ctx context.Context, ids []string) error
	// Release drops a claim this owner holds (the send failed), so Meta's retry may claim it.
	Release(ctx context.Context, id, owner string) error
}

// Parked is a signed payload (or part of one) that could not be used. It is kept whole so
// that nothing Meta sent is lost, and acknowledged with 200 (Meta would retry it for days).
type Parked struct {
	// Reason: parse_empty, parse_malformed, parse_wrong_object, decode_error, unknown_field,
	// unusable, event_too_large.
	Reason string
	WABAID string
	Field  string
	// Detail is a short, body-free explanation (an error message with no payload text).
	Detail     string
	Body       []byte
	ReceivedAt time.Time
}

// Parking keeps unusable payloads.
type Parking interface {
	Park(ctx context.Context, p Parked) error
}

// Senders are the sender registry and the business portfolio's limit.
type Senders interface {
	GetSender(ctx context.Context, id string) (*sender.Sender, error)
	GetSenderByPhone(ctx context.Context, e164 string) (*sender.Sender, error)
	ListSendersByWABA(ctx context.Context, waba string) ([]*sender.Sender, error)
	// UpdateSender applies fn with optimistic locking; persist.ErrNotFound when the sender
	// does not exist.
	UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error)
	SetPortfolioTier(ctx context.Context, key, tier string, eventAt time.Time) (bool, error)
}

// Windows are the customer service windows (a message opens its window through
// Inbound.RecordInbound, in the same write as its dedupe check).
type Windows interface {
	// CloseWindowAt records Meta's 131047 at `at` for every key of c: messages older than the
	// close can no longer keep the window open.
	CloseWindowAt(ctx context.Context, phoneNumberID string, c customer.Ref, at time.Time) error
}

// OptOutEvent is one opt-out signal, ordered by At.
type OptOutEvent struct {
	// Stop is true for a stop (keyword, user_preferences stop, 131050), false for a resume.
	Stop bool
	// Keyword is true for a STOP keyword: business-initiated free-form content is refused too.
	Keyword bool
	// Source: keyword, user_preferences, error_131050.
	Source string
	At     time.Time
}

// Customers are aliases, opt-outs and deliverability marks of customers.
type Customers interface {
	// PutAliasAt records BSUID ↔ phone for waba unless a newer mapping was recorded.
	PutAliasAt(ctx context.Context, waba string, c customer.Ref, at time.Time) error
	ResolveCustomer(ctx context.Context, waba string, c customer.Ref) (customer.Ref, error)
	// ApplyOptOut merges ev into the opt-out of every key of c (last event wins per signal).
	ApplyOptOut(ctx context.Context, waba string, c customer.Ref, ev OptOutEvent) error
	// CopyOptOut merges the opt-outs stored under from's keys into to's (a changed number or BSUID).
	CopyOptOut(ctx context.Context, waba string, from, to customer.Ref) error
	MarkDeliverability(ctx context.Context, waba string, c customer.Ref, d customer.Deliverability) error
}

// OrphanStatus is a status for a message id no record is known for (yet).
type OrphanStatus struct {
	PhoneNumberID string          `json:"phoneNumberId,omitempty"`
	WABAID        string          `json:"wabaId,omitempty"`
	Status        whatsapp.Status `json:"status"`
	ReceivedAt    time.Time       `json:"receivedAt"`
}

// Records are the outbound records statuses apply to.
type Records interface {
	RequestIDForWAMID(ctx context.Context, wamid string) (string, error)
	// ApplyDeliveryStatus writes d onto the record of request id in one conditional write,
	// without reading it, when the record exists, has no wamid or d's, and holds no delivery
	// status of d's wamid with a key at or above d's. It never touches the record's document
	// or version (the outbound consumer's writes keep d, and are never refused because of it),
	// and every reader of the record sees d merged (MergeDelivery). A d that MarksUndeliverable
	// also leaves that mark of its wamid on the record for good. persist.ErrNotFound when there
	// is no record.
	ApplyDeliveryStatus(ctx context.Context, id string, d DeliveryStatus) (StatusWrite, error)
	// UpdateKnownRecord applies fn to the record of request id; persist.ErrNotFound when it
	// does not exist (none is created).
	UpdateKnownRecord(ctx context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error)
	PutOrphanStatus(ctx context.Context, o OrphanStatus) error
	// ApplyOrphans applies the statuses kept for wamid to the record of requestID (folded into
	// one ApplyDeliveryStatus) and removes them; it returns the record (nil when it does not
	// exist).
	ApplyOrphans(ctx context.Context, wamid, requestID string) (*outbound.Record, error)
}

// StatusWrite is the answer of Records.ApplyDeliveryStatus.
type StatusWrite struct {
	// Prev is the record as it stood before the write, as its readers see it.
	Prev *outbound.Record
	// Applied: the status was written.
	Applied bool
	// WAMID is the wamid the record was bound to before the write (its send's, or an earlier
	// status's), "" when none: a record bound to another wamid is another message's.
	WAMID string
	// Undeliverable: a 131026 of the status's wamid was written onto the record before (it
	// stays known after a delivery overrides the failure).
	Undeliverable bool
}

// TemplateState is the template record plus the time of the quality event applied, so that
// status and quality are each ordered by their own event time. The extra field is stored in
// the same JSON document and ignored by readers of template.Template.
type TemplateState struct {
	template.Template
	QualityAt time.Time `json:"qualityAt,omitzero"`
}

// Templates are the template records.
type Templates interface {
	// UpdateTemplateState applies fn (cur nil when there is no record yet).
	UpdateTemplateState(ctx context.Context, waba, name, language string, fn persist.Update[TemplateState]) (TemplateState, error)
}

// Accounts are the per-WABA records of account-level webhooks.
type Accounts interface {
	GetAccount(ctx context.Context, waba string) (*Account, error)
	// UpdateAccount applies fn (cur nil when there is no account yet); an absent account left
	// unchanged comes back empty.
	UpdateAccount(ctx context.Context, waba string, fn persist.Update[Account]) (*Account, error)
}

// Queue sends to SQS. SendBatch returns nil or an error that may implement
// FailedIndexes() []int naming the bodies that were not sent (all of them otherwise); fifo
// gives each body's MessageGroupId and MessageDeduplicationId.
type Queue interface {
	SendBatch(ctx context.Context, url string, bodies []string, fifo func(i int) (groupID, dedupID string)) error
	Send(ctx context.Context, url, groupID, dedupID, body string) error
}
