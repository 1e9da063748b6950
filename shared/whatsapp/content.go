package whatsapp

import "strings"

// Content is a message's content flattened into one shape, for forwarding to the assistants
// without a type switch over every message type. Fields that do not apply are empty.
type Content struct {
	// Kind is the message type ("text", "image", ..., or an unrecognised type verbatim).
	Kind string `json:"kind"`
	// Subtype is the interactive type (button_reply, list_reply, nfm_reply,
	// call_permission_reply), the system type, or the type Meta names for an unsupported message.
	Subtype string `json:"subtype,omitempty"`
	// Supported is false for unsupported/unknown messages and unrecognised types.
	Supported bool `json:"supported"`

	// Text is what the user wrote or chose: text body, button text, reply title, flow body,
	// order note, system notice, call permission response.
	Text string `json:"text,omitempty"`
	// Caption is the caption of an image, video or document.
	Caption string `json:"caption,omitempty"`

	MediaID  string `json:"media_id,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Filename string `json:"filename,omitempty"`
	// Link is a media download URL when the payload carries one.
	Link     string `json:"link,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
	Animated bool   `json:"animated,omitempty"`

	Location *Location     `json:"location,omitempty"`
	Contacts []ContactCard `json:"contacts,omitempty"`
	Order    *Order        `json:"order,omitempty"`

	// ReplyID is the id of a chosen reply button or list row, or a quick-reply button payload.
	ReplyID string `json:"reply_id,omitempty"`
	// Description is the description of a chosen list row.
	Description string `json:"description,omitempty"`
	// FlowName and FlowResponseJSON describe a completed WhatsApp Flow.
	FlowName         string `json:"flow_name,omitempty"`
	FlowResponseJSON string `json:"flow_response_json,omitempty"`
	// Emoji is a reaction; empty with Kind "reaction" means the reaction was removed.
	Emoji string `json:"emoji,omitempty"`
	// TargetMessageID is the message a reaction, revoke or edit refers to.
	TargetMessageID string `json:"target_message_id,omitempty"`
}

// Content returns the message's content in one flat shape. It never fails: a missing content
// object gives a Content with only Kind set.
func (m *Message) Content() Content {
	c := Content{Kind: m.Type, Supported: KnownMessageType(m.Type)}
	media := func(md *Media) {
		if md == nil {
			return
		}
		c.MediaID, c.MimeType, c.SHA256, c.Filename = md.ID, md.MimeType, md.SHA256, md.Filename
		c.Caption, c.Link, c.Voice, c.Animated = md.Caption, md.URL, md.Voice, md.Animated
	}
	switch m.Type {
	case MessageTypeText:
		if m.Text != nil {
			c.Text = m.Text.Body
		}
	case MessageTypeImage:
		media(m.Image)
	case MessageTypeVideo:
		media(m.Video)
	case MessageTypeAudio:
		media(m.Audio)
	case MessageTypeDocument:
		media(m.Document)
	case MessageTypeSticker:
		media(m.Sticker)
	case MessageTypeLocation:
		c.Location = m.Location
	case MessageTypeContacts:
		c.Contacts = m.Contacts
	case MessageTypeInteractive:
		if i := m.Interactive; i != nil {
			c.Subtype = i.Type
			switch {
			case i.ButtonReply != nil:
				c.ReplyID, c.Text = i.ButtonReply.ID, i.ButtonReply.Title
			case i.ListReply != nil:
				c.ReplyID, c.Text, c.Description = i.ListReply.ID, i.ListReply.Title, i.ListReply.Description
			case i.NFMReply != nil:
				c.Text, c.FlowName, c.FlowResponseJSON = i.NFMReply.Body, i.NFMReply.Name, i.NFMReply.ResponseJSON
			case i.CallPermissionReply != nil:
				c.Text = i.CallPermissionReply.Response
			}
		}
	case MessageTypeButton:
		if m.Button != nil {
			c.Text, c.ReplyID = m.Button.Text, m.Button.Payload
		}
	case MessageTypeReaction:
		if m.Reaction != nil {
			c.Emoji, c.TargetMessageID = m.Reaction.Emoji, m.Reaction.MessageID
		}
	case MessageTypeOrder:
		if m.Order != nil {
			c.Order, c.Text = m.Order, m.Order.Text
		}
	case MessageTypeSystem:
		if m.System != nil {
			c.Subtype, c.Text = m.System.Type, m.System.Body
		}
	case MessageTypeUnsupported, MessageTypeUnknown:
		c.Supported = false
		if m.Unsupported != nil {
			c.Subtype = m.Unsupported.Type
		}
	case MessageTypeRevoke:
		if m.Revoke != nil {
			c.TargetMessageID = m.Revoke.OriginalMessageID
		}
	case MessageTypeEdit:
		if m.Edit != nil {
			c.TargetMessageID = m.Edit.OriginalMessageID
		}
	}
	return c
}

// HasFreeEntryReferral reports whether the message came through a Click-to-WhatsApp ad or post
// (referral with source_type "ad"/"post", or a ctwa_clid): the free-entry-point signal.
func (m *Message) HasFreeEntryReferral() bool {
	r := m.Referral
	if r == nil {
		return false
	}
	if r.CtwaClid != "" {
		return true
	}
	return strings.EqualFold(r.SourceType, "ad") || strings.EqualFold(r.SourceType, "post")
}

// IsReply reports whether the message replies to (or taps a button of) an earlier message.
func (m *Message) IsReply() bool { return m.Context != nil && m.Context.ID != "" }
