package outbound

import (
	"context"
	"errors"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

// StateQuery names what one request's decision reads.
type StateQuery struct {
	RequestID string
	// Conv is the conversation (GroupID) whose hold is read.
	Conv          string
	PhoneNumberID string
	WABA          string
	// Customer is the recipient with every key it is known by.
	Customer customer.Ref
	// Template, when set, adds the template's state, the recipient's deliverability marks and
	// the portfolio's limit (PortfolioKey).
	Template     *Template
	PortfolioKey string
	// PauseScopes are the send holds read.
	PauseScopes []string
	// Alias, when set, also reads the WABA's alias of Customer (phone ↔ BSUID).
	Alias bool
	// Pair, when set, also reads the shared pace of (PhoneNumberID, Customer.Key()).
	Pair bool
}

// State is everything a send decision needs, read in one consistent batch.
type State struct {
	// Record is the request's record (nil when none) and RecordVersion its version (0 then).
	Record        *Record
	RecordVersion int64
	Hold          Hold
	// Window is the latest window across the customer's keys; HasWindow false when none.
	Window         customer.Window
	HasWindow      bool
	OptOut         customer.OptOut
	Deliverability customer.Deliverability
	Template       *template.Template
	Portfolio      sender.Portfolio
	// Pauses holds the holds in force, by scope.
	Pauses map[string]Pause
	// Customer is the query's customer completed from its alias (when Alias was asked).
	Customer customer.Ref
	// PairPace is the pair's shared pace (theoretical arrival time of its next message);
	// PairFound false when none is in force.
	PairPace  time.Time
	PairFound bool
}

// ErrOrphanStatuses is returned by PutSentRecord when the webhook kept statuses for the
// wamid before the send was recorded: nothing was written, the caller takes the slow path.
var ErrOrphanStatuses = errors.New("statuses arrived before the send was recorded")

// StateStore is the consumer's fast path: one batch read before the send, record writes
// conditioned on the version it returned.
type StateStore interface {
	ReadState(ctx context.Context, q StateQuery) (State, error)
	// PutRecord writes rec if the stored version is still version (0: none stored) and
	// returns the new version; persist.ErrConflict when another writer came first.
	PutRecord(ctx context.Context, rec *Record, version int64) (int64, error)
	// PutSentRecord writes rec like PutRecord together with the lookup of its wamid, in one
	// transaction that also checks no status for the wamid is waiting; persist.ErrConflict or
	// ErrOrphanStatuses when nothing was written.
	PutSentRecord(ctx context.Context, rec *Record, version int64) error
}
