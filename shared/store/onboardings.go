package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/persist"
)

// Onboardings (onboarding.Store):
//
//	onboarding        ONBOARDING#<id>                 #ONBOARDING   doc, version
//	asset → latest    ONBASSET#<waba>#<phone or "">   #ONBASSET     onboarding = <id>
func onboardingKey(id string) key        { return key{"ONBOARDING#" + id, "#ONBOARDING"} }
func onbAssetKey(waba, phone string) key { return key{"ONBASSET#" + waba + "#" + phone, "#ONBASSET"} }

var _ onboarding.Store = (*Store)(nil)

// CreateOnboarding stores a new onboarding (persist.ErrConflict when the id exists).
func (s *Store) CreateOnboarding(ctx context.Context, o *onboarding.Onboarding) error {
	err := s.putDoc(ctx, onboardingKey(o.ID), o, 0, time.Time{}, nil)
	if IsConditionFailed(err) {
		return persist.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create onboarding: %w", err)
	}
	o.Version = 1
	return nil
}

// GetOnboarding returns an onboarding (persist.ErrNotFound when unknown).
func (s *Store) GetOnboarding(ctx context.Context, id string) (*onboarding.Onboarding, error) {
	var o onboarding.Onboarding
	v, err := s.getDoc(ctx, onboardingKey(id), &o)
	if err != nil {
		return nil, notFound(err)
	}
	o.Version = v
	return &o, nil
}

// SaveOnboarding writes o if the stored version is still o.Version (persist.ErrConflict otherwise).
func (s *Store) SaveOnboarding(ctx context.Context, o *onboarding.Onboarding) error {
	if o.Version == 0 {
		return errors.New("save onboarding: not created yet")
	}
	err := s.putDoc(ctx, onboardingKey(o.ID), o, o.Version, time.Time{}, nil)
	if IsConditionFailed(err) {
		return persist.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("save onboarding: %w", err)
	}
	o.Version++
	return nil
}

// OnboardingForAsset returns the latest onboarding of a WABA and number (persist.ErrNotFound when none).
func (s *Store) OnboardingForAsset(ctx context.Context, waba, phone string) (string, error) {
	item, err := s.getItem(ctx, onbAssetKey(waba, phone), true)
	if err != nil {
		return "", notFound(err)
	}
	return getS(item, "onboarding"), nil
}

// SetOnboardingForAsset records the latest onboarding of a WABA and number.
func (s *Store) SetOnboardingForAsset(ctx context.Context, waba, phone, id string) error {
	item := onbAssetKey(waba, phone).av()
	item["onboarding"] = str(id)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	return err
}
