package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Message types Meta accepts in Message.Type (open: others pass through with Payload).
const (
	TypeText        = "text"
	TypeImage       = "image"
	TypeVideo       = "video"
	TypeAudio       = "audio"
	TypeDocument    = "document"
	TypeSticker     = "sticker"
	TypeTemplate    = "template"
	TypeInteractive = "interactive"
	TypeReaction    = "reaction"
	TypeLocation    = "location"
	TypeContacts    = "contacts"
)

// MaxTextBody is Meta's limit on a text message body, in characters.
const MaxTextBody = 4096

// Message is the body of POST /{phone-number-id}/messages. messaging_product ("whatsapp") and
// recipient_type ("individual") are always sent. Set exactly one payload matching Type; when
// Type is empty it is inferred from the payload that is set.
type Message struct {
	// To is the recipient's phone number, E.164 ("+16505551234") or wa_id digits.
	To string
	// Recipient is the recipient's business-scoped user id (BSUID), omitted when empty. When both
	// are set Meta uses To.
	Recipient string
	Type      string

	Text     *Text
	Image    *Media
	Video    *Media
	Audio    *Media
	Document *Media
	Sticker  *Media
	Template *Template
	// Payload is the object for any other Type (interactive, reaction, location, contacts, …),
	// sent verbatim under the key named by Type.
	Payload json.RawMessage

	// Context makes the message a reply to an earlier one.
	Context *Context
	// BizOpaqueCallbackData comes back on every status webhook of this message (≤ 512 chars).
	BizOpaqueCallbackData string
}

// Text is a text payload.
type Text struct {
	Body       string
	PreviewURL bool
}

// Media is an image, video, audio, document or sticker payload: an uploaded media ID or a public
// Link. Caption does not apply to audio and stickers; Filename only to documents.
type Media struct {
	ID       string
	Link     string
	Caption  string
	Filename string
}

// Template is a template payload. Components is Meta's components array, passed verbatim.
type Template struct {
	Name       string
	Language   Language
	Components json.RawMessage
}

// Language selects a template translation. Policy defaults to "deterministic", the only one Meta accepts.
type Language struct {
	Code   string
	Policy string
}

// Context refers to the message being replied to.
type Context struct {
	MessageID string
}

// SendResult is Meta's synchronous answer. A wamid is not delivery: failures such as 131047 or
// 131026 often arrive later on a status webhook.
type SendResult struct {
	WAMID string
	// MessageStatus is "accepted", "held_for_quality_assessment", "paused", or empty when absent.
	MessageStatus string
	// ContactWaID is the recipient's wa_id as Meta resolved it (may differ from the input).
	ContactWaID string
	// ContactUserID is the recipient's BSUID when Meta returns one.
	ContactUserID string
	// ContactInput echoes the recipient as sent.
	ContactInput string
}

type wireText struct {
	PreviewURL bool   `json:"preview_url"`
	Body       string `json:"body"`
}

type wireMedia struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type wireLanguage struct {
	Code   string `json:"code"`
	Policy string `json:"policy"`
}

type wireTemplate struct {
	Name       string          `json:"name"`
	Language   wireLanguage    `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

type wireContext struct {
	MessageID string `json:"message_id"`
}

type wireMessage struct {
	MessagingProduct      string          `json:"messaging_product"`
	RecipientType         string          `json:"recipient_type"`
	To                    string          `json:"to,omitempty"`
	Recipient             string          `json:"recipient,omitempty"`
	Type                  string          `json:"type"`
	Context               *wireContext    `json:"context,omitempty"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
	Text                  *wireText       `json:"text,omitempty"`
	Image                 *wireMedia      `json:"image,omitempty"`
	Video                 *wireMedia      `json:"video,omitempty"`
	Audio                 *wireMedia      `json:"audio,omitempty"`
	Document              *wireMedia      `json:"document,omitempty"`
	Sticker               *wireMedia      `json:"sticker,omitempty"`
	Template              *wireTemplate   `json:"template,omitempty"`
	Interactive           json.RawMessage `json:"interactive,omitempty"`
	Reaction              json.RawMessage `json:"reaction,omitempty"`
	Location              json.RawMessage `json:"location,omitempty"`
	Contacts              json.RawMessage `json:"contacts,omitempty"`
}

