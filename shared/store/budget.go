package store

import (
	"context"
	"errors"
	"fmt"
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
//     recipient counts once per 24 h, however many templates it gets;
//   - one counter, sk #COUNT, holding one attribute per hour slot ("h<unix hour>") with the
//     number of recipients first counted in that hour, and a version.
//
// A claim reads the recipient (counted already? then nothing to do) and the counter, sums the
// live slots, and — if below the limit — writes both in one TransactWriteItems: the recipient
// on condition it does not exist (or has expired), the counter's slot incremented on
// condition its version is the one read. Every increment is thus serialised by the version,
// and the limit check sees exactly the count it increments: concurrent claims never overshoot.
//
// Expiry slides by the hour: a slot counts while its end plus 24 h is in the future, so a
// recipient drops out of the count at most an hour after its own 24 h (the budget errs on the
// safe side), and dead slots are removed by the next claim. Reads never trust TTL: the
// recipient item's expiry is checked on read and in the write's condition, and slots are
// judged by their hour, not by DynamoDB's deletion.
const (
	budgetWindow     = 24 * time.Hour
	budgetSlot       = time.Hour
	budgetCounterSK  = "#COUNT"
	budgetSlotPrefix = "h"
	budgetAttempts   = 12
)

func budgetPK(portfolio string) string { return "BUDGET#" + portfolio }

func budgetRecipientKey(portfolio, ck string) key { return key{budgetPK(portfolio), ck} }

func budgetCounterKey(portfolio string) key { return key{budgetPK(portfolio), budgetCounterSK} }

func slotOf(t time.Time) int64 { return t.Unix() / int64(budgetSlot/time.Second) }

func slotEnd(slot int64) time.Time {
	return time.Unix((slot+1)*int64(budgetSlot/time.Second), 0).UTC()
}

// ClaimBudget counts customerKey against the portfolio's limit of unique recipients in a
// moving 24 h. A recipient counted in the last 24 h is Already; over the limit nothing is
// written and RetryAt says when the oldest slot drops out. limit < 0 means unlimited.
func (s *Store) ClaimBudget(ctx context.Context, portfolio, customerKey string, limit int) (outbound.BudgetClaim, error) {
	if portfolio == "" || customerKey == "" {
		return outbound.BudgetClaim{}, errors.New("claim budget: empty portfolio or customer")
	}
	rk, ck := budgetRecipientKey(portfolio, customerKey), budgetCounterKey(portfolio)
	for attempt := 0; attempt < budgetAttempts; attempt++ {
		now := s.now()
		if _, err := s.getItem(ctx, rk, true); err == nil {
			return outbound.BudgetClaim{Already: true}, nil
		} else if !errors.Is(err, persist.ErrNotFound) {
			return outbound.BudgetClaim{}, fmt.Errorf("claim budget: read recipient: %w", err)
		}

		// The counter is read raw (not through getItem): its TTL only ever passes once every
		// slot is dead, and its version must be seen to condition the write.
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: ck.av(), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return outbound.BudgetClaim{}, fmt.Errorf("claim budget: read counter: %w", err)
		}
		version := getN(out.Item, attrVersion)
		used, oldest, dead := liveSlots(out.Item, now)
		if limit >= 0 && used >= limit {
			return outbound.BudgetClaim{Over: true, Used: used, RetryAt: slotEnd(oldest).Add(budgetWindow)}, nil
		}

		cur := slotOf(now)
		names := map[string]string{"#h": budgetSlotPrefix + strconv.FormatInt(cur, 10)}
		update := "SET #h = if_not_exists(#h, :zero) + :one, version = :next, expiresAt = :ttl"
		var remove []string
		for i, d := range dead {
			n := "#d" + strconv.Itoa(i)
			names[n] = d
			remove = append(remove, n)
		}
		if len(remove) > 0 {
			update += " REMOVE " + strings.Join(remove, ", ")
		}
		cond := "version = :v"
		values := map[string]types.AttributeValue{
			":zero": num(0), ":one": num(1), ":next": num(version + 1),
			":ttl": ttlValue(slotEnd(cur).Add(budgetWindow)),
		}
		if version == 0 {
			cond = "attribute_not_exists(version)"
		} else {
			values[":v"] = num(version)
		}
		recipient := rk.av()
		recipient["firstAtMs"] = num(now.UnixMilli())
		recipient[attrTTL] = ttlValue(now.Add(budgetWindow))

		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName: aws.String(s.table), Item: recipient,
				ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt <= :now"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
			}},
			{Update: &types.Update{
				TableName: aws.String(s.table), Key: ck.av(),
				UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			}},
		}})
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
		// The counter moved (another recipient was counted) or the transaction conflicted:
		// read again and decide on the new count.
		if err := sleepCtx(ctx, time.Duration(attempt*attempt)*5*time.Millisecond); err != nil {
			return outbound.BudgetClaim{}, err
		}
	}
	return outbound.BudgetClaim{}, fmt.Errorf("claim budget for %s: %w", portfolio, persist.ErrConflict)
}

// BudgetUsed returns how many recipients count against the portfolio's limit now.
func (s *Store) BudgetUsed(ctx context.Context, portfolio string) (int, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table),
		Key: budgetCounterKey(portfolio).av(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fmt.Errorf("read budget: %w", err)
	}
	used, _, _ := liveSlots(out.Item, s.now())
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
