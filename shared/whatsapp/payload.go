package whatsapp

import "encoding/json"

// ObjectWhatsAppBusinessAccount is the only Notification.Object this package accepts.
const ObjectWhatsAppBusinessAccount = "whatsapp_business_account"

// Notification is the envelope of one webhook POST. One POST may aggregate many updates across
// entries and changes; each change is decoded separately (Change.Decode) so that one bad change
// never loses the others.
type Notification struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry groups the changes of one WhatsApp Business Account.
type Entry struct {
	// ID is the WABA id.
	ID ID `json:"id"`
	// Time is set on management fields (integer seconds); zero on messages.
	Time    UnixTime `json:"time,omitempty"`
	Changes []Change `json:"changes"`
}

// Change is one update: Field names its kind and Value is kept raw until Decode (or decoded
// already, by DecodeNotification).
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
	// decoded is the value DecodeNotification decoded with the envelope (Value is then nil).
	decoded any
}

// Metadata identifies the business phone number a messages or user_preferences value is for.
type Metadata struct {
	// DisplayPhoneNumber is usually bare digits ("15550783881"), sometimes formatted.
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      ID     `json:"phone_number_id"`
}

// Contact is a customer as listed in value.contacts[] (and statuses[].contacts[]).
type Contact struct {
	Profile Profile `json:"profile"`
	// WaID is the phone number digits; optional since usernames (2026).
	WaID string `json:"wa_id,omitempty"`
	// UserID is the business-scoped user id (BSUID), e.g. "US.13491208655302741918".
	UserID string `json:"user_id,omitempty"`
	// ParentUserID is the parent BSUID shared across linked portfolios ("US.ENT.…").
	ParentUserID string `json:"parent_user_id,omitempty"`
}

// Profile is the customer's WhatsApp profile.
type Profile struct {
	Name     string `json:"name,omitempty"`
	Username string `json:"username,omitempty"`
}

// ErrorInfo is an error object as found in value.errors[], messages[].errors[] and
// statuses[].errors[] (e.g. code 131047 "Re-engagement message").
type ErrorInfo struct {
	Code      FlexInt    `json:"code"`
	Title     string     `json:"title,omitempty"`
	Message   string     `json:"message,omitempty"`
	ErrorData *ErrorData `json:"error_data,omitempty"`
	Href      string     `json:"href,omitempty"`
	// LegacyDetails is the top-level "details" of older payloads; use Details.
	LegacyDetails string `json:"details,omitempty"`
}

// ErrorData carries the human-readable details of an ErrorInfo.
type ErrorData struct {
	Details string `json:"details,omitempty"`
}

// Details returns error_data.details, falling back to the legacy top-level details.
func (e ErrorInfo) Details() string {
	if e.ErrorData != nil && e.ErrorData.Details != "" {
		return e.ErrorData.Details
	}
	return e.LegacyDetails
}

// MessagesValue is the value of the "messages" field: inbound messages, statuses of outbound
// messages, or out-of-band errors (value.errors with neither messages nor statuses).
type MessagesValue struct {
	MessagingProduct string      `json:"messaging_product,omitempty"`
	Metadata         Metadata    `json:"metadata"`
	Contacts         []Contact   `json:"contacts,omitempty"`
	Messages         []Message   `json:"messages,omitempty"`
	Statuses         []Status    `json:"statuses,omitempty"`
	Errors           []ErrorInfo `json:"errors,omitempty"`
}

// Message types, as found in Message.Type.
const (
	MessageTypeText           = "text"
	MessageTypeImage          = "image"
	MessageTypeVideo          = "video"
	MessageTypeAudio          = "audio"
	MessageTypeDocument       = "document"
	MessageTypeSticker        = "sticker"
	MessageTypeLocation       = "location"
	MessageTypeContacts       = "contacts"
	MessageTypeInteractive    = "interactive"
	MessageTypeButton         = "button"
	MessageTypeReaction       = "reaction"
	MessageTypeOrder          = "order"
	MessageTypeSystem         = "system"
	MessageTypeUnsupported    = "unsupported"
	MessageTypeUnknown        = "unknown" // older name of "unsupported"
	MessageTypeRequestWelcome = "request_welcome"
	MessageTypeRevoke         = "revoke"
	MessageTypeEdit           = "edit"
)

