package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/template"
)

// GetTemplate returns the template record of (waba, name, language), or ErrNotFound.
func (s *Store) GetTemplate(ctx context.Context, waba, name, language string) (template.Template, error) {
	var t template.Template
	_, err := s.getDoc(ctx, templateKey(waba, name, template.NormalizeLanguage(language)), &t)
	return t, err
}

// UpdateTemplate applies fn to the template record of (waba, name, language); fn returns
// ErrNoChange to skip the write (for example an older event than the one applied).
func (s *Store) UpdateTemplate(ctx context.Context, waba, name, language string, fn func(cur *template.Template, found bool) error) (template.Template, error) {
	lang := template.NormalizeLanguage(language)
	t, err := updateDoc(ctx, s, templateKey(waba, name, lang), func(cur *template.Template, found bool) (docOptions, error) {
		if err := fn(cur, found); err != nil {
			return docOptions{}, err
		}
		cur.WABAID, cur.Name, cur.Language = waba, name, lang
		return docOptions{}, nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return template.Template{}, nil
		}
		return template.Template{}, fmt.Errorf("update template: %w", err)
	}
	return *t, nil
}

// ListTemplates returns every template record of a WABA.
func (s *Store) ListTemplates(ctx context.Context, waba string) ([]template.Template, error) {
	var out []template.Template
	var start map[string]types.AttributeValue
	for {
		res, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": str("TEMPLATE#" + waba)},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("list templates: %w", err)
		}
		for _, item := range res.Items {
			var t template.Template
			if err := json.Unmarshal([]byte(getS(item, attrDoc)), &t); err != nil {
				return nil, fmt.Errorf("decode template: %w", err)
			}
			out = append(out, t)
		}
		if res.LastEvaluatedKey == nil {
			return out, nil
		}
		start = res.LastEvaluatedKey
	}
}
