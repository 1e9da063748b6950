package store

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/webhook"
	"github.com/aloro/wa-senders/shared/whatsapp"
)

// The inbound message's one conditional write (openWindow's fast path), built by hand as the
// store does and through feature/dynamodb/expression, to weigh the two (README, "How it
// works"). The builder cannot name the map key of a forward mark whole (expression.Name splits
// on dots and wamids hold dots), so the builder variant checks the marks map as a whole.

var benchSink *dynamodb.UpdateItemInput

func handBuiltWindowWrite(k key, l, e int64, ttl time.Time, wamid string) *dynamodb.UpdateItemInput {
	cond := "(attribute_not_exists(lastInboundMs) OR lastInboundMs < :l)" +
		" AND (attribute_not_exists(closedMs) OR closedMs < :l)" +
		" AND (attribute_not_exists(expiresAtMs) OR expiresAtMs <= :e)" +
		" AND (attribute_not_exists(" + attrFwdKeep + ") OR " + attrFwdKeep + " <= :ttl)" +
		" AND attribute_not_exists(" + attrFwd + ".#w)"
	return &dynamodb.UpdateItemInput{
		TableName: aws.String("t"), Key: k.av(),
		UpdateExpression:         aws.String("SET expiresAtMs = :e, baseMs = :e, expiresAt = :ttl, freeEntry = :f, lastInboundMs = :l"),
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#w": wamid},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":e": num(e), ":ttl": ttlValue(ttl), ":f": &types.AttributeValueMemberBOOL{Value: false}, ":l": num(l),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

func builtWindowWrite(k key, l, e int64, ttl time.Time) (*dynamodb.UpdateItemInput, error) {
	lv, ev, tv := expression.Value(l), expression.Value(e), expression.Value(ttl.Unix())
	cond := expression.Or(expression.AttributeNotExists(expression.Name(attrLastInbound)), expression.Name(attrLastInbound).LessThan(lv)).
		And(expression.Or(expression.AttributeNotExists(expression.Name(attrClosedMs)), expression.Name(attrClosedMs).LessThan(lv))).
		And(expression.Or(expression.AttributeNotExists(expression.Name(attrExpiresMs)), expression.Name(attrExpiresMs).LessThanEqual(ev))).
		And(expression.Or(expression.AttributeNotExists(expression.Name(attrFwdKeep)), expression.Name(attrFwdKeep).LessThanEqual(tv))).
		And(expression.AttributeNotExists(expression.Name(attrFwd)))
	upd := expression.Set(expression.Name(attrExpiresMs), ev).Set(expression.Name(attrBaseMs), ev).
		Set(expression.Name(attrTTL), tv).Set(expression.Name(attrFreeEntry), expression.Value(false)).
		Set(expression.Name(attrLastInbound), lv)
	x, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemInput{
		TableName: aws.String("t"), Key: k.av(),
		UpdateExpression: x.Update(), ConditionExpression: x.Condition(),
		ExpressionAttributeNames: x.Names(), ExpressionAttributeValues: x.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

func BenchmarkWindowWriteHandBuilt(b *testing.B) {
	k, ttl := windowKey("106540352242922", "uid:US.1"), time.Unix(1764086400, 0)
	b.ReportAllocs()
	for b.Loop() {
		benchSink = handBuiltWindowWrite(k, 1764000000000, 1764086400000, ttl, "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI=")
	}
}

func BenchmarkWindowWriteExpressionBuilder(b *testing.B) {
	k, ttl := windowKey("106540352242922", "uid:US.1"), time.Unix(1764086400, 0)
	b.ReportAllocs()
	for b.Loop() {
		in, err := builtWindowWrite(k, 1764000000000, 1764086400000, ttl)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = in
	}
}

// TestWindowWriteBuildersAgree: both variants name the same attributes (the builder's
// placeholders differ), so the benchmark compares like with like.
func TestWindowWriteBuildersAgree(t *testing.T) {
	t.Parallel()
	k, ttl := windowKey("p", "c"), time.Unix(1764086400, 0)
	hand := handBuiltWindowWrite(k, 1, 2, ttl, "w")
	built, err := builtWindowWrite(k, 1, 2, ttl)
	if err != nil {
		t.Fatal(err)
	}
	// The builder gives every use of a value its own placeholder (9 here, 4 by hand).
	if len(built.ExpressionAttributeValues) < len(hand.ExpressionAttributeValues) {
		t.Fatalf("values: built %d, hand-built %d", len(built.ExpressionAttributeValues), len(hand.ExpressionAttributeValues))
	}
	names := map[string]bool{}
	for _, n := range built.ExpressionAttributeNames {
		names[n] = true
	}
	for _, n := range []string{attrLastInbound, attrClosedMs, attrExpiresMs, attrFwdKeep, attrFwd, attrBaseMs, attrTTL, attrFreeEntry} {
		if !names[n] {
			t.Errorf("builder variant does not name %s", n)
		}
	}
}

// The status's one conditional write (statusWrite), by hand and through the builder.

func builtStatusWrite(table, id string, d webhook.DeliveryStatus, raw []byte) (*dynamodb.UpdateItemInput, error) {
	w, k := expression.Value(d.WAMID), expression.Value(d.Key)
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.Or(expression.AttributeNotExists(expression.Name(attrWAMID)), expression.Name(attrWAMID).Equal(w))).
		And(expression.Or(expression.AttributeNotExists(expression.Name(attrStKey)), expression.Name(attrStKey).LessThan(k),
			expression.Name(attrStWAMID).NotEqual(w)))
	upd := expression.Set(expression.Name(attrWAMID), w).Set(expression.Name(attrStKey), k).
		Set(expression.Name(attrStWAMID), w).Set(expression.Name(attrStDoc), expression.Value(string(raw)))
	x, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: recordKey(id).av(),
		UpdateExpression: x.Update(), ConditionExpression: x.Condition(),
		ExpressionAttributeNames: x.Names(), ExpressionAttributeValues: x.Values(),
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

func benchStatus() (webhook.DeliveryStatus, []byte) {
	d, _ := webhook.FoldStatuses([]whatsapp.Status{{ID: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI=", Status: "delivered", Timestamp: 1764003002}}, time.Unix(1764003003, 0))
	raw, _ := json.Marshal(d)
	return d, raw
}

func BenchmarkStatusWriteHandBuilt(b *testing.B) {
	d, raw := benchStatus()
	b.ReportAllocs()
	for b.Loop() {
		benchSink = statusWrite("t", "req_01JD2K7Q9X3V8M4N5P6R7S8T9U", d, raw)
	}
}

func BenchmarkStatusWriteExpressionBuilder(b *testing.B) {
	d, raw := benchStatus()
	b.ReportAllocs()
	for b.Loop() {
		in, err := builtStatusWrite("t", "req_01JD2K7Q9X3V8M4N5P6R7S8T9U", d, raw)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = in
	}
}

// TestStatusWriteBuildersAgree: both variants set and check the same attributes.
func TestStatusWriteBuildersAgree(t *testing.T) {
	t.Parallel()
	d, raw := benchStatus()
	hand := statusWrite("t", "r", d, raw)
	built, err := builtStatusWrite("t", "r", d, raw)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range built.ExpressionAttributeNames {
		names[n] = true
	}
	for _, n := range []string{attrPK, attrWAMID, attrStKey, attrStWAMID, attrStDoc} {
		if !names[n] {
			t.Errorf("builder variant does not name %s", n)
		}
		if !strings.Contains(*hand.UpdateExpression+*hand.ConditionExpression, n) {
			t.Errorf("hand-built variant does not name %s", n)
		}
	}
}