// MessageTypes lists every Message.Type this package decodes into a typed field. Other types
// decode too, with Message.Raw holding the message JSON.
var MessageTypes = []string{
	MessageTypeText, MessageTypeImage, MessageTypeVideo, MessageTypeAudio, MessageTypeDocument,
	MessageTypeSticker, MessageTypeLocation, MessageTypeContacts, MessageTypeInteractive,
	MessageTypeButton, MessageTypeReaction, MessageTypeOrder, MessageTypeSystem,
	MessageTypeUnsupported, MessageTypeUnknown, MessageTypeRequestWelcome, MessageTypeRevoke,
	MessageTypeEdit,
}

// Message is one inbound message. Exactly one content field matches Type (none for
// request_welcome, unsupported and unknown types).
type Message struct {
	// From is the sender's wa_id (digits) or, for users with a username and no recent exchange,
	// their BSUID ("US.1234…"). Optional. Use Customer for a normalised identity.
	From             string `json:"from,omitempty"`
	FromUserID       string `json:"from_user_id,omitempty"`
	FromParentUserID string `json:"from_parent_user_id,omitempty"`
	// ID is the wamid: the dedupe key for inbound messages.
	ID        string   `json:"id"`
	Timestamp UnixTime `json:"timestamp"`
	Type      string   `json:"type"`
	// GroupID is set on group messages.
	GroupID  string          `json:"group_id,omitempty"`
	Context  *MessageContext `json:"context,omitempty"`
	Referral *Referral       `json:"referral,omitempty"`
	Errors   []ErrorInfo     `json:"errors,omitempty"`

	Text        *Text         `json:"text,omitempty"`
	Image       *Media        `json:"image,omitempty"`
	Video       *Media        `json:"video,omitempty"`
	Audio       *Media        `json:"audio,omitempty"`
	Document    *Media        `json:"document,omitempty"`
	Sticker     *Media        `json:"sticker,omitempty"`
	Location    *Location     `json:"location,omitempty"`
	Contacts    []ContactCard `json:"contacts,omitempty"`
	Interactive *Interactive  `json:"interactive,omitempty"`
	Button      *Button       `json:"button,omitempty"`
	Reaction    *Reaction     `json:"reaction,omitempty"`
	Order       *Order        `json:"order,omitempty"`
	System      *System       `json:"system,omitempty"`
	Unsupported *Unsupported  `json:"unsupported,omitempty"`
	Revoke      *MessageRef   `json:"revoke,omitempty"`
	Edit        *MessageRef   `json:"edit,omitempty"`

	// Vcard and Origin accompany "contacts" messages; sources disagree on whether they sit on the
	// message or on each card, so both places are decoded. Origin's shape is unconfirmed.
	Vcard  string          `json:"vcard,omitempty"`
	Origin json.RawMessage `json:"origin,omitempty"`

	// Raw is the message JSON, set only when Type is not in MessageTypes, so that new types can
	// be stored and reported instead of dropped.
	Raw json.RawMessage `json:"-"`
}

// MessageContext is set on replies, forwarded messages, product enquiries and button taps.
type MessageContext struct {
	// From is the business number the original message came from.
	From string `json:"from,omitempty"`
	// ID is the wamid of the message replied to.
	ID                  string           `json:"id,omitempty"`
	Forwarded           bool             `json:"forwarded,omitempty"`
	FrequentlyForwarded bool             `json:"frequently_forwarded,omitempty"`
	ReferredProduct     *ReferredProduct `json:"referred_product,omitempty"`
}

// ReferredProduct is the catalogue item a message was sent from.
type ReferredProduct struct {
	CatalogID         ID `json:"catalog_id,omitempty"`
	ProductRetailerID ID `json:"product_retailer_id,omitempty"`
}

