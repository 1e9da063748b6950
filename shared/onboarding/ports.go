package onboarding

import (
	"context"
	"github.com/aloro/wa-senders/shared/persist"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/sender"
)

// Store persists onboardings. GetOnboarding and OnboardingForAsset return persist.ErrNotFound
// when there is none; CreateOnboarding returns persist.ErrConflict when the id exists;
// SaveOnboarding writes o only if the stored version is still o.Version (persist.ErrConflict
// otherwise) and advances o.Version.
type Store interface {
	CreateOnboarding(ctx context.Context, o *Onboarding) error
	GetOnboarding(ctx context.Context, id string) (*Onboarding, error)
	SaveOnboarding(ctx context.Context, o *Onboarding) error
	// OnboardingForAsset is the latest onboarding of a WABA and number (phone "" for the
	// WABA alone).
	OnboardingForAsset(ctx context.Context, waba, phone string) (string, error)
	SetOnboardingForAsset(ctx context.Context, waba, phone, id string) error
	// DueOnboardings lists unfinished onboardings whose NextAttemptAt is at or before now.
	DueOnboardings(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// Senders is the sender registry. GetSender returns persist.ErrNotFound when absent;
// CreateSender returns persist.ErrConflict when another sender holds the phone number.
type Senders interface {
	GetSender(ctx context.Context, id string) (*sender.Sender, error)
	CreateSender(ctx context.Context, s *sender.Sender) error
	UpdateSender(ctx context.Context, id string, fn persist.Update[sender.Sender]) (*sender.Sender, error)
	ListSendersByWABA(ctx context.Context, waba string) ([]*sender.Sender, error)
}

// Portfolio is what replacing a business's token needs besides the secrets (implemented by the
// store through the app's adapter).
type Portfolio interface {
	// SendersOfBusiness lists the senders whose businessId is businessID.
	SendersOfBusiness(ctx context.Context, businessID string) ([]*sender.Sender, error)
	// LiftTokenHold ends the hold Meta's 190 put on the sends of s's portfolio (nil when none).
	LiftTokenHold(ctx context.Context, s *sender.Sender) error
}

// Secrets keeps business tokens, pending tokens and PINs sealed (implemented by
// *credentials.Vault). Getters return persist.ErrNotFound when there is none.
type Secrets interface {
	PutPending(ctx context.Context, onboardingID, token string) error
	Pending(ctx context.Context, onboardingID string) (string, error)
	DeletePending(ctx context.Context, onboardingID string) error
	PutToken(ctx context.Context, businessID, token string) error
	Token(ctx context.Context, businessID string) (string, error)
	ForgetToken(ctx context.Context, businessID string) error
	Bind(ctx context.Context, businessID string, nodeIDs ...string) error
	BusinessOf(ctx context.Context, nodeID string) (string, error)
	PIN(ctx context.Context, phoneNumberID string) (string, error)
	PutPIN(ctx context.Context, phoneNumberID, pin string) error
}

// Graph is the part of the Graph API the flow calls (implemented by *graph.Client). Calls with
// the business token get it through graph.WithToken.
type Graph interface {
	ExchangeCode(ctx context.Context, appID, appSecret, code string) (string, error)
	DebugToken(ctx context.Context, appID, appSecret, input string) (graph.TokenInfo, error)
	WABAOwner(ctx context.Context, wabaID string) (string, error)
	ListPhoneNumbers(ctx context.Context, wabaID string) ([]graph.PhoneNumber, error)
	SubscribeApp(ctx context.Context, wabaID string) error
	GetPhoneNumber(ctx context.Context, phoneNumberID string) (graph.PhoneNumber, error)
	Register(ctx context.Context, phoneNumberID, pin string) error
	SetPIN(ctx context.Context, phoneNumberID, pin string) error
}

// PoolClaimer claims one of the platform's own pre-verified numbers for a business (issue
// "Platform numbers"). claimed reports that the number was the pool's: the sender is then
// type platform whatever the caller sent. Optional.
type PoolClaimer interface {
	Claim(ctx context.Context, e164, businessID, phoneNumberID string) (claimed bool, err error)
}
