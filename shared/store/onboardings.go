package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/onboarding"
	"github.com/aloro/wa-senders/shared/persist"
)

// Onboardings (onboarding.Store):
//
//	onboarding        ONBOARDING#<id>                 #ONBOARDING   doc, version
//	asset → latest    ONBASSET#<waba>#<phone or "">   #ONBASSET     onboarding = <id>
//	                  (an unfinished onboarding also has GSI2 ONBOARDINGS / <nextAttemptAt>#<id>, so the
//	                  reconciler's schedule finds the ones due)
func onboardingKey(id string) key        { return key{"ONBOARDING#" + id, "#ONBOARDING"} }
func onbAssetKey(waba, phone string) key { return key{"ONBASSET#" + waba + "#" + phone, "#ONBASSET"} }

var _ onboarding.Store = (*Store)(nil)

// CreateOnboarding stores a new onboarding (persist.ErrConflict when the id exists).
func (s *Store) CreateOnboarding(ctx context.Context, o *onboarding.Onboarding) error {
	err := s.putDoc(ctx, onboardingKey(o.ID), o, 0, time.Time{}, onboardingIndex(o))
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
	err := s.putDoc(ctx, onboardingKey(o.ID), o, o.Version, time.Time{}, onboardingIndex(o))
	if IsConditionFailed(err) {
		return persist.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("save onboarding: %w", err)
	}
	o.Version++
	return nil
}

const gsiOnboardingsPK = "ONBOARDINGS"

// onboardingIndex lists an unfinished onboarding under its next attempt time.
func onboardingIndex(o *onboarding.Onboarding) map[string]types.AttributeValue {
	if o.Finished() || o.NextAttemptAt.IsZero() {
		return nil
	}
	return map[string]types.AttributeValue{
		attrGSI2PK: str(gsiOnboardingsPK),
		attrGSI2SK: str(o.NextAttemptAt.UTC().Format(time.RFC3339) + "#" + o.ID),
	}
}

// DueOnboardings returns the ids of unfinished onboardings whose next attempt is at or before
// now, oldest first, at most limit.
func (s *Store) DueOnboardings(ctx context.Context, now time.Time, limit int) ([]string, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(indexGSI2),
		KeyConditionExpression: aws.String("gsi2pk = :p AND gsi2sk <= :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": str(gsiOnboardingsPK), ":s": str(now.UTC().Format(time.RFC3339) + "#~"),
		},
		Limit: aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("query due onboardings: %w", err)
	}
	ids := make([]string, 0, len(out.Items))
	for _, item := range out.Items {
		sk := getS(item, attrGSI2SK)
		if i := strings.LastIndexByte(sk, '#'); i >= 0 {
			ids = append(ids, sk[i+1:])
		}
	}
	return ids, nil
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