// Referral is set when the user came from a Click-to-WhatsApp ad or a Facebook/Instagram post:
// the free-entry-point signal.
type Referral struct {
	SourceURL      string          `json:"source_url,omitempty"`
	SourceID       string          `json:"source_id,omitempty"`
	SourceType     string          `json:"source_type,omitempty"`
	Body           string          `json:"body,omitempty"`
	Headline       string          `json:"headline,omitempty"`
	MediaType      string          `json:"media_type,omitempty"`
	ImageURL       string          `json:"image_url,omitempty"`
	VideoURL       string          `json:"video_url,omitempty"`
	ThumbnailURL   string          `json:"thumbnail_url,omitempty"`
	CtwaClid       string          `json:"ctwa_clid,omitempty"`
	WelcomeMessage *WelcomeMessage `json:"welcome_message,omitempty"`
}

// WelcomeMessage is the ad's prefilled greeting.
type WelcomeMessage struct {
	Text string `json:"text,omitempty"`
}

// Text is the content of a text message.
type Text struct {
	Body string `json:"body"`
}

// Media is the content of image, video, audio, document and sticker messages. Media ids expire;
// download promptly.
type Media struct {
	ID       string `json:"id,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	// URL is a download URL some newer payloads include.
	URL string `json:"url,omitempty"`
	// Voice is set on voice notes (audio).
	Voice bool `json:"voice,omitempty"`
	// Animated is set on animated stickers.
	Animated bool `json:"animated,omitempty"`
}

// Location is a shared location.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

// ContactCard is one shared contact of a "contacts" message.
type ContactCard struct {
	Name      ContactName      `json:"name"`
	Phones    []ContactPhone   `json:"phones,omitempty"`
	Emails    []ContactEmail   `json:"emails,omitempty"`
	Org       *ContactOrg      `json:"org,omitempty"`
	URLs      []ContactURL     `json:"urls,omitempty"`
	Addresses []ContactAddress `json:"addresses,omitempty"`
	Birthday  string           `json:"birthday,omitempty"`
	Vcard     string           `json:"vcard,omitempty"`
	Origin    json.RawMessage  `json:"origin,omitempty"`
}

// ContactName is the name of a shared contact.
type ContactName struct {
	FormattedName string `json:"formatted_name,omitempty"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// ContactPhone is a phone number of a shared contact; WaID is set when it is on WhatsApp.
type ContactPhone struct {
	Phone string `json:"phone,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactEmail is an email address of a shared contact.
type ContactEmail struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactOrg is the organisation of a shared contact.
type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// ContactURL is a web address of a shared contact.
type ContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// ContactAddress is a postal address of a shared contact.
type ContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Interactive subtypes, as found in Interactive.Type.
const (
	InteractiveButtonReply         = "button_reply"
	InteractiveListReply           = "list_reply"
	InteractiveNFMReply            = "nfm_reply"
	InteractiveCallPermissionReply = "call_permission_reply"
)

// Interactive is the user's answer to an interactive message.
type Interactive struct {
	Type                string               `json:"type"`
	ButtonReply         *ReplyButton         `json:"button_reply,omitempty"`
	ListReply           *ListReply           `json:"list_reply,omitempty"`
	NFMReply            *NFMReply            `json:"nfm_reply,omitempty"`
	CallPermissionReply *CallPermissionReply `json:"call_permission_reply,omitempty"`
}

// ReplyButton is a tapped reply button.
type ReplyButton struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
}

// ListReply is a chosen list row.
type ListReply struct {
	ID          string `json:"id"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// NFMReply is a WhatsApp Flow completion; ResponseJSON is a JSON document encoded as a string.
type NFMReply struct {
	Name         string `json:"name,omitempty"`
	Body         string `json:"body,omitempty"`
	ResponseJSON string `json:"response_json,omitempty"`
}

// CallPermissionReply is the user's answer to a call permission request.
type CallPermissionReply struct {
	// Response is "accept" or "reject".
	Response            string   `json:"response"`
	ExpirationTimestamp UnixTime `json:"expiration_timestamp,omitempty"`
	ResponseSource      string   `json:"response_source,omitempty"`
	IsPermanent         bool     `json:"is_permanent,omitempty"`
}

// Button is a tap on a template quick-reply button (comes with Context).
type Button struct {
	Payload string `json:"payload,omitempty"`
	Text    string `json:"text,omitempty"`
}

// Reaction is an emoji reaction; an empty Emoji means the reaction was removed.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji,omitempty"`
}

// Order is a cart sent from a catalogue.
type Order struct {
	CatalogID    ID            `json:"catalog_id,omitempty"`
	Text         string        `json:"text,omitempty"`
	ProductItems []ProductItem `json:"product_items,omitempty"`
}

// ProductItem is one line of an Order. ItemPrice keeps its decimal text to avoid float rounding.
type ProductItem struct {
	ProductRetailerID ID          `json:"product_retailer_id,omitempty"`
	Quantity          FlexInt     `json:"quantity,omitempty"`
	ItemPrice         json.Number `json:"item_price,omitempty"`
	Currency          string      `json:"currency,omitempty"`
}

// System types, as found in System.Type.
const (
	SystemUserChangedNumber = "user_changed_number"
	SystemUserChangedUserID = "user_changed_user_id"
)

// System is a system message: the user changed number or BSUID. It comes without contacts.
type System struct {
	Body string `json:"body,omitempty"`
	// Type is "user_changed_number" or "user_changed_user_id".
	Type string `json:"type,omitempty"`
	// WaID is the new phone number digits (user_changed_number).
	WaID string `json:"wa_id,omitempty"`
	// NewWaID is the older spelling of WaID.
	NewWaID              string `json:"new_wa_id,omitempty"`
	UserID               string `json:"user_id,omitempty"`
	ParentUserID         string `json:"parent_user_id,omitempty"`
	PreviousUserID       string `json:"previous_user_id,omitempty"`
	PreviousParentUserID string `json:"previous_parent_user_id,omitempty"`
	Identity             string `json:"identity,omitempty"`
	Customer             string `json:"customer,omitempty"`
}

// NewPhoneWaID returns the new number's wa_id under either spelling.
func (s *System) NewPhoneWaID() string {
	if s.WaID != "" {
		return s.WaID
	}
	return s.NewWaID
}

// Unsupported describes an unsupported message, when Meta says which type it was.
type Unsupported struct {
	Type string `json:"type,omitempty"`
}

// MessageRef points at an earlier message (revoke and edit, coexistence numbers only).
type MessageRef struct {
	OriginalMessageID string `json:"original_message_id"`
}

// Status values, as found in Status.Status.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusPlayed    = "played"
	StatusFailed    = "failed"
)

