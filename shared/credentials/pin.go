package credentials

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"

	"github.com/aloro/wa-senders/shared/persist"
)

// PINKeeper is where each number's two-step PIN is kept (the Vault). PIN returns
// persist.ErrNotFound when none is kept.
type PINKeeper interface {
	PIN(ctx context.Context, phoneNumberID string) (string, error)
	PutPIN(ctx context.Context, phoneNumberID, pin string) error
}

var _ PINKeeper = (*Vault)(nil)

// ErrPINNotKept wraps a failure to read or keep a PIN before Meta was asked: Meta saw nothing.
var ErrPINNotKept = errors.New("two-step pin not kept")

// ErrBadPIN is a PIN that is not six digits.
var ErrBadPIN = errors.New("pin must be six digits")

// ValidPIN reports whether pin is a two-step PIN: six digits.
func ValidPIN(pin string) bool {
	if len(pin) != 6 {
		return false
	}
	for i := range len(pin) {
		if pin[i] < '0' || pin[i] > '9' {
			return false
		}
	}
	return true
}

// NewPIN returns a random six-digit PIN.
func NewPIN() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("generate pin: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// KeptOrNewPIN is the PIN a (re-)registration uses: the one kept for the number (a retry after a
// lost answer must not change it; kept reports it), else a new one, which the caller keeps
// before Meta sees it.
func KeptOrNewPIN(ctx context.Context, k PINKeeper, phoneNumberID string) (pin string, kept bool, err error) {
	if k != nil {
		pin, err := k.PIN(ctx, phoneNumberID)
		if err == nil {
			return pin, true, nil
		}
		if !errors.Is(err, persist.ErrNotFound) {
			return "", false, fmt.Errorf("read kept pin: %w", err)
		}
	}
	pin, err = NewPIN()
	return pin, false, err
}

// ApplyPIN keeps pin for the number before apply shows it to Meta, so neither a lost answer nor
// a process dying after Meta took it leaves the number with a PIN nobody holds. When apply fails
// and refused says Meta surely did not take the PIN (it answered with an error), the PIN kept
// before is put back: a wrong or refused PIN never replaces a good one. k may be nil (nothing
// is kept).
func ApplyPIN(ctx context.Context, k PINKeeper, phoneNumberID, pin string, apply func(pin string) error, refused func(error) bool) error {
	if k == nil {
		return apply(pin)
	}
	prev, err := k.PIN(ctx, phoneNumberID)
	switch {
	case errors.Is(err, persist.ErrNotFound):
		prev = ""
	case err != nil:
		return fmt.Errorf("%w: read: %w", ErrPINNotKept, err)
	}
	if pin != prev {
		if err := k.PutPIN(ctx, phoneNumberID, pin); err != nil {
			return fmt.Errorf("%w: %w", ErrPINNotKept, err)
		}
	}
	aerr := apply(pin)
	if aerr != nil && prev != "" && pin != prev && refused(aerr) {
		if err := k.PutPIN(ctx, phoneNumberID, prev); err != nil {
			return errors.Join(aerr, fmt.Errorf("restore kept pin: %w", err))
		}
	}
	return aerr
}
