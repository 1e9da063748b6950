package outbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/phone"
)

// ErrInvalid is wrapped by every validation failure.
var ErrInvalid = errors.New("invalid outbound request")

// ValidationError says which field of a request is wrong, why, and what to send instead.
type ValidationError struct {
	// Field is the JSON path of the field ("to", "template.language"); empty for the whole request.
	Field string `json:"field,omitempty"`
	// Reason is machine-readable: required, unknown_field, invalid_json, invalid_type, empty,
	// too_long, too_many, pattern, enum, conflict, not_e164, invalid_phone.
	Reason string `json:"reason"`
	// Message explains the problem in a sentence.
	Message string `json:"message"`
	// Hint says what a valid value looks like, when that helps.
	Hint string `json:"hint,omitempty"`
}

// Error says "field: message (hint)".
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, reason, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Limits of the contract (the schema states the same numbers).
const (
	MaxIDLength         = 100
	MaxTextLength       = 4096
	MaxCaptionLength    = 1024
	MaxFilenameLength   = 240
	MaxAssistantIDLen   = 128
	MaxReplyToLength    = 256
	MaxTemplateName     = 512
	MaxComponents       = 20
	MaxSenderIDLength   = 32
	MaxMediaLinkLength  = 2048
	MaxMediaIDLength    = 128
	maxRequestBodyBytes = 256 << 10 // SQS's message size limit
)

// Template categories a request may name.
const (
	CategoryMarketing      = "marketing"
	CategoryUtility        = "utility"
	CategoryAuthentication = "authentication"
)

// Media types a request may carry.
var mediaTypes = map[string]bool{"image": true, "video": true, "audio": true, "document": true, "sticker": true}