// Status is a status update of an outbound message. Dedupe by (ID, Status); order by Timestamp
// and precedence, never arrival.
type Status struct {
	// ID is the wamid of the outbound message.
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	Timestamp UnixTime `json:"timestamp"`
	// RecipientID is the recipient's wa_id; optional since usernames.
	RecipientID     string `json:"recipient_id,omitempty"`
	RecipientUserID string `json:"recipient_user_id,omitempty"`
	// RecipientParentUserID is also filled from the "parent_recipient_user_id" spelling.
	RecipientParentUserID    string `json:"recipient_parent_user_id,omitempty"`
	RecipientType            string `json:"recipient_type,omitempty"`
	RecipientParticipantID   string `json:"recipient_participant_id,omitempty"`
	RecipientIdentityKeyHash string `json:"recipient_identity_key_hash,omitempty"`
	// BizOpaqueCallbackData is echoed from the send request: use it to correlate.
	BizOpaqueCallbackData string        `json:"biz_opaque_callback_data,omitempty"`
	Errors                []ErrorInfo   `json:"errors,omitempty"`
	Pricing               *Pricing      `json:"pricing,omitempty"`
	Conversation          *Conversation `json:"conversation,omitempty"`
	// Contacts is present on sent/delivered/read since 2026, absent on failed.
	Contacts []Contact `json:"contacts,omitempty"`
}