// payloadCount counts the typed payloads set, to refuse ambiguous messages.
func (m Message) payloadCount() int {
	n := 0
	for _, set := range []bool{m.Text != nil, m.Image != nil, m.Video != nil, m.Audio != nil,
		m.Document != nil, m.Sticker != nil, m.Template != nil, len(m.Payload) > 0} {
		if set {
			n++
		}
	}
	return n
}

// inferType names the type of the single payload that is set.
func (m Message) inferType() string {
	switch {
	case m.Text != nil:
		return TypeText
	case m.Image != nil:
		return TypeImage
	case m.Video != nil:
		return TypeVideo
	case m.Audio != nil:
		return TypeAudio
	case m.Document != nil:
		return TypeDocument
	case m.Sticker != nil:
		return TypeSticker
	case m.Template != nil:
		return TypeTemplate
	}
	return ""
}

func media(m *Media) *wireMedia {
	if m == nil {
		return nil
	}
	return &wireMedia{ID: m.ID, Link: m.Link, Caption: m.Caption, Filename: m.Filename}
}

// Validate checks what the client can check without Meta: a recipient, one payload matching
// Type, the text length, media and template essentials. Errors wrap ErrInvalidRequest.
func (m Message) Validate() error {
	if m.To == "" && m.Recipient == "" {
		return fmt.Errorf("message: no recipient (to or recipient): %w", ErrInvalidRequest)
	}
	if m.payloadCount() != 1 {
		return fmt.Errorf("message: want exactly one payload, have %d: %w", m.payloadCount(), ErrInvalidRequest)
	}
	typ := m.Type
	if typ == "" {
		typ = m.inferType()
		if typ == "" {
			return fmt.Errorf("message: Payload needs an explicit Type: %w", ErrInvalidRequest)
		}
	}
	var want *Media
	switch typ {
	case TypeText:
		if m.Text == nil || m.Text.Body == "" {
			return fmt.Errorf("message: text needs a body: %w", ErrInvalidRequest)
		}
		if n := len([]rune(m.Text.Body)); n > MaxTextBody {
			return fmt.Errorf("message: text body is %d characters, max %d: %w", n, MaxTextBody, ErrInvalidRequest)
		}
		return nil
	case TypeTemplate:
		if m.Template == nil || m.Template.Name == "" || m.Template.Language.Code == "" {
			return fmt.Errorf("message: template needs a name and a language code: %w", ErrInvalidRequest)
		}
		return nil
	case TypeImage:
		want = m.Image
	case TypeVideo:
		want = m.Video
	case TypeAudio:
		want = m.Audio
	case TypeDocument:
		want = m.Document
	case TypeSticker:
		want = m.Sticker
	default:
		if len(m.Payload) == 0 {
			return fmt.Errorf("message: type %q needs Payload: %w", typ, ErrInvalidRequest)
		}
		return nil
	}
	if want == nil {
		return fmt.Errorf("message: type %q without its payload: %w", typ, ErrInvalidRequest)
	}
	if want.ID == "" && want.Link == "" {
		return fmt.Errorf("message: %s needs a media id or a link: %w", typ, ErrInvalidRequest)
	}
	return nil
}