var (
	idPattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	senderIDPattern  = regexp.MustCompile(`^[0-9]+$`)
	bsuidPattern     = regexp.MustCompile(`^[A-Z]{2}\.[A-Za-z0-9]{1,128}$`)
	linkPattern      = regexp.MustCompile(`^https?://[^\s/?#]+[^\s]*$`)
	mediaIDPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	tmplNamePattern  = regexp.MustCompile(`^[a-z0-9_]+$`)
	tmplLangPattern  = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2}|_[A-Z][a-z]{3})?$`)
	fromHint         = "use E.164: a plus sign, the country code and the number, digits only, e.g. +40721234567"
	bsuidHint        = "a business-scoped user id is an ISO country code, a dot and up to 128 letters or digits, e.g. US.13491208655302741918"
	templateLangHint = "use Meta's language code, e.g. en_US, pt_BR or fil"
)

// Decode parses one request as it arrives on the queue, strictly: unknown fields, nulls, empty
// strings and trailing data are refused, then Validate applies the contract's rules. The
// returned request is usable (its ID in particular) even when the error is a ValidationError
// about another field.
func Decode(body []byte) (Request, error) {
	req, _, err := decode(body)
	return req, err
}

// numbers are a valid request's phone numbers in canonical E.164 ("" when not given), so the
// consumer does not parse them again (libphonenumber is the costliest step of a request).
type numbers struct{ from, to string }

func decode(body []byte) (req Request, nums numbers, err error) {
	if len(body) > maxRequestBodyBytes {
		return req, nums, invalid("", "too_long", "request is %d bytes, more than SQS's %d", len(body), maxRequestBodyBytes)
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return req, nums, invalid("", "invalid_json", "request is not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, nums, invalid("", "invalid_json", "request has data after its JSON object")
	}
	top, ok := generic.(map[string]any)
	if !ok {
		return req, nums, invalid("", "invalid_type", "request must be a JSON object")
	}
	// The ID is read first so that a refusal can be recorded under the caller's key.
	if id, ok := top["id"].(string); ok && validID(id) {
		req.ID = id
	}
	if err := checkRaw(body); err != nil {
		return req, nums, err
	}
	if err := checkValues("", top); err != nil {
		return req, nums, err
	}
	strict := json.NewDecoder(bytes.NewReader(body))
	strict.DisallowUnknownFields()
	var full Request
	if err := strict.Decode(&full); err != nil {
		return req, nums, decodeError(err)
	}
	nums, err = validate(full)
	if err != nil {
		if !validID(full.ID) {
			full.ID = req.ID
		}
		return full, nums, err
	}
	return full, nums, nil
}

// fields are the exact (case-sensitive) field names of each object of the contract.
// encoding/json matches names case-insensitively, the schema does not: "TO" is refused here.
var fields = map[string]map[string]bool{
	"": {"id": true, "from": true, "senderId": true, "to": true, "toUserId": true, "assistantId": true,
		"text": true, "media": true, "replyTo": true, "template": true, "forceTemplate": true},
	"media":    {"type": true, "link": true, "id": true, "caption": true, "filename": true},
	"template": {"name": true, "language": true, "category": true, "components": true},
}

// checkValues refuses unknown field names, nulls and empty strings anywhere outside template
// components (Meta's structure, passed through): the schema types every field and gives strings
// a minimum length, and "absent" must not be spelt two ways.
func checkValues(path string, v any) error {
	switch t := v.(type) {
	case nil:
		return invalid(path, "invalid_type", "must not be null")
	case string:
		if t == "" {
			return invalid(path, "empty", "must not be empty (leave the field out instead)")
		}
	case map[string]any:
		known, isContract := fields[path]
		// Sorted, so that the first error reported is always the same one.
		for _, k := range slices.Sorted(maps.Keys(t)) {
			child := t[k]
			p := k
			if path != "" {
				p = path + "." + k
			}
			if isContract && !known[k] {
				return invalid(p, "unknown_field", "is not a field of the request (see shared/outbound/schema/request.schema.json)")
			}
			if p == "template.components" {
				if child == nil {
					return invalid(p, "invalid_type", "must be an array")
				}
				continue
			}
			if err := checkValues(p, child); err != nil {
				return err
			}
		}
	case []any:
		for i, child := range t {
			if err := checkValues(fmt.Sprintf("%s[%d]", path, i), child); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeError turns encoding/json's errors into ValidationErrors naming the field.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return invalid(te.Field, "invalid_type", "must be a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return invalid(name, "unknown_field", "is not a field of the request (see shared/outbound/schema/request.schema.json)")
	}
	return invalid("", "invalid_json", "request is not valid: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map", "ptr":
		return "object"
	case "slice":
		return "array"
	}
	return goKind
}

func validID(id string) bool {
	return id != "" && len(id) <= MaxIDLength && idPattern.MatchString(id)
}

// Validate checks a request against the contract. Phone numbers go through shared/phone
// (E.164 or wa_id digits that form a valid number; "0721 234 567" is refused with a hint). It
// returns a *ValidationError, or nil.
func Validate(r Request) error {
	_, err := validate(r)
	return err
}

func validate(r Request) (numbers, error) {
	var nums numbers
	if r.ID == "" {
		return nums, invalid("id", "required", "is required: the caller's idempotency key")
	}
	if len(r.ID) > MaxIDLength {
		return nums, invalid("id", "too_long", "is %d characters, at most %d", len(r.ID), MaxIDLength)
	}
	if !idPattern.MatchString(r.ID) {
		return nums, &ValidationError{Field: "id", Reason: "pattern", Message: "has characters other than letters, digits and . _ : -",
			Hint: "start with a letter or digit, e.g. order-42:shipped"}
	}
	var err error
	if nums.from, err = validateSender(r); err != nil {
		return nums, err
	}
	if nums.to, err = validateRecipient(r); err != nil {
		return nums, err
	}
	if r.AssistantID != "" && utf8.RuneCountInString(r.AssistantID) > MaxAssistantIDLen {
		return nums, invalid("assistantId", "too_long", "is longer than %d characters", MaxAssistantIDLen)
	}
	if r.Text == "" && r.Media == nil && r.Template == nil {
		return nums, &ValidationError{Reason: "required", Message: "request has no content",
			Hint: "give text or media (sent inside the customer service window) and/or a template"}
	}
	if r.Text != "" && r.Media != nil {
		return nums, invalid("media", "conflict", "text and media are alternatives: put the text in media.caption")
	}
	if n := utf8.RuneCountInString(r.Text); n > MaxTextLength {
		return nums, invalid("text", "too_long", "is %d characters, at most %d", n, MaxTextLength)
	}
	if r.Media != nil {
		if err := validateMedia(*r.Media); err != nil {
			return nums, err
		}
	}
	if r.ReplyTo != "" && utf8.RuneCountInString(r.ReplyTo) > MaxReplyToLength {
		return nums, invalid("replyTo", "too_long", "is longer than %d characters", MaxReplyToLength)
	}
	if r.Template != nil {
		if err := validateTemplate(*r.Template); err != nil {
			return nums, err
		}
	}
	if r.ForceTemplate && r.Template == nil {
		return nums, invalid("forceTemplate", "conflict", "needs a template")
	}
	return nums, nil
}

func validateSender(r Request) (string, error) {
	if r.From == "" && r.SenderID == "" {
		return "", &ValidationError{Field: "from", Reason: "required", Message: "a sender is required",
			Hint: "give from (the sender's E.164 number) or senderId (its phone_number_id)"}
	}
	var from string
	if r.From != "" {
		e164, err := phone.ParseE164(r.From)
		if err != nil {
			return "", phoneError("from", err)
		}
		from = e164
	}
	if r.SenderID != "" {
		if len(r.SenderID) > MaxSenderIDLength || !senderIDPattern.MatchString(r.SenderID) {
			return "", &ValidationError{Field: "senderId", Reason: "pattern", Message: "is not a phone_number_id",
				Hint: "Meta's phone_number_id is digits only, e.g. 106540352242922"}
		}
	}
	return from, nil
}

func validateRecipient(r Request) (string, error) {
	if r.To == "" && r.ToUserID == "" {
		return "", &ValidationError{Field: "to", Reason: "required", Message: "a recipient is required",
			Hint: "give to (E.164 or wa_id digits) or toUserId (the business-scoped user id)"}
	}
	var to string
	if r.To != "" {
		e164, err := phone.ParseRecipient(r.To)
		if err != nil {
			return "", phoneError("to", err)
		}
		to = e164
	}
	if r.ToUserID != "" && (!customer.IsBSUID(r.ToUserID) || !bsuidPattern.MatchString(r.ToUserID)) {
		return "", &ValidationError{Field: "toUserId", Reason: "pattern", Message: "is not a business-scoped user id", Hint: bsuidHint}
	}
	return to, nil
}

// phoneError keeps shared/phone's reason and hint.
func phoneError(field string, err error) error {
	var pe *phone.Error
	if errors.As(err, &pe) {
		reason := "invalid_phone"
		if pe.Reason == "not_e164" || pe.Reason == "empty" {
			reason = "not_e164"
		}
		return &ValidationError{Field: field, Reason: reason, Message: "is not a valid phone number (" + pe.Reason + ")", Hint: pe.Hint}
	}
	return &ValidationError{Field: field, Reason: "invalid_phone", Message: "is not a valid phone number", Hint: fromHint}
}

func validateMedia(m Media) error {
	if !mediaTypes[m.Type] {
		return &ValidationError{Field: "media.type", Reason: "enum", Message: fmt.Sprintf("%q is not a media type", m.Type),
			Hint: "one of image, video, audio, document, sticker"}
	}
	switch {
	case m.Link == "" && m.ID == "":
		return invalid("media", "required", "needs a link or an uploaded media id")
	case m.Link != "" && m.ID != "":
		return invalid("media", "conflict", "give a link or a media id, not both")
	}
	if m.Link != "" {
		if len(m.Link) > MaxMediaLinkLength {
			return invalid("media.link", "too_long", "is longer than %d characters", MaxMediaLinkLength)
		}
		u, err := url.Parse(m.Link)
		if err != nil || !linkPattern.MatchString(m.Link) || u.Host == "" {
			return &ValidationError{Field: "media.link", Reason: "pattern", Message: "is not an http(s) URL", Hint: "a public URL such as https://example.com/photo.jpg"}
		}
	}
	if m.ID != "" && (len(m.ID) > MaxMediaIDLength || !mediaIDPattern.MatchString(m.ID)) {
		return invalid("media.id", "pattern", "is not a media id")
	}
	if m.Caption != "" {
		if m.Type == "audio" || m.Type == "sticker" {
			return invalid("media.caption", "conflict", "%s carries no caption", m.Type)
		}
		if n := utf8.RuneCountInString(m.Caption); n > MaxCaptionLength {
			return invalid("media.caption", "too_long", "is %d characters, at most %d", n, MaxCaptionLength)
		}
	}
	if m.Filename != "" {
		if m.Type != "document" {
			return invalid("media.filename", "conflict", "only documents carry a filename")
		}
		if n := utf8.RuneCountInString(m.Filename); n > MaxFilenameLength {
			return invalid("media.filename", "too_long", "is %d characters, at most %d", n, MaxFilenameLength)
		}
	}
	return nil
}

func validateTemplate(t Template) error {
	if t.Name == "" {
		return invalid("template.name", "required", "is required")
	}
	if len(t.Name) > MaxTemplateName || !tmplNamePattern.MatchString(t.Name) {
		return &ValidationError{Field: "template.name", Reason: "pattern", Message: "is not a template name",
			Hint: "Meta's template names are lowercase letters, digits and underscores"}
	}
	if t.Language == "" {
		return &ValidationError{Field: "template.language", Reason: "required", Message: "is required", Hint: templateLangHint}
	}
	if len(t.Language) > 8 || !tmplLangPattern.MatchString(t.Language) {
		return &ValidationError{Field: "template.language", Reason: "pattern", Message: fmt.Sprintf("%q is not a language code", t.Language), Hint: templateLangHint}
	}
	switch t.Category {
	case "", CategoryMarketing, CategoryUtility, CategoryAuthentication:
	default:
		return &ValidationError{Field: "template.category", Reason: "enum", Message: fmt.Sprintf("%q is not a template category", t.Category),
			Hint: "one of marketing, utility, authentication"}
	}
	if len(t.Components) > 0 {
		raw := bytes.TrimSpace(t.Components)
		if len(raw) == 0 || raw[0] != '[' {
			return invalid("template.components", "invalid_type", "must be an array of component objects")
		}
		var comps []json.RawMessage
		if err := json.Unmarshal(raw, &comps); err != nil {
			return invalid("template.components", "invalid_type", "must be an array of component objects")
		}
		if len(comps) > MaxComponents {
			return invalid("template.components", "too_many", "has %d components, at most %d", len(comps), MaxComponents)
		}
		for i, c := range comps {
			c = bytes.TrimSpace(c)
			if len(c) == 0 || c[0] != '{' {
				return invalid(fmt.Sprintf("template.components[%d]", i), "invalid_type", "must be an object")
			}
		}
	}
	return nil
}
