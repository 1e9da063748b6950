package adminapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/customer"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/template"
)

// CustomerView is what the troubleshooting table needs about one customer of a sender.
type CustomerView struct {
	SenderID string       `json:"senderId"`
	Customer customer.Ref `json:"customer"`
	Window   WindowView   `json:"window"`
	// LastInboundAt is the newest customer message seen; absent when none.
	LastInboundAt *time.Time     `json:"lastInboundAt,omitempty"`
	OptOut        OptOutView     `json:"optOut"`
	Undeliverable Undeliverable  `json:"undeliverable"`
	MarketingCap  *MarketingView `json:"marketingCap,omitempty"`
}

// WindowView is the customer service window at the time of the request.
type WindowView struct {
	Open bool `json:"open"`
	// ExpiresAt is when the window closes (or closed); absent when no window was ever opened.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// FreeEntry is true when the window came from a free entry point (Click-to-WhatsApp).
	FreeEntry bool `json:"freeEntry"`
}

// OptOutView is the customer's opt-out towards the sender's WABA.
type OptOutView struct {
	Marketing bool       `json:"marketing"`
	Keyword   bool       `json:"keyword"`
	Source    string     `json:"source,omitempty"`
	At        *time.Time `json:"at,omitempty"`
}

// Undeliverable is Meta's 131026 mark on the customer.
type Undeliverable struct {
	Marked bool       `json:"marked"`
	Until  *time.Time `json:"until,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// MarketingView is a 131049 marketing frequency cap in force.
type MarketingView struct {
	CappedUntil time.Time `json:"cappedUntil"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// customerRef reads a path value: a BSUID ("US.1349…") or a phone number (E.164 or wa_id digits).
func customerRef(v string) (customer.Ref, error) {
	v = strings.TrimSpace(v)
	if customer.IsBSUID(v) {
		if len(v) > 160 {
			return customer.Ref{}, badRequest("customer: BSUID too long")
		}
		return customer.Ref{UserID: v}, nil
	}
	e164, err := phone.ParseRecipient(v)
	if err != nil {
		var pe *phone.Error
		if errors.As(err, &pe) {
			return customer.Ref{}, &apiError{http.StatusBadRequest, "invalid_customer",
				"customer: want a business-scoped user id (e.g. US.1349…) or a phone number; " + pe.Error()}
		}
		return customer.Ref{}, err
	}
	return customer.Ref{Phone: e164}, nil
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request, p []string) error {
	ctx := r.Context()
	ref, err := customerRef(p[1])
	if err != nil {
		return err
	}
	snd, err := a.store.GetSender(ctx, p[0])
	if err != nil {
		return senderErr(err)
	}
	if ref, err = a.store.ResolveCustomer(ctx, snd.WABAID, ref); err != nil {
		return err
	}
	out := CustomerView{SenderID: snd.ID, Customer: ref}
	now := a.now()
	win, err := a.store.GetWindow(ctx, snd.ID, snd.WABAID, ref)
	switch {
	case err == nil:
		out.Window = WindowView{Open: win.OpenAt(now), ExpiresAt: timePtr(win.ExpiresAt), FreeEntry: win.FreeEntry}
		out.LastInboundAt = timePtr(win.LastInboundAt)
	case !errors.Is(err, persist.ErrNotFound):
		return err
	}
	opt, err := a.store.GetOptOut(ctx, snd.WABAID, ref)
	if err != nil {
		return err
	}
	out.OptOut = OptOutView{Marketing: opt.Marketing, Keyword: opt.Keyword, Source: opt.Source, At: timePtr(opt.At)}
	d, err := a.store.GetDeliverability(ctx, snd.WABAID, ref)
	if err != nil {
		return err
	}
	if d.UndeliverableUntil.After(now) {
		out.Undeliverable = Undeliverable{Marked: true, Until: timePtr(d.UndeliverableUntil), Reason: d.Reason}
	}
	if d.MarketingCappedUntil.After(now) {
		out.MarketingCap = &MarketingView{CappedUntil: d.MarketingCappedUntil.UTC()}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// templatesResponse is the body of GET /templates.
type templatesResponse struct {
	WABAID    string              `json:"wabaId"`
	Templates []template.Template `json:"templates"`
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request, _ []string) error {
	waba := r.URL.Query().Get("wabaId")
	if err := graphID("wabaId", waba, true); err != nil {
		return err
	}
	list, err := a.store.ListTemplates(r.Context(), waba)
	if err != nil {
		return err
	}
	if list == nil {
		list = []template.Template{}
	}
	writeJSON(w, http.StatusOK, templatesResponse{WABAID: waba, Templates: list})
	return nil
}

// maxRequestID bounds a message request id in the path.
const maxRequestID = 128

func (a *API) getMessage(w http.ResponseWriter, r *http.Request, p []string) error {
	if len(p[0]) > maxRequestID {
		return badRequest("message id: at most %d bytes", maxRequestID)
	}
	rec, err := a.store.GetRecord(r.Context(), p[0])
	if err != nil {
		if errors.Is(err, persist.ErrNotFound) {
			return &apiError{http.StatusNotFound, "message_not_found", "no outbound record with this id"}
		}
		return err
	}
	// The original request holds the message content: it stays internal.
	out := *rec
	out.Request = nil
	writeJSON(w, http.StatusOK, out)
	return nil
}

// acceptedResponse is the body of POST /messages.
type acceptedResponse struct {
	ID     string          `json:"id"`
	Status outbound.Status `json:"status"`
}

func (a *API) postMessage(w http.ResponseWriter, r *http.Request, _ []string) error {
	if a.enqueuer == nil {
		return &apiError{http.StatusNotImplemented, "not_implemented", "message enqueueing is not configured"}
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := checkKeys(body); err != nil {
		return err
	}
	// The queue's own contract check: the same strict decoding the outbound function applies.
	req, err := outbound.Decode(body)
	if err != nil {
		return err
	}
	if err := a.enqueuer.Enqueue(r.Context(), req); err != nil {
		return err
	}
	a.log.Info("message enqueued", "request", req.ID, "sender", req.SenderID)
	writeJSON(w, http.StatusAccepted, acceptedResponse{ID: req.ID, Status: outbound.StatusQueued})
	return nil
}