// Pricing is the billing of a status. All strings are open sets.
type Pricing struct {
	Billable bool `json:"billable"`
	// PricingModel is "CBP" (before 2025-07-01) or "PMP".
	PricingModel string `json:"pricing_model,omitempty"`
	// Type is "regular", "free_customer_service", "free_entry_point", ...
	Type string `json:"type,omitempty"`
	// Category is "marketing", "utility", "authentication", "service", ...
	Category string `json:"category,omitempty"`
}

// Conversation is the legacy conversation object (v24+ only inside free entry point windows).
type Conversation struct {
	ID                  string              `json:"id,omitempty"`
	ExpirationTimestamp UnixTime            `json:"expiration_timestamp,omitempty"`
	Origin              *ConversationOrigin `json:"origin,omitempty"`
}

// ConversationOrigin says what opened the conversation.
type ConversationOrigin struct {
	Type string `json:"type,omitempty"`
}

// PhoneNumberQualityUpdate is the value of "phone_number_quality_update". Events: ONBOARDING,
// THROUGHPUT_UPGRADE, and legacy DOWNGRADE, FLAGGED, UNFLAGGED, UPGRADE. It no longer reports
// quality colours.
type PhoneNumberQualityUpdate struct {
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	Event              string `json:"event"`
	// CurrentLimit and OldLimit are legacy (removed February 2026).
	CurrentLimit                     Tier `json:"current_limit,omitempty"`
	OldLimit                         Tier `json:"old_limit,omitempty"`
	MaxDailyConversationsPerBusiness Tier `json:"max_daily_conversations_per_business,omitempty"`
}

// Limit returns the portfolio limit, falling back to the legacy current_limit.
func (u *PhoneNumberQualityUpdate) Limit() Tier {
	if u.MaxDailyConversationsPerBusiness != TierNone {
		return u.MaxDailyConversationsPerBusiness
	}
	return u.CurrentLimit
}

// BusinessCapabilityUpdate is the value of "business_capability_update": the portfolio's
// messaging limit.
type BusinessCapabilityUpdate struct {
	MaxDailyConversationsPerBusiness Tier `json:"max_daily_conversations_per_business,omitempty"`
	// MaxDailyConversationPerPhone is the legacy per-number limit (-1 = unlimited).
	MaxDailyConversationPerPhone Tier    `json:"max_daily_conversation_per_phone,omitempty"`
	MaxPhoneNumbersPerWABA       FlexInt `json:"max_phone_numbers_per_waba,omitempty"`
	MaxPhoneNumbersPerBusiness   FlexInt `json:"max_phone_numbers_per_business,omitempty"`
}

// Limit returns the portfolio limit, falling back to the legacy per-phone limit.
func (u *BusinessCapabilityUpdate) Limit() Tier {
	if u.MaxDailyConversationsPerBusiness != TierNone {
		return u.MaxDailyConversationsPerBusiness
	}
	return u.MaxDailyConversationPerPhone
}

// Account update events and ban states (open sets: see the reference for the full list).
const (
	AccountEventDisabledUpdate     = "DISABLED_UPDATE"
	AccountEventAccountDeleted     = "ACCOUNT_DELETED"
	AccountEventAccountRestriction = "ACCOUNT_RESTRICTION"
	AccountEventAccountViolation   = "ACCOUNT_VIOLATION"

	BanStateScheduleForDisable = "SCHEDULE_FOR_DISABLE"
	BanStateDisable            = "DISABLE"
	BanStateReinstate          = "REINSTATE"
)

