package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/numberpool"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
)

// Platform numbers (the pool; in the endpoints table):
//
//	GET  /numbers/available?country=RO&kind=mobile   our verified numbers first, then the carrier's
//	POST /numbers {"requestId","phoneNumber"}        buy into the pool (idempotent by requestId)
//	GET  /numbers                                    the pool with each number's state
//	GET  /numbers/{e164}                             one pool number
//	POST /numbers/{e164}/verification {"method"}     start verification over (retry)
//	POST /numbers/{e164}/claim {…}                   a business takes it: sender created, registered → online

// NumberPool is the pool the /numbers routes drive (implemented by *numberpool.Pool).
type NumberPool interface {
	Mode() numberpool.Mode
	Available(ctx context.Context, country, kind string, limit int) ([]numberpool.Offer, error)
	Buy(ctx context.Context, requestID, e164 string) (*numberpool.Number, error)
	List(ctx context.Context) ([]numberpool.Number, error)
	Get(ctx context.Context, e164 string) (*numberpool.Number, error)
	StartVerification(ctx context.Context, e164, method string) (*numberpool.Number, error)
	Claim(ctx context.Context, e164, businessID, phoneNumberID string) (bool, error)
	AttachToWABA(ctx context.Context, e164, wabaID, businessID, verifiedName string) (*numberpool.Number, error)
	Return(ctx context.Context, e164 string) (bool, error)
}

var _ NumberPool = (*numberpool.Pool)(nil)

// NumberView is a pool number as the API shows it (no carrier event ids).
type NumberView struct {
	PhoneNumber string `json:"phoneNumber"`
	Country     string `json:"country"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Method      string `json:"verificationMethod,omitempty"`
	Attempt     int    `json:"attempt"`
	// PreVerifiedID is Meta's id of the pre-verified number (or of the WABA's phone number).
	PreVerifiedID string    `json:"preVerifiedId,omitempty"`
	VerifiedUntil time.Time `json:"verifiedUntil,omitzero"`
	ClaimedBy     string    `json:"claimedBy,omitempty"`
	PhoneNumberID string    `json:"phoneNumberId,omitempty"`
	ClaimedAt     time.Time `json:"claimedAt,omitzero"`
	ReturnedAt    time.Time `json:"returnedAt,omitzero"`
	ReleasedAt    time.Time `json:"releasedAt,omitzero"`
	RequestID     string    `json:"requestId"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

func numberView(n *numberpool.Number) NumberView {
	return NumberView{PhoneNumber: n.E164, Country: n.Country, State: string(n.State), Reason: n.Reason, Method: n.Method,
		Attempt: n.Attempt, PreVerifiedID: n.MetaID, VerifiedUntil: n.VerifiedUntil, ClaimedBy: n.ClaimedBy, PhoneNumberID: n.PhoneNumberID,
		ClaimedAt: n.ClaimedAt, ReturnedAt: n.ReturnedAt, ReleasedAt: n.ReleasedAt, RequestID: n.RequestID,
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
}

// poolErr maps the pool's errors to answers.
func poolErr(err error) error {
	var pe *numberpool.PurchaseError
	var ce *carrier.Error
	var ve *numberpool.VerificationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return &apiError{http.StatusConflict, "purchase_failed", "nothing was bought: " + pe.Reason}
	case errors.As(err, &ve):
		return &apiError{http.StatusBadGateway, "verification_failed", "the number is unverified: " + ve.Reason}
	case errors.Is(err, numberpool.ErrRequestReused):
		return &apiError{http.StatusConflict, "request_reused", "this requestId was used for another number"}
	case errors.Is(err, numberpool.ErrInProgress):
		return &apiError{http.StatusConflict, "in_progress", "a purchase with this requestId is under way; retry shortly"}
	case errors.Is(err, numberpool.ErrTaken):
		return &apiError{http.StatusConflict, "number_taken", "this number is in the pool already"}
	case errors.Is(err, numberpool.ErrNotOurs), errors.Is(err, persist.ErrNotFound):
		return &apiError{http.StatusNotFound, "number_not_found", "no pool number with this phone number"}
	case errors.Is(err, numberpool.ErrAlreadyClaimed):
		return &apiError{http.StatusConflict, "claimed", "another business claimed this number"}
	case errors.Is(err, numberpool.ErrState):
		return &apiError{http.StatusConflict, "wrong_state", err.Error()}
	case errors.As(err, &ce):
		return &apiError{http.StatusBadGateway, "carrier_error", fmt.Sprintf("the carrier answered %d (code %d)", ce.HTTPStatus, ce.Code)}
	}
	return err
}

func (a *API) needPool() error {
	if a.pool == nil {
		return &apiError{http.StatusNotImplemented, "not_configured", "platform numbers are not configured"}
	}
	return nil
}

func pathE164(v string) (string, error) {
	e, err := phone.ParseE164(strings.TrimSpace(v))
	if err != nil {
		return "", &apiError{http.StatusBadRequest, "invalid_phone", "phone number: " + err.Error()}
	}
	return e, nil
}

func (a *API) availableNumbers(w http.ResponseWriter, r *http.Request, _ []string) error {
	if err := a.needPool(); err != nil {
		return err
	}
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "country", "kind", "limit":
		default:
			return badRequest("unknown query parameter %s", k)
		}
	}
	country := strings.ToUpper(strings.TrimSpace(q.Get("country")))
	if !phone.IsRegion(country) {
		return badRequest("country: want an ISO 3166-1 code such as RO")
	}
	kind := strings.ToLower(q.Get("kind"))
	if kind == "" {
		kind = carrier.KindMobile
	}
	if kind != carrier.KindMobile && kind != carrier.KindLocal {
		return badRequest("kind: want mobile or local")
	}
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 50 {
			return badRequest("limit: want 1 to 50")
		}
		limit = n
	}
	offers, err := a.pool.Available(r.Context(), country, kind, limit)
	if err != nil {
		return poolErr(err)
	}
	if offers == nil {
		offers = []numberpool.Offer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"numbers": offers})
	return nil
}

