package onboarding

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
)

// account_update partner events.
const (
	EventPartnerAdded          = "PARTNER_ADDED"
	EventPartnerRemoved        = "PARTNER_REMOVED"
	EventPartnerAppUninstalled = "PARTNER_APP_UNINSTALLED"
	EventAccountOffboarded     = "ACCOUNT_OFFBOARDED"
	EventAccountReconnected    = "ACCOUNT_RECONNECTED"
)

// IsPartnerEvent reports the account_update events PartnerEvent acts on.
func IsPartnerEvent(event string) bool {
	switch event {
	case EventPartnerAdded, EventPartnerRemoved, EventPartnerAppUninstalled, EventAccountOffboarded, EventAccountReconnected:
		return true
	}
	return false
}

func disconnects(event string) bool {
	return event == EventPartnerRemoved || event == EventPartnerAppUninstalled || event == EventAccountOffboarded
}

// PartnerEvent applies a partner event of a WABA: recorded on its latest onboarding (or on a
// placeholder the next onboarding of the WABA picks up); a disconnection takes every sender of
// the WABA offline with reason "disconnected" and forgets the business's token. Applying it
// again changes nothing.
func (s *Service) PartnerEvent(ctx context.Context, waba, event, ownerBusinessID string, at time.Time) error {
	if !IsPartnerEvent(event) || waba == "" {
		return nil
	}
	if err := s.recordPartnerEvent(ctx, waba, PartnerEvent{Event: event, OwnerBusinessID: ownerBusinessID, At: at.UTC()}); err != nil {
		return err
	}
	if !disconnects(event) {
		return nil
	}
	senders, err := s.o.Senders.ListSendersByWABA(ctx, waba)
	if err != nil {
		return fmt.Errorf("list senders of waba: %w", err)
	}
	for _, snd := range senders {
		_, err := s.o.Senders.UpdateSender(ctx, snd.ID, persist.InPlace(func(cur *sender.Sender) error {
			if !cur.Disconnect(ReasonDisconnected, sender.SourceWebhook, at) {
				return persist.ErrNoChange
			}
			return nil
		}))
		if err != nil && !errors.Is(err, persist.ErrNoChange) && !errors.Is(err, persist.ErrNotFound) {
			return fmt.Errorf("disconnect sender: %w", err)
		}
	}
	biz, err := s.o.Secrets.BusinessOf(ctx, waba)
	switch {
	case errors.Is(err, persist.ErrNotFound):
		return nil // a WABA on the platform's own token: nothing to forget
	case err != nil:
		return fmt.Errorf("business of waba: %w", err)
	}
	// The binding stays, so calls for these numbers fail instead of using the platform token.
	if err := s.o.Secrets.ForgetToken(ctx, biz); err != nil {
		return fmt.Errorf("forget token: %w", err)
	}
	s.o.Log.Warn("business disconnected: senders offline, token forgotten", "waba", waba, "event", event, "senders", len(senders))
	return nil
}

func (s *Service) recordPartnerEvent(ctx context.Context, waba string, e PartnerEvent) error {
	id, err := s.o.Store.OnboardingForAsset(ctx, waba, "")
	if errors.Is(err, persist.ErrNotFound) {
		// Meta's PARTNER_ADDED usually arrives before the page posts the onboarding: keep it on
		// a placeholder of the WABA that the onboarding copies.
		now := s.o.Now()
		ph := &Onboarding{ID: "onb_waba_" + waba, WABAID: waba, Status: StatusDone, Reason: "partner_events_only",
			Steps: []Step{}, PartnerEvents: []PartnerEvent{e}, CreatedAt: now, UpdatedAt: now}
		if err := s.o.Store.CreateOnboarding(ctx, ph); err != nil && !errors.Is(err, persist.ErrConflict) {
			return fmt.Errorf("record partner event: %w", err)
		} else if err == nil {
			return s.o.Store.SetOnboardingForAsset(ctx, waba, "", ph.ID)
		}
		id = ph.ID
	} else if err != nil {
		return fmt.Errorf("onboarding of waba: %w", err)
	}
	for range 5 {
		o, err := s.o.Store.GetOnboarding(ctx, id)
		if err != nil {
			return fmt.Errorf("read onboarding: %w", err)
		}
		for _, x := range o.PartnerEvents {
			if x.Event == e.Event && x.At.Equal(e.At) {
				return nil
			}
		}
		o.PartnerEvents = append(o.PartnerEvents, e)
		if len(o.PartnerEvents) > 20 {
			o.PartnerEvents = o.PartnerEvents[len(o.PartnerEvents)-20:]
		}
		o.UpdatedAt = s.o.Now()
		if err := s.o.Store.SaveOnboarding(ctx, o); errors.Is(err, persist.ErrConflict) {
			continue
		} else if err != nil {
			return fmt.Errorf("record partner event: %w", err)
		}
		return nil
	}
	return fmt.Errorf("record partner event: %w", persist.ErrConflict)
}
