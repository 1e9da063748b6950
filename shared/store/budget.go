package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/outbound"

	"github.com/aloro/wa-senders/shared/persist"
)

// The messaging-limit budget: unique recipients reached outside the service window in a moving
// 24 h, per business portfolio (reference §4). Meta has no error code for it, so it is ours.
//
// Items, under pk BUDGET#<portfolioKey>:
//
//   - one per recipient counted, sk = the customer key, TTL 24 h after the first send: a
//     recipient counts once per 24 h, however many templates it gets. It names the shard and
//     hour slot it was counted in, so a refused send can be released;
//   - budgetShards counters, sk #COUNT#<n>, each holding one attribute per hour slot
//     ("h<unix hour>") with the recipients first counted there in that hour, and a version.
//
// The limit is split into one quota per shard (they add up to the limit exactly). A claim reads
// the recipient and every shard in one consistent BatchGetItem, picks at random a shard below
// its quota and writes in one TransactWriteItems: the recipient on condition it does not exist
// (or has expired), that shard's slot incremented on condition its version is the one read.
// A shard's increments are serialised by its version and never pass its quota, so the total
// never passes the limit; concurrent claims meet on one shard in budgetShards, not all on one
// item. Over is answered only when every shard is at its quota, that is at the limit exactly.
//
// Expiry slides by the hour: a slot counts while its end plus 24 h is in the future, so a
// recipient drops out of the count at most an hour after its own 24 h (the budget errs on the
// safe side), and dead slots are removed by the next claim on their shard. Reads never trust
// TTL: the recipient item's expiry is checked on read and in the write's condition, and slots
// are judged by their hour, not by DynamoDB's deletion.
const (
	budgetShards     = 32
	budgetWindow     = 24 * time.Hour
	budgetSlot       = time.Hour
	budgetCounterSK  = "#COUNT#"
	budgetSlotPrefix = "h"
	budgetAttempts   = 16
)

func slotOf(t time.Time) int64 { return t.Unix() / int64(budgetSlot/time.Second) }

func slotEnd(slot int64) time.Time {
	return time.Unix((slot+1)*int64(budgetSlot/time.Second), 0).UTC()
}

// shardQuota is shard n's share of limit: the shares add up to limit.
func shardQuota(limit, n int) int {
	q := limit / budgetShards
	if n < limit%budgetShards {
		q++
	}
	return q
}

// budgetShard is one counter as read.
type budgetShard struct {
	version int64
	used    int
	oldest  int64
	dead    []string
}