type buyRequest struct {
	RequestID   string `json:"requestId"`
	PhoneNumber string `json:"phoneNumber"`
}

func (a *API) buyNumber(w http.ResponseWriter, r *http.Request, _ []string) error {
	if err := a.needPool(); err != nil {
		return err
	}
	var in buyRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	id := strings.TrimSpace(in.RequestID)
	if id == "" || len(id) > maxParamLen || !utf8.ValidString(id) {
		return badRequest("requestId: a non-empty id of at most %d bytes, the same on every retry", maxParamLen)
	}
	e164, err := pathE164(in.PhoneNumber)
	if err != nil {
		return err
	}
	n, err := a.pool.Buy(r.Context(), id, e164)
	if err != nil {
		return poolErr(err)
	}
	a.log.Info("pool number purchase", "request", id, "state", string(n.State))
	w.Header().Set("Location", "/numbers/"+n.E164)
	writeJSON(w, http.StatusCreated, numberView(n))
	return nil
}

func (a *API) listNumbers(w http.ResponseWriter, r *http.Request, _ []string) error {
	if err := a.needPool(); err != nil {
		return err
	}
	list, err := a.pool.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]NumberView, 0, len(list))
	for i := range list {
		out = append(out, numberView(&list[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"numbers": out})
	return nil
}

func (a *API) getNumber(w http.ResponseWriter, r *http.Request, p []string) error {
	if err := a.needPool(); err != nil {
		return err
	}
	e164, err := pathE164(p[0])
	if err != nil {
		return err
	}
	n, err := a.pool.Get(r.Context(), e164)
	if err != nil {
		return poolErr(err)
	}
	writeJSON(w, http.StatusOK, numberView(n))
	return nil
}

func (a *API) verifyNumber(w http.ResponseWriter, r *http.Request, p []string) error {
	if err := a.needPool(); err != nil {
		return err
	}
	var in verificationRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	var method string
	switch strings.ToLower(strings.TrimSpace(in.Method)) {
	case "":
	case "sms":
		method = graph.CodeMethodSMS
	case "voice":
		method = graph.CodeMethodVoice
	default:
		return badRequest("method: want sms or voice (or leave it out)")
	}
	e164, err := pathE164(p[0])
	if err != nil {
		return err
	}
	n, err := a.pool.StartVerification(r.Context(), e164, method)
	if err != nil {
		return poolErr(err)
	}
	writeJSON(w, http.StatusAccepted, numberView(n))
	return nil
}

// claimRequest is the body of POST /numbers/{e164}/claim: what Embedded Signup's FINISH told
// about the business that picked the number, plus the sender's settings. The PIN is never
// logged, returned or stored here.
type claimRequest struct {
	BusinessID    string   `json:"businessId"`
	WABAID        string   `json:"wabaId"`
	PhoneNumberID string   `json:"phoneNumberId"`
	DisplayName   string   `json:"displayName"`
	Assistants    []string `json:"assistants"`
	PIN           string   `json:"pin"`
}

func (claimRequest) String() string { return "claimRequest{redacted}" }

// claimNumber is the platform number's onboarding: the pool number is claimed by the business,
// the platform sender is created through the same path as POST /senders, marked code-verified
// (the pool verified it) and registered with a kept PIN → online. In ModeWABA the number is
// first added to the business's WABA and verified hands-free: the answer is 202 until then,
// and calling again finishes.
func (a *API) claimNumber(w http.ResponseWriter, r *http.Request, p []string) error {
	if err := a.needPool(); err != nil {
		return err
	}
	var in claimRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	e164, err := pathE164(p[0])
	if err != nil {
		return err
	}
	if err := graphID("businessId", in.BusinessID, true); err != nil {
		return err
	}
	if err := graphID("wabaId", in.WABAID, true); err != nil {
		return err
	}
	if in.PIN != "" && !credentials.ValidPIN(in.PIN) {
		return badRequest("pin: the two-step PIN is 6 digits")
	}
	name, err := displayName(in.DisplayName)
	if err != nil {
		return err
	}
	assistants, err := assistantList(in.Assistants)
	if err != nil {
		return err
	}
	ctx := r.Context()
	pnid := in.PhoneNumberID
	if a.pool.Mode() == numberpool.ModeWABA {
		n, err := a.pool.AttachToWABA(ctx, e164, in.WABAID, in.BusinessID, name)
		if err != nil {
			return poolErr(err)
		}
		if n.State != numberpool.StateClaimed {
			writeJSON(w, http.StatusAccepted, numberView(n))
			return nil
		}
		pnid = n.PhoneNumberID
	} else {
		if err := graphID("phoneNumberId", pnid, true); err != nil {
			return err
		}
		claimed, err := a.pool.Claim(ctx, e164, in.BusinessID, pnid)
		if err != nil {
			return poolErr(err)
		}
		if !claimed {
			return &apiError{http.StatusNotFound, "number_not_found", "no pool number with this phone number"}
		}
	}
	snd, err := a.platformSender(ctx, e164, pnid, in.WABAID, in.BusinessID, name, assistants)
	if err != nil {
		return err
	}
	if snd.Status == sender.StatusConnecting {
		if snd, err = a.registerWithKeptPIN(ctx, snd, in.PIN); err != nil {
			return err
		}
	}
	return a.writeSender(ctx, w, http.StatusOK, snd)
}

// platformSender creates (or finds, on a retry) the claimed number's sender, code-verified.
func (a *API) platformSender(ctx context.Context, e164, pnid, waba, business, name string, assistants []string) (*sender.Sender, error) {
	now := a.now().UTC()
	snd := sender.New(pnid, sender.TypePlatform, e164, waba, business, name, assistants, sender.SourceOperator, now)
	stampActor(snd, 0, principal(ctx))
	err := a.store.CreateSender(ctx, snd)
	switch {
	case errors.Is(err, store.ErrSenderExists):
		if snd, err = a.store.GetSender(ctx, pnid); err != nil {
			return nil, senderErr(err)
		}
		if snd.Type != sender.TypePlatform || snd.PhoneNumber != e164 {
			return nil, &apiError{http.StatusConflict, "sender_exists", "a different sender has this phoneNumberId"}
		}
	case err != nil:
		return nil, err
	default:
		a.log.Info("sender created", "sender", snd.ID, "waba", snd.WABAID, "type", string(snd.Type))
	}
	if snd.Status != sender.StatusPending {
		return snd, nil
	}
	return a.store.UpdateSender(ctx, snd.ID, persist.InPlace(func(s *sender.Sender) error {
		if s.Status != sender.StatusPending {
			return persist.ErrNoChange
		}
		defer stampActor(s, len(s.StatusHistory), principal(ctx))
		s.VerificationMethod = "platform"
		return s.Fire(sender.EventCodeVerified, sender.SourceOperator, "platform number verified by the pool", now)
	}))
}

// returnToPool gives a deleted platform sender's number back to the pool.
func (a *API) returnToPool(ctx context.Context, snd *sender.Sender) error {
	if a.pool == nil || snd.Type != sender.TypePlatform {
		return nil
	}
	returned, err := a.pool.Return(ctx, snd.PhoneNumber)
	if err != nil {
		return poolErr(err)
	}
	a.log.Info("platform number returned to the pool", "sender", snd.ID, "returned", returned)
	return nil
}
