package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
)

// Send pacing shared by every consumer instance (outbound.PaceClaim):
//
//   - a sender's sends per second: PACE#<phoneNumberId>#<unix second>#<shard> / #PACE, an atomic
//     counter incremented on condition it is below the shard's share of the rate (no read, no
//     version: DynamoDB serialises the increments); a rate above paceShardRate is split over
//     several items so none is hot;
//   - a (sender, recipient) pair's pace: PAIR#<phoneNumberId>#<customerKey> / #PAIR, the
//     theoretical arrival time of the next message (GCRA), read with the request's state and
//     moved on condition it is still the value read.
//
// Both are written in one transaction, so a send is booked on both or on neither.
const (
	paceShardRate = 250
	paceKeep      = 2 * time.Minute
)

// paceShares splits perSecond over its shards: the shares add up to perSecond.
func paceShares(perSecond int) []int {
	n := max(1, (perSecond+paceShardRate-1)/paceShardRate)
	shares := make([]int, n)
	for i := range shares {
		shares[i] = perSecond / n
		if i < perSecond%n {
			shares[i]++
		}
	}
	return shares
}

// ClaimPace books one send of c.SenderID in the second of c.At and moves the pair's pace from
// c.PairOld to c.PairNew, together. It fails with outbound.ErrRateFull when that second is
// taken, outbound.ErrPairMoved when another send to the pair was booked since the read.
func (s *Store) ClaimPace(ctx context.Context, c outbound.PaceClaim) error {
	shares := paceShares(max(1, c.PerSecond))
	shard := rand.IntN(len(shares))
	sec := c.At.Unix()
	pair := map[string]types.AttributeValue{":new": num(c.PairNew.UnixMilli()), ":ttl": ttlValue(c.PairNew.Add(paceKeep))}
	// An expired pace that TTL has not deleted yet counts as none.
	pairCond := "attribute_not_exists(tatMs) OR expiresAt <= :now"
	pair[":now"] = num(s.now().Unix())
	if c.PairFound {
		delete(pair, ":now")
		pairCond = "tatMs = :old"
		pair[":old"] = num(c.PairOld.UnixMilli())
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: paceKey(c.SenderID, sec, shard).av(),
			UpdateExpression:    aws.String("ADD n :one SET expiresAt = :ttl"),
			ConditionExpression: aws.String("attribute_not_exists(n) OR n < :q"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": num(1), ":q": num(int64(shares[shard])), ":ttl": ttlValue(time.Unix(sec, 0).Add(paceKeep)),
			},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: pairKey(c.SenderID, c.Recipient).av(),
			UpdateExpression:          aws.String("SET tatMs = :new, expiresAt = :ttl"),
			ConditionExpression:       aws.String(pairCond),
			ExpressionAttributeValues: pair,
		}},
	}})
	if err == nil {
		return nil
	}
	reasons := transactReasons(err)
	switch {
	case len(reasons) == 2 && reasons[0] == "ConditionalCheckFailed":
		return outbound.ErrRateFull
	case len(reasons) == 2 && reasons[1] == "ConditionalCheckFailed":
		return outbound.ErrPairMoved
	case reasons != nil:
		// Another transaction on the same items: as good as a moved pair (read it again).
		return outbound.ErrPairMoved
	}
	return fmt.Errorf("claim pace: %w", err)
}

// GetPairPace returns the pair's pace (found false when none is in force).
func (s *Store) GetPairPace(ctx context.Context, senderID, ck string) (time.Time, bool, error) {
	item, err := s.getItem(ctx, pairKey(senderID, ck), true)
	if errors.Is(err, persist.ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("get pair pace: %w", err)
	}
	return time.UnixMilli(getN(item, "tatMs")).UTC(), true, nil
}
