package store

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// query builds a Query of the table (or of index, when not empty) through
// feature/dynamodb/expression: partition key pkAttr equal to pk and, when prefix is not
// empty, sort key skAttr beginning with it. Reads that are not on a hot path use the builder;
// the webhook's hot writes keep hand-built expressions (README, "Hand-built expressions").
func (s *Store) query(index, pkAttr, pk, skAttr, prefix string) (*dynamodb.QueryInput, error) {
	kc := expression.Key(pkAttr).Equal(expression.Value(pk))
	if prefix != "" {
		kc = kc.And(expression.Key(skAttr).BeginsWith(prefix))
	}
	x, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build query of %s: %w", pk, err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    x.KeyCondition(),
		ExpressionAttributeNames:  x.Names(),
		ExpressionAttributeValues: x.Values(),
	}
	if index != "" {
		in.IndexName = aws.String(index)
	}
	return in, nil
}
