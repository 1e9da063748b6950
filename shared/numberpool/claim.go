package numberpool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
)

// PoolClaimer is the onboarding flow's optional port (Embedded Signup's FINISH with a number
// from our pool); *Pool implements it.
type PoolClaimer interface {
	Claim(ctx context.Context, e164, businessID, phoneNumberID string) (claimed bool, err error)
}

var _ PoolClaimer = (*Pool)(nil)

// Claim marks a verified pool number as claimed by the business that picked it in Embedded
// Signup, with the new phone number id Meta gave it. claimed is false (and nothing changes)
// when the number is not in the pool. Claiming again with the same business and id is a no-op.
// It implements the onboarding flow's PoolClaimer.
func (p *Pool) Claim(ctx context.Context, e164, businessID, phoneNumberID string) (bool, error) {
	if businessID == "" || phoneNumberID == "" {
		return false, fmt.Errorf("claim: business id and phone number id are required: %w", ErrState)
	}
	now := p.now()
	n, err := p.o.Store.UpdateNumber(ctx, e164, func(cur *Number) (*Number, error) {
		if cur == nil || cur.State == StateReleased {
			return nil, ErrNotOurs
		}
		switch {
		case cur.State == StateClaimed && cur.ClaimedBy == businessID && cur.PhoneNumberID == phoneNumberID:
			return nil, persist.ErrNoChange
		case cur.State == StateClaimed:
			return nil, ErrAlreadyClaimed
		case cur.State != StateVerified:
			return nil, stateErr(cur, "claim")
		case !cur.VerifiedUntil.IsZero() && !cur.VerifiedUntil.After(now):
			return nil, fmt.Errorf("claim: verification expired: %w", ErrState)
		}
		next := *cur
		next.State, next.ClaimedBy, next.PhoneNumberID, next.ClaimedAt = StateClaimed, businessID, phoneNumberID, now
		next.ReturnedAt, next.Reason, next.UpdatedAt = time.Time{}, "", now
		return &next, nil
	})
	if errors.Is(err, ErrNotOurs) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim pool number: %w", err)
	}
	p.o.Log.Info("pool number claimed", "business", businessID, "phone_number_id", n.PhoneNumberID)
	return true, nil
}

// AttachToWABA is ModeWABA's claim: the bought number is created on the business's WABA
// (after its onboarding), then verified hands-free; when the code is accepted the number is
// claimed with that WABA's phone number id, ready to register.
func (p *Pool) AttachToWABA(ctx context.Context, e164, wabaID, businessID, verifiedName string) (*Number, error) {
	if p.o.Mode != ModeWABA {
		return nil, fmt.Errorf("attach to a WABA: the pool is in %s mode: %w", p.o.Mode, ErrState)
	}
	n, err := p.o.Store.GetNumber(ctx, e164)
	if errors.Is(err, persist.ErrNotFound) {
		return nil, ErrNotOurs
	}
	if err != nil {
		return nil, err
	}
	switch {
	case n.State == StateReleased:
		return nil, ErrNotOurs
	case n.ClaimedBy != "" && n.ClaimedBy != businessID:
		return nil, ErrAlreadyClaimed
	case n.State == StateClaimed:
		return n, nil
	}
	if n.MetaID == "" {
		cc, national, err := phone.Split(e164)
		if err != nil {
			return nil, err
		}
		id, err := p.o.Graph.AddWABAPhoneNumber(ctx, wabaID, cc, national, verifiedName)
		if err != nil {
			return nil, fmt.Errorf("add to the WABA: %w", err)
		}
		now := p.now()
		if n, err = p.o.Store.UpdateNumber(ctx, e164, func(cur *Number) (*Number, error) {
			if cur == nil {
				return nil, ErrNotOurs
			}
			next := *cur
			next.MetaID, next.ClaimedBy, next.ClaimedWABA, next.UpdatedAt = id, businessID, wabaID, now
			return &next, nil
		}); err != nil {
			return nil, err
		}
	}
	return p.StartVerification(ctx, e164, "")
}

// Return gives a claimed number back to the pool when its sender is deleted: unverified (the
// business's WABA held it), offered again only after a new verification, released to the
// carrier once unused for the hold. returned is false when the number is not a pool number.
func (p *Pool) Return(ctx context.Context, e164 string) (bool, error) {
	now := p.now()
	n, err := p.o.Store.UpdateNumber(ctx, e164, func(cur *Number) (*Number, error) {
		if cur == nil || cur.State == StateReleased {
			return nil, ErrNotOurs
		}
		if cur.State != StateClaimed && cur.ClaimedBy == "" {
			return nil, persist.ErrNoChange
		}
		next := *cur
		next.State, next.Reason = StateUnverified, "returned by business "+cur.ClaimedBy+"; verify again to offer it"
		next.ClaimedBy, next.ClaimedWABA, next.PhoneNumberID, next.ClaimedAt = "", "", "", time.Time{}
		next.MetaID, next.VerifiedUntil, next.CodeDeadline = "", time.Time{}, time.Time{}
		next.ReturnedAt, next.UpdatedAt = now, now
		return &next, nil
	})
	if errors.Is(err, ErrNotOurs) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("return pool number: %w", err)
	}
	p.o.Log.Info("pool number returned", "carrier_sid", n.CarrierSID)
	return true, nil
}