// MarshalJSON renders Meta's send body.
func (m Message) MarshalJSON() ([]byte, error) {
	w := wireMessage{
		MessagingProduct:      "whatsapp",
		RecipientType:         "individual",
		To:                    m.To,
		Recipient:             m.Recipient,
		Type:                  m.Type,
		BizOpaqueCallbackData: m.BizOpaqueCallbackData,
		Image:                 media(m.Image),
		Video:                 media(m.Video),
		Audio:                 media(m.Audio),
		Document:              media(m.Document),
		Sticker:               media(m.Sticker),
	}
	if w.Type == "" {
		w.Type = m.inferType()
	}
	if m.Context != nil && m.Context.MessageID != "" {
		w.Context = &wireContext{MessageID: m.Context.MessageID}
	}
	if m.Text != nil {
		w.Text = &wireText{PreviewURL: m.Text.PreviewURL, Body: m.Text.Body}
	}
	if t := m.Template; t != nil {
		policy := t.Language.Policy
		if policy == "" {
			policy = "deterministic"
		}
		w.Template = &wireTemplate{Name: t.Name, Language: wireLanguage{Code: t.Language.Code, Policy: policy}, Components: t.Components}
	}
	if len(m.Payload) > 0 {
		switch w.Type {
		case TypeInteractive:
			w.Interactive = m.Payload
		case TypeReaction:
			w.Reaction = m.Payload
		case TypeLocation:
			w.Location = m.Payload
		case TypeContacts:
			w.Contacts = m.Payload
		default:
			return marshalWithKey(w, m.Type, m.Payload)
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads Meta's send body back (queue payloads, fixtures): the inverse of
// MarshalJSON, except that a template language's empty Policy comes back as "deterministic".
func (m *Message) UnmarshalJSON(b []byte) error {
	var w wireMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Message{To: w.To, Recipient: w.Recipient, Type: w.Type, BizOpaqueCallbackData: w.BizOpaqueCallbackData,
		Image: unmedia(w.Image), Video: unmedia(w.Video), Audio: unmedia(w.Audio), Document: unmedia(w.Document),
		Sticker: unmedia(w.Sticker)}
	if w.Context != nil {
		m.Context = &Context{MessageID: w.Context.MessageID}
	}
	if w.Text != nil {
		m.Text = &Text{Body: w.Text.Body, PreviewURL: w.Text.PreviewURL}
	}
	if t := w.Template; t != nil {
		m.Template = &Template{Name: t.Name, Language: Language{Code: t.Language.Code, Policy: t.Language.Policy}, Components: t.Components}
	}
	for _, raw := range []json.RawMessage{w.Interactive, w.Reaction, w.Location, w.Contacts} {
		if len(raw) > 0 {
			m.Payload = raw
		}
	}
	if m.payloadCount() == 0 && w.Type != "" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		m.Payload = obj[w.Type]
	}
	return nil
}

func unmedia(w *wireMedia) *Media {
	if w == nil {
		return nil
	}
	return &Media{ID: w.ID, Link: w.Link, Caption: w.Caption, Filename: w.Filename}
}

// marshalWithKey renders w plus one extra key, for types this package does not name.
func marshalWithKey(w wireMessage, key string, v json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	obj[key] = v
	return json.Marshal(obj)
}

type wireSendResponse struct {
	Contacts []struct {
		Input  string     `json:"input"`
		WaID   flexString `json:"wa_id"`
		UserID string     `json:"user_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// SendMessage sends m from the phone number phoneNumberID. An error is a *Error, a
// *TransportError, or wraps ErrInvalidRequest / ErrUnexpectedResponse; use Classify.
func (c *Client) SendMessage(ctx context.Context, phoneNumberID string, m Message) (SendResult, error) {
	if err := m.Validate(); err != nil {
		return SendResult{}, fmt.Errorf("send message: %w", err)
	}
	var out wireSendResponse
	if err := c.do(ctx, http.MethodPost, phoneNumberID, "messages", nil, m, &out); err != nil {
		return SendResult{}, fmt.Errorf("send message: %w", err)
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		return SendResult{}, fmt.Errorf("send message: answer has no message id: %w", ErrUnexpectedResponse)
	}
	res := SendResult{WAMID: out.Messages[0].ID, MessageStatus: out.Messages[0].MessageStatus}
	if len(out.Contacts) > 0 {
		res.ContactWaID = string(out.Contacts[0].WaID)
		res.ContactUserID = out.Contacts[0].UserID
		res.ContactInput = out.Contacts[0].Input
	}
	return res, nil
}
