package outbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// requestCase is one row of testdata/requests.json: a request and whether the contract accepts
// it. The same table was checked against a full Draft 2020-12 validator when it was written.
type requestCase struct {
	Name    string          `json:"name"`
	Valid   bool            `json:"valid"`
	Request json.RawMessage `json:"request"`
}

func loadRequestCases(t *testing.T) []requestCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []requestCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestSchemaAndValidateAgree runs every case through the JSON Schema (with the minimal
// evaluator below) and through Decode, and requires both to give the table's verdict.
func TestSchemaAndValidateAgree(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(Schema, &schema); err != nil {
		t.Fatalf("embedded schema is not JSON: %v", err)
	}
	if got := schema["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v, want Draft 2020-12", got)
	}
	if got := schema["additionalProperties"]; got != false {
		t.Errorf("additionalProperties = %v, want false", got)
	}
	ev := &miniSchema{root: schema}
	for _, tc := range loadRequestCases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			var doc any
			dec := json.NewDecoder(bytes.NewReader(tc.Request))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			schemaErr := ev.validate(schema, doc, "")
			if (schemaErr == nil) != tc.Valid {
				t.Errorf("schema verdict valid=%v, want %v (%v)", schemaErr == nil, tc.Valid, schemaErr)
			}
			_, err := Decode(tc.Request)
			if (err == nil) != tc.Valid {
				t.Errorf("Decode verdict valid=%v, want %v (%v)", err == nil, tc.Valid, err)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

// TestSchemaDeclaresEveryField checks that the schema's properties are exactly the JSON names of
// Request, Media and Template, so neither can grow a field the other lacks.
func TestSchemaDeclaresEveryField(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(Schema, &schema); err != nil {
		t.Fatal(err)
	}
	defs := schema["$defs"].(map[string]any)
	for path, props := range map[string]map[string]any{
		"":         schema["properties"].(map[string]any),
		"media":    defs["media"].(map[string]any)["properties"].(map[string]any),
		"template": defs["template"].(map[string]any)["properties"].(map[string]any),
	} {
		for name := range props {
			if !fields[path][name] {
				t.Errorf("schema declares %q under %q; Decode does not accept it", name, path)
			}
		}
		for name := range fields[path] {
			if _, ok := props[name]; !ok {
				t.Errorf("Decode accepts %q under %q; the schema does not declare it", name, path)
			}
		}
	}
	for path, typ := range map[string]reflect.Type{"": reflect.TypeFor[Request](), "media": reflect.TypeFor[Media](), "template": reflect.TypeFor[Template]()} {
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if !fields[path][name] {
				t.Errorf("%s.%s has JSON name %q that Decode does not accept", typ.Name(), typ.Field(i).Name, name)
			}
		}
	}
}

// miniSchema evaluates the subset of JSON Schema the request schema uses: type, const, enum,
// required, properties, additionalProperties:false, min/maxLength, pattern, maxItems, items,
// allOf, anyOf, oneOf, not, if/then and local $ref. It is a test tool, not a validator library.
type miniSchema struct{ root map[string]any }

func (m *miniSchema) validate(s map[string]any, v any, path string) error {
	if ref, ok := s["$ref"].(string); ok {
		target, err := m.resolve(ref)
		if err != nil {
			return err
		}
		if err := m.validate(target, v, path); err != nil {
			return err
		}
	}
	if typ, ok := s["type"].(string); ok && !hasType(v, typ) {
		return fmt.Errorf("%s: not a %s", path, typ)
	}
	if c, ok := s["const"]; ok && !equalJSON(c, v) {
		return fmt.Errorf("%s: not %v", path, c)
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || equalJSON(e, v)
		}
		if !found {
			return fmt.Errorf("%s: not in enum", path)
		}
	}
	if str, ok := v.(string); ok {
		n := utf8.RuneCountInString(str)
		if min, ok := number(s["minLength"]); ok && n < min {
			return fmt.Errorf("%s: shorter than %d", path, min)
		}
		if max, ok := number(s["maxLength"]); ok && n > max {
			return fmt.Errorf("%s: longer than %d", path, max)
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			return fmt.Errorf("%s: does not match %s", path, p)
		}
	}
	if arr, ok := v.([]any); ok {
		if max, ok := number(s["maxItems"]); ok && len(arr) > max {
			return fmt.Errorf("%s: more than %d items", path, max)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range arr {
				if err := m.validate(items, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					return fmt.Errorf("%s: %s required", path, r)
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, child := range obj {
			ps, declared := props[k].(map[string]any)
			if !declared {
				if s["additionalProperties"] == false {
					return fmt.Errorf("%s: %s not allowed", path, k)
				}
				continue
			}
			if err := m.validate(ps, child, path+"."+k); err != nil {
				return err
			}
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := m.validate(sub.(map[string]any), v, path); err != nil {
				return err
			}
		}
	}
	if anyOf, ok := s["anyOf"].([]any); ok {
		if m.passing(anyOf, v, path) == 0 {
			return fmt.Errorf("%s: matches none of anyOf", path)
		}
	}
	if oneOf, ok := s["oneOf"].([]any); ok {
		if n := m.passing(oneOf, v, path); n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf", path, n)
		}
	}
	if not, ok := s["not"].(map[string]any); ok && m.validate(not, v, path) == nil {
		return fmt.Errorf("%s: matches a forbidden schema", path)
	}
	if cond, ok := s["if"].(map[string]any); ok && m.validate(cond, v, path) == nil {
		if then, ok := s["then"].(map[string]any); ok {
			if err := m.validate(then, v, path); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *miniSchema) passing(subs []any, v any, path string) int {
	n := 0
	for _, sub := range subs {
		if m.validate(sub.(map[string]any), v, path) == nil {
			n++
		}
	}
	return n
}

func (m *miniSchema) resolve(ref string) (map[string]any, error) {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %s", ref)
	}
	d, ok := m.root["$defs"].(map[string]any)[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %s not found", ref)
	}
	return d, nil
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer", "number":
		_, ok := v.(json.Number)
		return ok
	}
	return false
}

func number(v any) (int, bool) {
	f, ok := v.(float64)
	return int(f), ok
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
