package outbound

import (
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/template"
)

var decideNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// baseFacts: an online sender with assistant a1, an open window, a request with text and a
// marketing template.
func baseFacts() Facts {
	return Facts{
		Now:    decideNow,
		Sender: &sender.Sender{ID: "100", WABAID: "w1", Status: sender.StatusOnline, Assistants: []string{"a1"}},
		Request: Request{ID: "r1", SenderID: "100", To: "+40721234567", Text: "hi",
			Template: &Template{Name: "promo", Language: "en_US", Category: CategoryMarketing}},
		Window:          customer.Window{ExpiresAt: decideNow.Add(time.Hour), LastInboundAt: decideNow.Add(-23 * time.Hour)},
		RecipientRegion: "RO",
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	closed := customer.Window{ExpiresAt: decideNow.Add(-time.Minute), LastInboundAt: decideNow.Add(-24*time.Hour - time.Minute)}
	tests := []struct {
		name   string
		change func(f *Facts)
		want   Decision
		// detail, when set, must appear in the decision's detail.
		detail string
	}{
		{name: "window open, free-form", change: func(*Facts) {},
			want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "free entry point window is free", change: func(f *Facts) { f.Window.FreeEntry = true },
			want: Decision{Action: ActionSend, Mode: ModeFreeform}},
		{name: "window closed, template", change: func(f *Facts) { f.Window = closed },
			want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryMarketing, CountsAgainstLimit: true, Chargeable: true}},
		{name: "no window known, template", change: func(f *Facts) { f.Window = customer.Window{} },
			want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryMarketing, CountsAgainstLimit: true, Chargeable: true}},
		{name: "window open, template only: not counted", change: func(f *Facts) { f.Request.Text = "" },
			want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryMarketing, Chargeable: true}},
		{name: "forceTemplate with the window open", change: func(f *Facts) { f.Request.ForceTemplate = true },
			want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryMarketing, Chargeable: true}},
		{name: "Meta closed the window (131047): template, counted", change: func(f *Facts) { f.WindowClosedByMeta = true },
			want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryMarketing, CountsAgainstLimit: true, Chargeable: true}},
		{name: "window closed, no template", change: func(f *Facts) { f.Window = closed; f.Request.Template = nil },
			want: reject(ReasonWindowClosedTemplateRequired, ""), detail: "closed at"},
		{name: "never wrote, no template", change: func(f *Facts) { f.Window = customer.Window{}; f.Request.Template = nil },
			want: reject(ReasonWindowClosedTemplateRequired, ""), detail: "has not written"},
		{name: "Meta closed the window, no template", change: func(f *Facts) { f.WindowClosedByMeta = true; f.Request.Template = nil },
			want: reject(ReasonWindowClosedTemplateRequired, ""), detail: "131047"},

		// 1. The sender.
		{name: "sender offline", change: func(f *Facts) { f.Sender.Status = sender.StatusOffline },
			want: reject(ReasonSenderNotOnline, ""), detail: "offline"},
		{name: "sender pending", change: func(f *Facts) { f.Sender.Status = sender.StatusPending },
			want: reject(ReasonSenderNotOnline, "")},
		{name: "sender suspended", change: func(f *Facts) {
			f.Sender.Status = sender.StatusSuspended
			f.Sender.Suspension = &sender.Suspension{Reason: "368", Previous: sender.StatusOnline}
		}, want: reject(ReasonSenderSuspended, ""), detail: "368"},
		{name: "sender suspended without details", change: func(f *Facts) { f.Sender.Status = sender.StatusSuspended },
			want: reject(ReasonSenderSuspended, "")},
		{name: "suspension lapsed, back online", change: func(f *Facts) {
			f.Sender.Status = sender.StatusSuspended
			f.Sender.Suspension = &sender.Suspension{Until: decideNow.Add(-time.Second), Previous: sender.StatusOnline}
		}, want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "suspension lapsed, was offline", change: func(f *Facts) {
			f.Sender.Status = sender.StatusSuspended
			f.Sender.Suspension = &sender.Suspension{Until: decideNow.Add(-time.Second), Previous: sender.StatusOffline}
		}, want: reject(ReasonSenderNotOnline, "")},
		{name: "soft-suspended: free-form reply goes out", change: func(f *Facts) {
			f.Sender.Status = sender.StatusSuspended
			f.Sender.Suspension = &sender.Suspension{Soft: true, Until: decideNow.Add(time.Hour), Previous: sender.StatusOnline}
		}, want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "soft-suspended: template deferred to its end", change: func(f *Facts) {
			f.Window = closed
			f.Sender.Status = sender.StatusSuspended
			f.Sender.Suspension = &sender.Suspension{Soft: true, Until: decideNow.Add(time.Hour), Reason: "spam", Previous: sender.StatusOnline}
		}, want: Decision{Action: ActionDefer, Reason: ReasonSenderSoftSuspended, RetryAt: decideNow.Add(time.Hour), Category: CategoryMarketing}},
		{name: "soft-suspended without end: template deferred an hour", change: func(f *Facts) {
			f.Window = closed
			f.Sender.Status = sender.StatusSuspended
			f.Sender.Suspension = &sender.Suspension{Soft: true, Previous: sender.StatusOnline}
		}, want: Decision{Action: ActionDefer, Reason: ReasonSenderSoftSuspended, RetryAt: decideNow.Add(SoftSuspensionRecheck), Category: CategoryMarketing}},
		{name: "assistant not assigned", change: func(f *Facts) { f.Request.AssistantID = "a2" },
			want: reject(ReasonAssistantNotAssigned, "")},
		{name: "assistant assigned", change: func(f *Facts) { f.Request.AssistantID = "a1" },
			want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "customer-initiated restriction blocks replies", change: func(f *Facts) {
			f.Sender.Restrictions = []sender.Restriction{{Type: sender.RestrictCustomerInitiated, Until: decideNow.Add(time.Hour)}}
		}, want: reject(ReasonRestrictedCustomerInitiated, "")},
		{name: "business-initiated restriction blocks templates", change: func(f *Facts) {
			f.Window = closed
			f.Sender.Restrictions = []sender.Restriction{{Type: sender.RestrictBusinessInitiated}}
		}, want: reject(ReasonRestrictedBusinessInitiated, "")},
		{name: "business-initiated restriction lets replies through", change: func(f *Facts) {
			f.Sender.Restrictions = []sender.Restriction{{Type: sender.RestrictBusinessInitiated}}
		}, want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "expired restriction", change: func(f *Facts) {
			f.Window = closed
			f.Sender.Restrictions = []sender.Restriction{{Type: sender.RestrictBusinessInitiated, Until: decideNow.Add(-time.Second)}}
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryMarketing, CountsAgainstLimit: true, Chargeable: true}},

		// 2. Opt-outs.
		{name: "marketing opt-out refuses a marketing template", change: func(f *Facts) {
			f.Window = closed
			f.OptOut = customer.OptOut{Marketing: true, Source: "user_preferences", At: decideNow.Add(-time.Hour)}
		}, want: Decision{Action: ActionReject, Reason: ReasonOptedOutMarketing, Category: CategoryMarketing}},
		{name: "marketing opt-out refuses a template of unknown category", change: func(f *Facts) {
			f.Window = closed
			f.Request.Template.Category = ""
			f.OptOut = customer.OptOut{Marketing: true}
		}, want: Decision{Action: ActionReject, Reason: ReasonOptedOutMarketing}},
		{name: "marketing opt-out allows a utility template", change: func(f *Facts) {
			f.Window = closed
			f.Request.Template.Category = CategoryUtility
			f.OptOut = customer.OptOut{Marketing: true}
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryUtility, CountsAgainstLimit: true, Chargeable: true}},
		{name: "category from the stored template", change: func(f *Facts) {
			f.Window = closed
			f.Request.Template.Category = ""
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "APPROVED", Category: "AUTHENTICATION"}
			f.OptOut = customer.OptOut{Marketing: true}
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryAuthentication, CountsAgainstLimit: true, Chargeable: true}},
		{name: "Meta's category wins over the caller's", change: func(f *Facts) {
			f.Window = closed
			f.Request.Template.Category = CategoryUtility
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "APPROVED", Category: "MARKETING"}
			f.OptOut = customer.OptOut{Marketing: true}
		}, want: reject(ReasonCategoryMismatch, ""), detail: "marketing at Meta"},
		{name: "the same category declared in another case", change: func(f *Facts) {
			f.Window = closed
			f.Request.Template.Category = "Utility"
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "APPROVED", Category: "UTILITY"}
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryUtility, CountsAgainstLimit: true, Chargeable: true}},
		{name: "a pause learned from a send error expires", change: func(f *Facts) {
			f.Window = closed
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "PAUSED", Reason: SendErrorReasonPrefix + "132015",
				UpdatedAt: decideNow.Add(-LearnedTemplateStateTTL)}
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryMarketing, CountsAgainstLimit: true, Chargeable: true}},
		{name: "a pause learned from a send error holds for a while", change: func(f *Facts) {
			f.Window = closed
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "PAUSED", Reason: SendErrorReasonPrefix + "132015",
				UpdatedAt: decideNow.Add(-time.Hour)}
		}, want: reject(ReasonWindowClosedTemplateRequired, ""), detail: "PAUSED"},
		{name: "a pause from Meta's template webhook holds until lifted", change: func(f *Facts) {
			f.Window = closed
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "PAUSED", UpdatedAt: decideNow.Add(-30 * 24 * time.Hour)}
		}, want: reject(ReasonWindowClosedTemplateRequired, ""), detail: "PAUSED"},
		{name: "marketing opt-out allows a reply in the window", change: func(f *Facts) {
			f.OptOut = customer.OptOut{Marketing: true}
		}, want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "stop keyword refuses free-form", change: func(f *Facts) {
			f.OptOut = customer.OptOut{Marketing: true, Keyword: true, At: f.Window.LastInboundAt}
		}, want: reject(ReasonOptedOut, "")},
		{name: "stop keyword, then the customer wrote again", change: func(f *Facts) {
			f.OptOut = customer.OptOut{Marketing: true, Keyword: true, At: decideNow.Add(-30 * time.Hour)}
		}, want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "stop keyword still allows a utility template", change: func(f *Facts) {
			f.Window = closed
			f.Request.Template.Category = CategoryUtility
			f.OptOut = customer.OptOut{Marketing: true, Keyword: true}
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryUtility, CountsAgainstLimit: true, Chargeable: true}},
		{name: "stop keyword, window closed, no template", change: func(f *Facts) {
			f.Window = closed
			f.Request.Template = nil
			f.OptOut = customer.OptOut{Keyword: true}
		}, want: reject(ReasonOptedOut, "")},

		// 3. Template state.
		{name: "paused template, window closed", change: func(f *Facts) {
			f.Window = closed
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "PAUSED"}
		}, want: reject(ReasonWindowClosedTemplateRequired, ""), detail: "PAUSED"},
		{name: "disabled template, window open, no free-form", change: func(f *Facts) {
			f.Request.Text = ""
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "DISABLED"}
		}, want: reject(ReasonTemplateBlocked, ""), detail: "DISABLED"},
		{name: "paused template unused while free-form goes out", change: func(f *Facts) {
			f.Template = &template.Template{Name: "promo", Language: "en_US", Status: "PAUSED"}
		}, want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "template missing in that language, recently", change: func(f *Facts) {
			f.Window = closed
			f.Template = &template.Template{Status: TemplateStatusMissing, UpdatedAt: decideNow.Add(-time.Minute)}
		}, want: reject(ReasonWindowClosedTemplateRequired, "")},
		{name: "template missing an hour ago: ask Meta again", change: func(f *Facts) {
			f.Window = closed
			f.Template = &template.Template{Status: TemplateStatusMissing, UpdatedAt: decideNow.Add(-MissingTemplateTTL)}
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryMarketing, CountsAgainstLimit: true, Chargeable: true}},

		// 4. Recipient state.
		{name: "undeliverable recipient refuses templates", change: func(f *Facts) {
			f.Window = closed
			f.Deliverability.UndeliverableUntil = decideNow.Add(time.Hour)
		}, want: reject(ReasonRecipientUndeliverable, "")},
		{name: "undeliverable mark ignored for a reply", change: func(f *Facts) {
			f.Deliverability.UndeliverableUntil = decideNow.Add(time.Hour)
		}, want: Decision{Action: ActionSend, Mode: ModeFreeform, Chargeable: true}},
		{name: "marketing cap defers marketing", change: func(f *Facts) {
			f.Window = closed
			f.Deliverability.MarketingCappedUntil = decideNow.Add(20 * time.Hour)
		}, want: Decision{Action: ActionDefer, Reason: ReasonMarketingCap, RetryAt: decideNow.Add(20 * time.Hour), Category: CategoryMarketing}},
		{name: "marketing cap lets utility through", change: func(f *Facts) {
			f.Window = closed
			f.Request.Template.Category = CategoryUtility
			f.Deliverability.MarketingCappedUntil = decideNow.Add(20 * time.Hour)
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryUtility, CountsAgainstLimit: true, Chargeable: true}},
		{name: "marketing template to a US number", change: func(f *Facts) { f.Window = closed; f.RecipientRegion = "US" },
			want: reject(ReasonMarketingBlockedUS, "")},
		{name: "utility template to a US number", change: func(f *Facts) {
			f.Window = closed
			f.RecipientRegion = "US"
			f.Request.Template.Category = CategoryUtility
		}, want: Decision{Action: ActionSend, Mode: ModeTemplate, Category: CategoryUtility, CountsAgainstLimit: true, Chargeable: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := baseFacts()
			tc.change(&f)
			got := Decide(f)
			detail := got.Detail
			got.Detail, tc.want.Detail = "", ""
			if got != tc.want {
				t.Errorf("Decide = %+v\nwant     %+v", got, tc.want)
			}
			if tc.want.Action != ActionSend && detail == "" {
				t.Errorf("a %s decision needs a detail", got.Action)
			}
			if tc.detail != "" && !strings.Contains(detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", detail, tc.detail)
			}
		})
	}
}
