package outbound

// Machine-readable reasons recorded on a Record. A refusal or retry caused by a Meta error
// records the class of that error instead (graph.Class: "window_closed", "throughput",
// "template_invalid", …) together with its code and title.
const (
	// Rejected: the request is refused and never sent.
	ReasonInvalidRequest               = "invalid_request"
	ReasonUnknownSender                = "unknown_sender"
	ReasonSenderMismatch               = "sender_mismatch"
	ReasonSenderNotOnline              = "sender_not_online"
	ReasonSenderSuspended              = "sender_suspended"
	ReasonAssistantNotAssigned         = "assistant_not_assigned"
	ReasonRestrictedBusinessInitiated  = "restricted_business_initiated"
	ReasonRestrictedCustomerInitiated  = "restricted_customer_initiated"
	ReasonOptedOut                     = "opted_out"
	ReasonOptedOutMarketing            = "opted_out_marketing"
	ReasonWindowClosedTemplateRequired = "window_closed_template_required"
	ReasonTemplateBlocked              = "template_blocked"
	ReasonRecipientUndeliverable       = "recipient_undeliverable"
	ReasonMarketingBlockedUS           = "marketing_blocked_us"
	ReasonRequestMissing               = "request_missing"
	ReasonCategoryMismatch             = "template_category_mismatch"

	// Deferred: the record says when the request is tried again (NextAttemptAt).
	ReasonMessagingLimit      = "messaging_limit"
	ReasonMarketingCap        = "marketing_frequency_cap"
	ReasonSenderSoftSuspended = "sender_soft_suspended"
	ReasonTokenInvalid        = "token_invalid"
	ReasonPaymentIssue        = "payment_issue"
	ReasonTemplatePaused      = "template_paused"
	// ReasonConversationHeld: an earlier request of the conversation is deferred, so this one
	// waits behind it (order per conversation).
	ReasonConversationHeld = "conversation_held"

	// Sending: the send's answer was lost; a status webhook is awaited before any resend.
	ReasonAnswerLost = "answer_lost"

	// Queued: waiting in SQS.
	ReasonRequeued     = "requeued"      // a deferred request put back on the queue
	ReasonPaced        = "paced"         // held back by the pair rate limit, back on the queue
	ReasonBudgetBusy   = "budget_busy"   // the messaging-limit count was contended, back on the queue
	ReasonDeadLettered = "dead_lettered" // the last receive failed: the message is in the DLQ

	// Why a message went back to the queue unfinished (recorded when it is parked).
	ReasonStoreUnavailable = "store_unavailable" // the table could not be read or written
	ReasonOutOfTime        = "out_of_time"       // the invocation had too little time left

	// Failed: retried for MaxRetryAge without ever getting through.
	ReasonRetriesExhausted = "retries_exhausted"
)
