package outbound

import (
	"fmt"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

// Facts are what the decision reads about one request, gathered by the consumer.
type Facts struct {
	Now     time.Time
	Request Request
	Sender  *sender.Sender
	// Window is the customer service window of (sender, recipient); zero when none is known.
	Window customer.Window
	OptOut customer.OptOut
	// Deliverability holds Meta's 131026 / 131049 marks on the recipient.
	Deliverability customer.Deliverability
	// Template is the stored state of the request's template; nil when none is known.
	Template *template.Template
	// WindowClosedByMeta is set after Meta answered 131047 for this request: free-form is out,
	// whatever the table said.
	WindowClosedByMeta bool
	// RecipientRegion is the recipient's ISO country ("US"), when known.
	RecipientRegion string
}

// Action is what the pipeline does with a request.
type Action int

// Actions of a Decision.
const (
	ActionSend Action = iota + 1
	ActionReject
	ActionDefer
)

// String names the action for logs.
func (a Action) String() string {
	switch a {
	case ActionSend:
		return "send"
	case ActionReject:
		return "reject"
	case ActionDefer:
		return "defer"
	}
	return "unknown"
}

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	Mode   Mode
	Reason string
	Detail string
	// RetryAt is when a deferred request is tried again.
	RetryAt time.Time
	// CountsAgainstLimit is set for a template to a recipient without an open window: Meta's
	// messaging limit counts it (unique recipients in a moving 24 h, per portfolio).
	CountsAgainstLimit bool
	// Category is the template category the opt-out and cap rules used ("" for free-form).
	Category string
	// Chargeable is set when Meta charges the send (held back during a payment problem).
	Chargeable bool
}

// Decision tuning (documented on Decide).
const (
	// SoftSuspensionRecheck is when template traffic of a soft-suspended sender with no end
	// date is looked at again.
	SoftSuspensionRecheck = time.Hour
	// MissingTemplateTTL is how long a template Meta said does not exist (132001) is treated as
	// blocked before Meta is asked again.
	MissingTemplateTTL = time.Hour
	// TemplateStatusMissing marks a template record after Meta's 132001.
	TemplateStatusMissing = "MISSING"
	// LearnedTemplateStateTTL is how long a template status learned from a send error (paused,
	// disabled) holds requests back without Meta's webhook confirming it: Meta's first pause
	// lasts 3 hours.
	LearnedTemplateStateTTL = 3 * time.Hour
	// SendErrorReasonPrefix starts the Reason of a template status learned from a send error.
	SendErrorReasonPrefix = "send error "
)

