package customer

import "time"

// Meta error codes that change what is known about a customer, whichever way they arrive: in
// the Graph API's answer to a send or in a failed status webhook.
const (
	CodeUndeliverable   = 131026 // message undeliverable
	CodeWindowClosed    = 131047 // re-engagement message: the service window is closed
	CodeMarketingOptOut = 131050 // the user stopped marketing messages
)

// UndeliverableFor is how long a recipient stays marked undeliverable after a 131026 (not on
// WhatsApp, an old client, terms not accepted). Meta gives no duration; three days stops
// repeated paid attempts to a number that cannot receive while letting a customer who installs
// or updates WhatsApp be reached again soon. One policy for the webhook and the outbound side.
const UndeliverableFor = 72 * time.Hour

// Reaction is what one Meta error code means for the customer. At most one field is set.
type Reaction struct {
	// CloseWindow (131047): the customer service window is closed as of the error's time.
	CloseWindow bool
	// StopMarketing (131050): a marketing opt-out as of the error's time.
	StopMarketing bool
	// Mark (131026): the deliverability mark to merge.
	Mark Deliverability
}

// ReactionTo is the one table from a Meta error code, reported at `at`, to its effect on the
// customer; ok is false for codes with none. The webhook applies it to failed statuses and the
// outbound consumer to the Graph API's errors, so the two never disagree.
func ReactionTo(code int, at time.Time) (r Reaction, ok bool) {
	switch code {
	case CodeWindowClosed:
		return Reaction{CloseWindow: true}, true
	case CodeMarketingOptOut:
		return Reaction{StopMarketing: true}, true
	case CodeUndeliverable:
		return Reaction{Mark: Deliverability{UndeliverableUntil: at.Add(UndeliverableFor), Reason: "131026"}}, true
	}
	return Reaction{}, false
}
