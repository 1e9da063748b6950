package outbound

import (
	"context"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

// Records is the port to outbound records.
type Records interface {
	GetRecord(ctx context.Context, id string) (*Record, error)
	// UpdateRecord applies fn to the record of id (cur nil: fn returns a new one) with
	// optimistic locking; fn returns persist.ErrNoChange to skip the write. A deferred record
	// is indexed for DueRecords.
	UpdateRecord(ctx context.Context, id string, fn persist.Update[Record]) (*Record, error)
	// PutWAMID records that Meta's message id belongs to request id.
	PutWAMID(ctx context.Context, wamid, requestID string) error
	// DueRecords returns deferred records whose NextAttemptAt is at or before now, oldest first.
	DueRecords(ctx context.Context, now time.Time, limit int) ([]Record, error)
}

// OrphanStatuses applies the delivery statuses the webhook stored for a wamid before the send
// was recorded (a status can overtake the send's own bookkeeping).
type OrphanStatuses interface {
	// ApplyOrphans applies them to the record of requestID, removes them and returns the
	// record as it now stands (nil when there is none), so the caller need not read it again.
	ApplyOrphans(ctx context.Context, wamid, requestID string) (*Record, error)
}

// Senders is the port to senders and their portfolio.
type Senders interface {
	GetSender(ctx context.Context, id string) (*sender.Sender, error)
	GetSenderByPhone(ctx context.Context, e164 string) (*sender.Sender, error)
	// UpdateSender applies fn to an existing sender (persist.ErrNotFound when there is none).
	UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error)
	GetPortfolio(ctx context.Context, key string) (sender.Portfolio, error)
}

// Customers is the port to what is known about recipients.
type Customers interface {
	ResolveCustomer(ctx context.Context, waba string, c customer.Ref) (customer.Ref, error)
	GetWindow(ctx context.Context, phoneNumberID, waba string, c customer.Ref) (customer.Window, error)
	CloseWindow(ctx context.Context, phoneNumberID string, c customer.Ref, at time.Time) error
	GetOptOut(ctx context.Context, waba string, c customer.Ref) (customer.OptOut, error)
	// StopMarketing records a marketing opt-out (131050) merged like every other opt-out
	// signal, so it and the webhook's user_preferences and keywords never overwrite each other.
	StopMarketing(ctx context.Context, waba string, c customer.Ref, source string, at time.Time) error
	GetDeliverability(ctx context.Context, waba string, c customer.Ref) (customer.Deliverability, error)
	MarkDeliverability(ctx context.Context, waba string, c customer.Ref, m customer.Deliverability) error
}

// Templates is the port to template records.
type Templates interface {
	GetTemplate(ctx context.Context, waba, name, language string) (template.Template, error)
	UpdateTemplate(ctx context.Context, waba, name, language string, fn persist.Update[template.Template]) (template.Template, error)
}

// BudgetClaim is the answer of Budget.ClaimBudget.
type BudgetClaim struct {
	// Counted: the recipient was new in the moving 24 h and now counts against the limit.
	Counted bool
	// Already: the recipient was claimed within the last 24 h and does not count again.
	Already bool
	// Over: the limit is reached; nothing was claimed.
	Over bool
	// Used is the number of recipients counted in the moving 24 h (after a Counted claim).
	Used int
	// RetryAt is when room frees up, when Over.
	RetryAt time.Time
}

// Budget is the messaging-limit budget: unique out-of-window recipients per portfolio in a
// moving 24 h (reference §4). Meta has no error code for it, so it is ours to keep.
type Budget interface {
	// ClaimBudget fails with persist.ErrConflict when it lost every race for the count.
	ClaimBudget(ctx context.Context, portfolioKey, customerKey string, limit int) (BudgetClaim, error)
	// ReleaseBudget uncounts a recipient claimed for a send that Meta refused.
	ReleaseBudget(ctx context.Context, portfolioKey, customerKey string) error
}

// Pause is a hold on sends: every send while the access token is invalid (190), or the
// chargeable sends of a WABA during a payment problem (131042).
type Pause struct {
	Scope  string    `json:"scope"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// Pause scopes.
const (
	PauseScopeToken = "token"
)

// PauseScopePayment is the scope of a WABA's payment hold.
func PauseScopePayment(waba string) string { return "payment:" + waba }

// Pauses is the port to send holds; they are read with the rest of a request's state
// (StateQuery.PauseScopes).
type Pauses interface {
	SetPause(ctx context.Context, p Pause) error
}

// Store is everything the consumer reads and writes.
type Store interface {
	Records
	Senders
	Customers
	Templates
	Budget
	Pauses
	Holds
	StateStore
	SharedPacing
}

// Messenger sends through the Graph API (*graph.Client).
type Messenger interface {
	SendMessage(ctx context.Context, phoneNumberID string, m graph.Message) (graph.SendResult, error)
}

var _ Messenger = (*graph.Client)(nil)

// VisibilityChange puts one received message back on the queue after Delay.
type VisibilityChange struct {
	ReceiptHandle string
	Delay         time.Duration
}

// Visibility sets when received messages become visible again: the retry backoff of messages
// reported as batch item failures.
type Visibility interface {
	ChangeVisibility(ctx context.Context, queueURL string, changes []VisibilityChange) error
}

// Enqueuer sends one message to a FIFO queue (*queue.Queue).
type Enqueuer interface {
	Send(ctx context.Context, queueURL, groupID, dedupID, body string) error
}