// ServiceMessagesChargedFrom is when Meta starts charging free-form (service) messages outside
// free entry point windows (reference §5).
var ServiceMessagesChargedFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// Decide applies the pipeline's rules, in the order, to one request:
//
//  1. the sender is online (a soft suspension holds templates only; a suspension whose end has
//     passed counts as lifted), an assistantId is assigned to it, and no account restriction
//     blocks the request: RESTRICTED_CUSTOMER_INITIATED_MESSAGING blocks everything,
//     RESTRICTED_BIZ_INITIATED_MESSAGING blocks templates (business-initiated, first contact)
//     but lets free-form replies inside the window through;
//  2. opt-outs: a marketing template (or one of unknown category, conservatively) is refused
//     when the recipient opted out in any way; utility and authentication templates remain
//     allowed (Meta's stop covers marketing only). After a STOP keyword, free-form content is
//     refused too unless the customer wrote again after it: a reply to a new message is
//     customer-initiated;
//  3. free-form content goes out while the window is open; otherwise the template, unless it is
//     known to be blocked (paused, disabled, rejected…, or missing in that language for an
//     hour); neither → window_closed_template_required;
//  4. recipient state: undeliverable (131026) refuses templates, a marketing cap (131049) defers
//     marketing until it ends, marketing templates to US numbers are refused (Meta, 2025-04-01);
//  5. a template to a recipient without an open window counts against the messaging limit (the
//     consumer checks the budget).
func Decide(f Facts) Decision {
	now, req, snd := f.Now, f.Request, f.Sender

	soft, d, ok := senderState(snd, now)
	if !ok {
		return d
	}
	if req.AssistantID != "" && !snd.HasAssistant(req.AssistantID) {
		return reject(ReasonAssistantNotAssigned, "assistant "+req.AssistantID+" is not assigned to sender "+snd.ID)
	}
	if snd.RestrictedAt(sender.RestrictCustomerInitiated, now) {
		return reject(ReasonRestrictedCustomerInitiated, "the WABA is restricted from all messaging ("+sender.RestrictCustomerInitiated+")")
	}

	freeformOpen := freeformWindow(f) && !req.ForceTemplate
	hasFreeform := req.Text != "" || req.Media != nil
	var mode Mode
	switch {
	case freeformOpen && hasFreeform:
		mode = ModeFreeform
	case req.Template != nil:
		mode = ModeTemplate
	}
	category := templateCategory(req, f.Template)
	marketingLike := category == CategoryMarketing || category == ""
	// Meta's category decides the opt-out and budget rules: a request that declares another
	// one is refused rather than sent under the rules of the wrong category.
	if req.Template != nil && req.Template.Category != "" && category != "" && !strings.EqualFold(req.Template.Category, category) {
		return reject(ReasonCategoryMismatch, fmt.Sprintf("template %s/%s is %s at Meta; the request declares %s",
			req.Template.Name, req.Template.Language, category, strings.ToLower(req.Template.Category)))
	}

	// 2. Opt-outs.
	if f.OptOut.Keyword && mode != ModeTemplate && !(freeformOpen && f.Window.LastInboundAt.After(f.OptOut.At)) {
		return reject(ReasonOptedOut, "the customer sent a stop keyword and has not written since: business-initiated free-form content is refused")
	}
	if mode == ModeTemplate && f.OptOut.Active() && marketingLike {
		return Decision{Action: ActionReject, Reason: ReasonOptedOutMarketing, Category: category,
			Detail: fmt.Sprintf("the customer stopped marketing messages (%s); only utility and authentication templates are allowed", orUnknown(f.OptOut.Source))}
	}

	// 3. Window and template.
	if mode == "" {
		return reject(ReasonWindowClosedTemplateRequired, windowDetail(f.Window, now, f.WindowClosedByMeta))
	}
	if mode == ModeTemplate && f.Template != nil && templateBlocked(*f.Template, now) {
		detail := fmt.Sprintf("template %s/%s is %s", f.Template.Name, f.Template.Language, f.Template.Status)
		if !freeformWindow(f) {
			return reject(ReasonWindowClosedTemplateRequired, windowDetail(f.Window, now, f.WindowClosedByMeta)+"; "+detail)
		}
		return reject(ReasonTemplateBlocked, detail)
	}
	if mode == ModeTemplate && snd.RestrictedAt(sender.RestrictBusinessInitiated, now) {
		return reject(ReasonRestrictedBusinessInitiated, "the WABA is restricted from business-initiated messaging ("+sender.RestrictBusinessInitiated+"); replies inside the window remain allowed")
	}

	// 4. Recipient state.
	if mode == ModeTemplate {
		if u := f.Deliverability.UndeliverableUntil; u.After(now) {
			return reject(ReasonRecipientUndeliverable, "Meta reported the recipient undeliverable (131026) until "+u.UTC().Format(time.RFC3339))
		}
		if category == CategoryMarketing && f.RecipientRegion == "US" {
			return reject(ReasonMarketingBlockedUS, "Meta blocks marketing templates to US numbers since 2025-04-01")
		}
		if c := f.Deliverability.MarketingCappedUntil; marketingLike && c.After(now) {
			return Decision{Action: ActionDefer, Reason: ReasonMarketingCap, RetryAt: c, Category: category,
				Detail: "Meta's per-user marketing cap (131049) until " + c.UTC().Format(time.RFC3339)}
		}
		if soft != nil {
			until := soft.Until
			if until.IsZero() {
				until = now.Add(SoftSuspensionRecheck)
			}
			return Decision{Action: ActionDefer, Reason: ReasonSenderSoftSuspended, RetryAt: until, Category: category,
				Detail: "template traffic of the sender is paused: " + orUnknown(soft.Reason)}
		}
	}

	d = Decision{Action: ActionSend, Mode: mode}
	if mode == ModeTemplate {
		d.Category = category
		// Outside the window (or Meta says so: 131047) the template counts against the limit.
		d.CountsAgainstLimit = !freeformWindow(f)
		d.Chargeable = true
	} else {
		d.Chargeable = !now.Before(ServiceMessagesChargedFrom) && !f.Window.FreeEntry
	}
	return d
}

