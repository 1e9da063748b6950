package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/template"

	"github.com/aloro/wa-senders/shared/persist"
)

// GetTemplate returns the template record of (waba, name, language), or persist.ErrNotFound.
func (s *Store) GetTemplate(ctx context.Context, waba, name, language string) (template.Template, error) {
	var t template.Template
	_, err := s.getDoc(ctx, templateKey(waba, name, template.NormalizeLanguage(language)), &t)
	return t, err
}

// UpdateTemplate applies fn to the template record of (waba, name, language) (cur is nil when
// there is none yet); fn returns persist.ErrNoChange to skip the write (for example an older
// event than the one applied). The zero template comes back when nothing exists or was written.
func (s *Store) UpdateTemplate(ctx context.Context, waba, name, language string, fn persist.Update[template.Template]) (template.Template, error) {
	lang := template.NormalizeLanguage(language)
	t, err := update(ctx, s, templateKey(waba, name, lang), true, fn, func(cur *template.Template) docOptions {
		cur.WABAID, cur.Name, cur.Language = waba, name, lang
		return docOptions{}
	})
	if err != nil {
		return template.Template{}, fmt.Errorf("update template: %w", err)
	}
	if t == nil {
		return template.Template{}, nil
	}
	return *t, nil
}

// ListTemplates returns every template record of a WABA.
func (s *Store) ListTemplates(ctx context.Context, waba string) ([]template.Template, error) {
	var out []template.Template
	var start map[string]types.AttributeValue
	in, err := s.query("", attrPK, templatePK(waba), "", "")
	if err != nil {
		return nil, err
	}
	for {
		in.ExclusiveStartKey = start
		res, err := s.db.Query(ctx, in)
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