// AccountUpdate is the value of "account_update".
type AccountUpdate struct {
	Event string `json:"event"`
	// PhoneNumber is added by some partners on violation/restriction events.
	PhoneNumber       ID                 `json:"phone_number,omitempty"`
	BanInfo           *BanInfo           `json:"ban_info,omitempty"`
	RestrictionInfo   []Restriction      `json:"restriction_info,omitempty"`
	ViolationInfo     *ViolationInfo     `json:"violation_info,omitempty"`
	DisconnectionInfo *DisconnectionInfo `json:"disconnection_info,omitempty"`
	WABAInfo          *WABAInfo          `json:"waba_info,omitempty"`
	// Country is set on BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE.
	Country string `json:"country,omitempty"`
}

// BanInfo describes a DISABLED_UPDATE.
type BanInfo struct {
	// WABABanState is SCHEDULE_FOR_DISABLE, DISABLE or REINSTATE (a list in old docs); use State.
	WABABanState StringList `json:"waba_ban_state,omitempty"`
	// WABABanDate is human-readable ("April 17, 2025").
	WABABanDate string `json:"waba_ban_date,omitempty"`
}

// State returns the ban state.
func (b *BanInfo) State() string { return b.WABABanState.First() }

// Restriction is one entry of restriction_info.
type Restriction struct {
	RestrictionType string     `json:"restriction_type"`
	Expiration      Expiration `json:"expiration"`
}

// ViolationInfo names the policy violated.
type ViolationInfo struct {
	ViolationType string `json:"violation_type,omitempty"`
}

// DisconnectionInfo explains a PARTNER_REMOVED.
type DisconnectionInfo struct {
	Reason      string `json:"reason,omitempty"`
	InitiatedBy string `json:"initiated_by,omitempty"`
}

// WABAInfo accompanies partner and onboarding events.
type WABAInfo struct {
	WABAID                     ID   `json:"waba_id,omitempty"`
	OwnerBusinessID            ID   `json:"owner_business_id,omitempty"`
	PartnerAppID               ID   `json:"partner_app_id,omitempty"`
	SolutionID                 ID   `json:"solution_id,omitempty"`
	SolutionPartnerBusinessIDs []ID `json:"solution_partner_business_ids,omitempty"`
	AdAccountLinked            ID   `json:"ad_account_linked,omitempty"`
}

// AccountReviewUpdate is the value of "account_review_update".
type AccountReviewUpdate struct {
	// Decision is APPROVED, REJECTED, PENDING or DEFERRED.
	Decision string `json:"decision"`
}

// AccountAlerts is the value of "account_alerts" (denied limit increases arrive here).
type AccountAlerts struct {
	EntityType string    `json:"entity_type,omitempty"`
	EntityID   ID        `json:"entity_id,omitempty"`
	AlertInfo  AlertInfo `json:"alert_info"`
}

// AlertInfo describes an account alert.
type AlertInfo struct {
	AlertSeverity    string `json:"alert_severity,omitempty"`
	AlertStatus      string `json:"alert_status,omitempty"`
	AlertType        string `json:"alert_type,omitempty"`
	AlertDescription string `json:"alert_description,omitempty"`
}

// Template status events (open set).
const (
	TemplateApproved   = "APPROVED"
	TemplateRejected   = "REJECTED"
	TemplatePaused     = "PAUSED"
	TemplateDisabled   = "DISABLED"
	TemplateReinstated = "REINSTATED"
)

// MessageTemplateStatusUpdate is the value of "message_template_status_update".
type MessageTemplateStatusUpdate struct {
	Event      string `json:"event"`
	TemplateID ID     `json:"message_template_id"`
	Name       string `json:"message_template_name,omitempty"`
	Language   string `json:"message_template_language,omitempty"`
	// Reason is "NONE", a rejection reason, or null.
	Reason      NullString   `json:"reason,omitempty"`
	Category    string       `json:"message_template_category,omitempty"`
	OtherInfo   *OtherInfo   `json:"other_info,omitempty"`
	DisableInfo *DisableInfo `json:"disable_info,omitempty"`
}

