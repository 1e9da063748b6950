package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// floors are the reference figures a run's own are divided by, measured in the same run on the
// same machine (which is shared and noisy: absolute numbers mean little, ratios travel).
type floors struct {
	// DecodeCPUPerMessage: HMAC-SHA256 of each message POST's exact bytes plus an encoding/json
	// decode into map[string]any, CPU time per inbound message carried.
	DecodeCPUPerMessage time.Duration
	// DDBWritesPerSecond: raw conditional UpdateItems per second against the run's DynamoDB
	// Local, with the webhook's concurrency (the shape of a window extension).
	DDBWritesPerSecond float64
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureDecodeFloor loops HMAC + map decode over the message POSTs of the plan on one
// goroutine until at least minTime of CPU is spent, and returns CPU per message.
func measureDecodeFloor(p *plan, secret []byte, minTime time.Duration) time.Duration {
	var bodies [][]byte
	msgs := 0
	for _, po := range p.posts {
		if po.Kind == "messages" {
			bodies = append(bodies, po.Body)
			msgs += len(po.msgs)
		}
	}
	if msgs == 0 {
		return 0
	}
	start := processCPU()
	rounds := 0
	for processCPU()-start < minTime {
		for _, b := range bodies {
			m := hmac.New(sha256.New, secret)
			m.Write(b)
			_ = m.Sum(nil)
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				panic(err) // the generator's own JSON
			}
		}
		rounds++
	}
	return (processCPU() - start) / time.Duration(rounds*msgs)
}

// measureDDBFloor runs n conditional writes on the table with the given concurrency and
// returns writes per second.
func measureDDBFloor(ctx context.Context, t *target, prefix string, n, conc int) (float64, error) {
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	begin := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				// The shape of a window extension: one UpdateItem whose condition only lets the
				// expiry move forward.
				_, err := t.DDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName: aws.String(t.Table),
					Key: map[string]types.AttributeValue{
						"pk": &types.AttributeValueMemberS{Value: "FLOOR#" + prefix + "#" + strconv.FormatInt(i%500, 10)},
						"sk": &types.AttributeValueMemberS{Value: "#FLOOR"},
					},
					UpdateExpression:    aws.String("SET expiresAtMs = :e"),
					ConditionExpression: aws.String("attribute_not_exists(expiresAtMs) OR expiresAtMs < :e"),
					ExpressionAttributeValues: map[string]types.AttributeValue{
						":e": &types.AttributeValueMemberN{Value: strconv.FormatInt(i, 10)},
					},
				})
				if err != nil {
					var cf *types.ConditionalCheckFailedException
					if !errors.As(err, &cf) {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(begin)
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%d of %d floor writes failed: %v", f, n, firstErr.Load())
	}
	return float64(n) / el.Seconds(), nil
}