// freeformWindow reports an open window that Meta has not contradicted.
func freeformWindow(f Facts) bool { return f.Window.OpenAt(f.Now) && !f.WindowClosedByMeta }

// senderState checks the sender's status. It returns the soft suspension in force (templates
// held), or ok=false with the refusal.
func senderState(snd *sender.Sender, now time.Time) (soft *sender.Suspension, d Decision, ok bool) {
	switch snd.Status {
	case sender.StatusOnline:
		return nil, Decision{}, true
	case sender.StatusSuspended:
		s := snd.Suspension
		if s == nil {
			return nil, reject(ReasonSenderSuspended, "sender "+snd.ID+" is suspended"), false
		}
		if !s.Until.IsZero() && !s.Until.After(now) {
			// The suspension lapsed on its own (a restriction's expiry); the reconciler will
			// write the status back, and until then the previous status decides.
			if s.Previous == "" || s.Previous == sender.StatusOnline {
				return nil, Decision{}, true
			}
			return nil, reject(ReasonSenderNotOnline, fmt.Sprintf("sender %s is %s", snd.ID, s.Previous)), false
		}
		if s.Soft {
			return s, Decision{}, true
		}
		return nil, reject(ReasonSenderSuspended, "sender "+snd.ID+" is suspended: "+orUnknown(s.Reason)), false
	}
	return nil, reject(ReasonSenderNotOnline, fmt.Sprintf("sender %s is %s", snd.ID, snd.Status)), false
}

// templateCategory is the stored template's category (Meta's), else the request's,
// lower-cased; "" when neither says.
func templateCategory(req Request, stored *template.Template) string {
	if req.Template == nil {
		return ""
	}
	if stored != nil && stored.Category != "" {
		return strings.ToLower(stored.Category)
	}
	return strings.ToLower(req.Template.Category)
}

// templateBlocked reports a template known not to be sendable. A status learned from a send
// error (not from Meta's template webhook) is trusted for a while only: if the webhook that
// lifts it is missed, the next send after that asks Meta again.
func templateBlocked(t template.Template, now time.Time) bool {
	if strings.EqualFold(t.Status, TemplateStatusMissing) {
		return now.Sub(t.UpdatedAt) < MissingTemplateTTL
	}
	if strings.HasPrefix(t.Reason, SendErrorReasonPrefix) && now.Sub(t.UpdatedAt) >= LearnedTemplateStateTTL {
		return false
	}
	return template.Blocked(t.Status)
}

func windowDetail(w customer.Window, now time.Time, byMeta bool) string {
	switch {
	case byMeta:
		return "Meta answered 131047: the customer service window is closed, and no usable template was given"
	case w.ExpiresAt.IsZero():
		return "no customer service window: the customer has not written to this sender; send a template"
	case !w.OpenAt(now):
		return "the customer service window closed at " + w.ExpiresAt.UTC().Format(time.RFC3339) + "; send a template"
	}
	return "no free-form content and no template"
}

func reject(reason, detail string) Decision {
	return Decision{Action: ActionReject, Reason: reason, Detail: detail}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