// DisableInfo says when a template was disabled.
type DisableInfo struct {
	DisableDate string `json:"disable_date,omitempty"`
}

// OtherInfo explains a pause or lock ("FIRST_PAUSE", ...).
type OtherInfo struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// MessageTemplateQualityUpdate is the value of "message_template_quality_update".
type MessageTemplateQualityUpdate struct {
	// PreviousQualityScore and NewQualityScore are GREEN, YELLOW, RED or UNKNOWN.
	PreviousQualityScore string `json:"previous_quality_score,omitempty"`
	NewQualityScore      string `json:"new_quality_score,omitempty"`
	TemplateID           ID     `json:"message_template_id"`
	Name                 string `json:"message_template_name,omitempty"`
	Language             string `json:"message_template_language,omitempty"`
}

// PhoneNumberNameUpdate is the value of "phone_number_name_update". After approval the number
// must be re-registered.
type PhoneNumberNameUpdate struct {
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	// Decision is APPROVED, DEFERRED, PENDING or REJECTED.
	Decision              string     `json:"decision"`
	RequestedVerifiedName string     `json:"requested_verified_name,omitempty"`
	RejectionReason       NullString `json:"rejection_reason,omitempty"`
}

// UserPreferencesValue is the value of "user_preferences": marketing opt-outs (pairs with send
// error 131050).
type UserPreferencesValue struct {
	MessagingProduct string           `json:"messaging_product,omitempty"`
	Metadata         Metadata         `json:"metadata"`
	Contacts         []Contact        `json:"contacts,omitempty"`
	UserPreferences  []UserPreference `json:"user_preferences"`
}

// User preference values.
const (
	PreferenceStop   = "stop"
	PreferenceResume = "resume"
)

// UserPreference is one preference change.
type UserPreference struct {
	WaID         string `json:"wa_id,omitempty"`
	UserID       string `json:"user_id,omitempty"`
	ParentUserID string `json:"parent_user_id,omitempty"`
	Detail       string `json:"detail,omitempty"`
	// Category is "marketing_messages".
	Category string `json:"category,omitempty"`
	// Value is "stop" or "resume".
	Value     string   `json:"value"`
	Timestamp UnixTime `json:"timestamp"`
}

// UserIDUpdate is the value of "user_id_update": a customer's BSUID changed. Meta's changelog of
// 2026-08-11 says this is not a subscribable field and that the change arrives as a system
// message (System.PreviousUserID); it is decoded anyway for partners that forward it.
type UserIDUpdate struct {
	MessagingProduct string       `json:"messaging_product,omitempty"`
	Metadata         *Metadata    `json:"metadata,omitempty"`
	WaID             string       `json:"wa_id,omitempty"`
	Detail           string       `json:"detail,omitempty"`
	UserID           UserIDChange `json:"user_id"`
	ParentUserID     UserIDChange `json:"parent_user_id"`
	Timestamp        UnixTime     `json:"timestamp"`
}

// UserIDChange is a previous/current pair of BSUIDs. A bare string decodes as Current.
type UserIDChange struct {
	Previous string `json:"previous,omitempty"`
	Current  string `json:"current,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler, accepting {previous,current} or a string.
func (c *UserIDChange) UnmarshalJSON(b []byte) error {
	kind, s, err := scalar(b)
	if err != nil {
		return err
	}
	switch kind {
	case kindNull:
		*c = UserIDChange{}
		return nil
	case kindString:
		*c = UserIDChange{Current: s}
		return nil
	case kindComposite:
		type plain UserIDChange
		var p plain
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		*c = UserIDChange(p)
		return nil
	default:
		return flexErr("UserIDChange", b, "not an object or string")
	}
}

// KnownIgnored is returned for fields this backend knowingly does not act on (see IgnoredFields).
type KnownIgnored struct {
	Field string
}

// UnknownField is returned for any field not in KnownFields; Raw is the value, for parking and
// reporting.
type UnknownField struct {
	Field string
	Raw   json.RawMessage
}