// readBudget reads the recipient item (nil when absent or expired) and every shard in one call.
func (s *Store) readBudget(ctx context.Context, portfolio, ck string) (map[string]types.AttributeValue, []budgetShard, error) {
	keys := make([]key, 0, budgetShards+1)
	if ck != "" {
		keys = append(keys, budgetRecipientKey(portfolio, ck))
	}
	for n := range budgetShards {
		keys = append(keys, budgetShardKey(portfolio, n))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	shards := make([]budgetShard, budgetShards)
	for i := range shards {
		shards[i].oldest = slotOf(now)
	}
	var recipient map[string]types.AttributeValue
	for _, item := range items {
		sk := getS(item, attrSK)
		digits, ok := strings.CutPrefix(sk, budgetCounterSK)
		if !ok {
			if sk == ck && !s.expired(item) {
				recipient = item
			}
			continue
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n < 0 || n >= budgetShards {
			continue
		}
		used, oldest, dead := liveSlots(item, now)
		shards[n] = budgetShard{version: getN(item, attrVersion), used: used, oldest: oldest, dead: dead}
	}
	return recipient, shards, nil
}

// ClaimBudget counts customerKey against the portfolio's limit of unique recipients in a
// moving 24 h. A recipient counted in the last 24 h is Already; at the limit nothing is
// written and RetryAt says when the oldest slot drops out. limit < 0 means unlimited.
func (s *Store) ClaimBudget(ctx context.Context, portfolio, customerKey string, limit int) (outbound.BudgetClaim, error) {
	if portfolio == "" || customerKey == "" {
		return outbound.BudgetClaim{}, errors.New("claim budget: empty portfolio or customer")
	}
	rk := budgetRecipientKey(portfolio, customerKey)
	// A shard that lost a race is skipped for the next attempt: the claimers spread out.
	lost := map[int]bool{}
	for attempt := 0; attempt < budgetAttempts; attempt++ {
		now := s.now()
		recipient, shards, err := s.readBudget(ctx, portfolio, customerKey)
		if err != nil {
			return outbound.BudgetClaim{}, fmt.Errorf("claim budget: %w", err)
		}
		if recipient != nil {
			return outbound.BudgetClaim{Already: true}, nil
		}
		used, oldest := 0, slotOf(now)
		var room []int
		for n, sh := range shards {
			used += sh.used
			if sh.used > 0 {
				oldest = min(oldest, sh.oldest)
			}
			if limit < 0 || sh.used < shardQuota(limit, n) {
				room = append(room, n)
			}
		}
		if len(room) == 0 {
			return outbound.BudgetClaim{Over: true, Used: used, RetryAt: slotEnd(oldest).Add(budgetWindow)}, nil
		}
		rand.Shuffle(len(room), func(i, k int) { room[i], room[k] = room[k], room[i] })
		pick := room[0]
		for _, n := range room {
			if !lost[n] {
				pick = n
				break
			}
		}
		err = s.countIn(ctx, portfolio, rk, pick, shards[pick], now)
		if err == nil {
			return outbound.BudgetClaim{Counted: true, Used: used + 1}, nil
		}
		reasons := transactReasons(err)
		if reasons == nil {
			return outbound.BudgetClaim{}, fmt.Errorf("claim budget: %w", err)
		}
		if len(reasons) == 2 && reasons[0] == "ConditionalCheckFailed" {
			// Counted by a concurrent claim for the same recipient.
			return outbound.BudgetClaim{Already: true}, nil
		}
		lost[pick] = true
		// A short jittered pause: the next read sees the winners' counts.
		if err := sleepCtx(ctx, time.Duration(rand.Int64N(int64(attempt+1)*int64(20*time.Millisecond)))); err != nil {
			return outbound.BudgetClaim{}, err
		}
	}
	return outbound.BudgetClaim{}, fmt.Errorf("claim budget for %s: %w", portfolio, persist.ErrConflict)
}

// countIn writes the recipient and increments shard n's current slot, conditioned on the
// shard's version as read.
func (s *Store) countIn(ctx context.Context, portfolio string, rk key, n int, sh budgetShard, now time.Time) error {
	cur := slotOf(now)
	slot := budgetSlotPrefix + strconv.FormatInt(cur, 10)
	names := map[string]string{"#h": slot}
	update := "SET #h = if_not_exists(#h, :zero) + :one, version = :next, expiresAt = :ttl"
	var remove []string
	for i, d := range sh.dead {
		nm := "#d" + strconv.Itoa(i)
		names[nm] = d
		remove = append(remove, nm)
	}
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	cond := "version = :v"
	values := map[string]types.AttributeValue{
		":zero": num(0), ":one": num(1), ":next": num(sh.version + 1),
		":ttl": ttlValue(slotEnd(cur).Add(budgetWindow)),
	}
	if sh.version == 0 {
		cond = "attribute_not_exists(version)"
	} else {
		values[":v"] = num(sh.version)
	}
	recipient := rk.av()
	recipient["firstAtMs"] = num(now.UnixMilli())
	recipient["shard"] = num(int64(n))
	recipient["slot"] = str(slot)
	recipient[attrTTL] = ttlValue(now.Add(budgetWindow))
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: recipient,
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt <= :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: budgetShardKey(portfolio, n).av(),
			UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		}},
	}})
	return err
}

// ReleaseBudget uncounts a recipient whose claim did not lead to a send (Meta refused it): the
// recipient item is deleted and its shard's slot decremented, together. A recipient that is
// not counted (or was counted again since) is left alone.
func (s *Store) ReleaseBudget(ctx context.Context, portfolio, customerKey string) error {
	rk := budgetRecipientKey(portfolio, customerKey)
	item, err := s.getItem(ctx, rk, true)
	if errors.Is(err, persist.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release budget: %w", err)
	}
	slot := getS(item, "slot")
	if slot == "" {
		return nil
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: rk.av(),
			ConditionExpression:       aws.String("firstAtMs = :f"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":f": num(getN(item, "firstAtMs"))},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: budgetShardKey(portfolio, int(getN(item, "shard"))).av(),
			UpdateExpression:          aws.String("SET #h = #h - :one, version = version + :one"),
			ConditionExpression:       aws.String("#h >= :one"),
			ExpressionAttributeNames:  map[string]string{"#h": slot},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
		}},
	}})
	if err != nil && transactReasons(err) == nil {
		return fmt.Errorf("release budget: %w", err)
	}
	// A cancelled transaction: claimed again since, or its slot already dropped out.
	return nil
}

// BudgetUsed returns how many recipients count against the portfolio's limit now.
func (s *Store) BudgetUsed(ctx context.Context, portfolio string) (int, error) {
	_, shards, err := s.readBudget(ctx, portfolio, "")
	if err != nil {
		return 0, fmt.Errorf("read budget: %w", err)
	}
	used := 0
	for _, sh := range shards {
		used += sh.used
	}
	return used, nil
}

// liveSlots sums the counter's slots that still count at now, and returns the oldest of them
// and the names of the dead ones.
func liveSlots(item map[string]types.AttributeValue, now time.Time) (used int, oldest int64, dead []string) {
	oldest = slotOf(now)
	for name := range item {
		digits, ok := strings.CutPrefix(name, budgetSlotPrefix)
		if !ok {
			continue
		}
		slot, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			continue
		}
		if !slotEnd(slot).Add(budgetWindow).After(now) {
			dead = append(dead, name)
			continue
		}
		used += int(getN(item, name))
		oldest = min(oldest, slot)
	}
	return used, oldest, dead
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
