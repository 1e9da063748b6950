package adminapi

import (
	"context"
	"errors"
	"fmt"
	"github.com/aloro/wa-senders/shared/persist"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
)

// Input bounds.
const (
	maxDisplayName = 256
	maxAssistants  = 100
	maxAssistantID = 128
	maxGraphID     = 32
	maxPageSize    = 100
)

// SenderView is a sender as the API shows it: the stored aggregate plus the limit the outbound
// budget enforces. messagingLimit and throughputLevel are always present ("" while unknown).
type SenderView struct {
	*sender.Sender
	// MessagingLimit is Meta's tier as told: the portfolio's when known, else the sender's.
	MessagingLimit string `json:"messagingLimit"`
	// DailyLimit is what the budget enforces: the tier's value, 250 while unknown, -1 unlimited.
	DailyLimit int `json:"dailyLimit"`
	// LimitLabel is the product's label for the limit (~250, 1,000, 10,000, 100,000+, unlimited).
	LimitLabel      string `json:"limitLabel"`
	ThroughputLevel string `json:"throughputLevel"`
	// CodeAttemptsLeft is how many wrong verification codes the sender still accepts.
	CodeAttemptsLeft int `json:"codeAttemptsLeft"`
	// HistoryTruncated is true in a list page when only the newest ListHistory entries are
	// shown; GET /senders/{id} has the whole history.
	HistoryTruncated bool `json:"historyTruncated,omitempty"`
}

// view builds the API view of s; portfolios caches portfolio reads within one request.
func (a *API) view(ctx context.Context, s *sender.Sender, portfolios map[string]sender.Portfolio) (SenderView, error) {
	key := s.PortfolioKey()
	p, ok := portfolios[key]
	if !ok {
		var err error
		p, err = a.store.GetPortfolio(ctx, key)
		if err != nil && !errors.Is(err, persist.ErrNotFound) {
			return SenderView{}, fmt.Errorf("get portfolio: %w", err)
		}
		if portfolios != nil {
			portfolios[key] = p
		}
	}
	tier := p.Tier
	if tier == "" {
		tier = s.MessagingLimit
	}
	if s.Assistants == nil {
		s.Assistants = []string{}
	}
	if s.StatusHistory == nil {
		s.StatusHistory = []sender.StatusChange{}
	}
	v := SenderView{Sender: s, MessagingLimit: tier, DailyLimit: sender.DailyLimit(tier),
		ThroughputLevel: s.ThroughputLevel, CodeAttemptsLeft: s.CodeAttemptsLeft()}
	switch {
	case v.DailyLimit == sender.Unlimited:
		v.LimitLabel = "unlimited"
	case tier != "" && sender.KnownTier(tier):
		v.LimitLabel = strconv.Itoa(v.DailyLimit)
	default:
		v.LimitLabel = sender.ProductLimitLabel(s.QualityRating)
	}
	return v, nil
}

func (a *API) writeSender(ctx context.Context, w http.ResponseWriter, status int, s *sender.Sender) error {
	tag := etag(s)
	v, err := a.view(ctx, s, nil)
	if err != nil {
		return err
	}
	if tag != "" {
		w.Header().Set("ETag", tag)
	}
	writeJSON(w, status, v)
	return nil
}

// createRequest is the body of POST /senders.
type createRequest struct {
	PhoneNumber   string   `json:"phoneNumber"`
	PhoneNumberID string   `json:"phoneNumberId"`
	WABAID        string   `json:"wabaId"`
	BusinessID    string   `json:"businessId"`
	Type          string   `json:"type"`
	DisplayName   string   `json:"displayName"`
	Assistants    []string `json:"assistants"`
}

func (a *API) createSender(w http.ResponseWriter, r *http.Request, _ []string) error {
	var in createRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	e164, err := phone.ParseE164(strings.TrimSpace(in.PhoneNumber))
	if err != nil {
		var pe *phone.Error
		if errors.As(err, &pe) {
			return &apiError{http.StatusBadRequest, "invalid_phone", "phoneNumber: " + pe.Error()}
		}
		return err
	}
	if err := graphID("phoneNumberId", in.PhoneNumberID, true); err != nil {
		return err
	}
	if err := graphID("wabaId", in.WABAID, true); err != nil {
		return err
	}
	if err := graphID("businessId", in.BusinessID, false); err != nil {
		return err
	}
	typ := sender.Type(in.Type)
	if typ != sender.TypePlatform && typ != sender.TypeExternal {
		return badRequest("type: want platform or external")
	}
	name, err := displayName(in.DisplayName)
	if err != nil {
		return err
	}
	assistants, err := assistantList(in.Assistants)
	if err != nil {
		return err
	}
	snd := sender.New(in.PhoneNumberID, typ, e164, in.WABAID, in.BusinessID, name, assistants, sender.SourceOperator, a.now().UTC())
	stampActor(snd, 0, principal(r.Context()))
	if err := a.store.CreateSender(r.Context(), snd); err != nil {
		return err
	}
	a.log.Info("sender created", "sender", snd.ID, "waba", snd.WABAID, "type", string(snd.Type))
	w.Header().Set("Location", "/senders/"+snd.ID)
	return a.writeSender(r.Context(), w, http.StatusCreated, snd)
}

// graphID checks a Meta object id: digits only (Graph ids are numeric), bounded.
func graphID(field, v string, required bool) error {
	if v == "" {
		if required {
			return badRequest("%s is required", field)
		}
		return nil
	}
	if len(v) > maxGraphID {
		return badRequest("%s: at most %d digits", field, maxGraphID)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return badRequest("%s: Meta ids are digits only", field)
		}
	}
	return nil
}

func displayName(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", badRequest("displayName is required")
	case !utf8.ValidString(v):
		return "", badRequest("displayName: not valid UTF-8")
	case utf8.RuneCountInString(v) > maxDisplayName:
		return "", badRequest("displayName: at most %d characters", maxDisplayName)
	}
	if err := checkText("displayName", v); err != nil {
		return "", err
	}
	return v, nil
}

// assistantList validates and de-duplicates assistant ids, keeping their order.
func assistantList(in []string) ([]string, error) {
	if len(in) > maxAssistants {
		return nil, badRequest("assistants: at most %d", maxAssistants)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, id := range in {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > maxAssistantID || !utf8.ValidString(id) {
			return nil, badRequest("assistants: ids are non-empty strings of at most %d bytes", maxAssistantID)
		}
		if err := checkText("assistants", id); err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// ListHistory is how many of a sender's newest history entries a list page shows (the sender's
// own GET shows all of them): it keeps a page of maxPageSize senders far under Lambda's 6 MB
// answer limit whatever their history length.
const ListHistory = 20

// capHistory returns s with only its newest ListHistory history entries (a copy when cut).
func capHistory(s *sender.Sender) (*sender.Sender, bool) {
	if len(s.StatusHistory) <= ListHistory {
		return s, false
	}
	c := *s
	c.StatusHistory = s.StatusHistory[len(s.StatusHistory)-ListHistory:]
	return &c, true
}

// listResponse is the body of GET /senders.
type listResponse struct {
	Senders    []SenderView `json:"senders"`
	NextCursor string       `json:"nextCursor,omitempty"`
}

func (a *API) listSenders(w http.ResponseWriter, r *http.Request, _ []string) error {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "status", "assistant", "limit", "cursor":
		default:
			return badRequest("unknown query parameter %s", k)
		}
	}
	f := store.SenderFilter{Status: sender.Status(q.Get("status")), Assistant: q.Get("assistant")}
	if f.Status != "" && !validStatus(f.Status) {
		return badRequest("status: want one of %s", statusList())
	}
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return badRequest("limit: want 1 to %d", maxPageSize)
		}
		limit = n
	}
	list, next, err := a.store.ListSenders(r.Context(), f, limit, q.Get("cursor"))
	if err != nil {
		return err
	}
	out := listResponse{Senders: make([]SenderView, 0, len(list)), NextCursor: next}
	portfolios := map[string]sender.Portfolio{}
	for _, s := range list {
		s, cut := capHistory(s)
		v, err := a.view(r.Context(), s, portfolios)
		if err != nil {
			return err
		}
		v.HistoryTruncated = cut
		out.Senders = append(out.Senders, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func validStatus(st sender.Status) bool {
	for _, s := range sender.Statuses {
		if s == st {
			return true
		}
	}
	return false
}

func statusList() string {
	var names []string
	for _, s := range sender.Statuses {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

func (a *API) getSender(w http.ResponseWriter, r *http.Request, p []string) error {
	snd, err := a.store.GetSender(r.Context(), p[0])
	if err != nil {
		return senderErr(err)
	}
	return a.writeSender(r.Context(), w, http.StatusOK, snd)
}

// senderErr names the sender in a not-found answer.
func senderErr(err error) error {
	if errors.Is(err, persist.ErrNotFound) {
		return &apiError{http.StatusNotFound, "sender_not_found", "no sender with this id"}
	}
	return err
}

// patchRequest is the body of PATCH /senders/{id}; absent fields are left alone.
type patchRequest struct {
	DisplayName *string   `json:"displayName"`
	Assistants  *[]string `json:"assistants"`
	Status      *string   `json:"status"`
}

func (a *API) patchSender(w http.ResponseWriter, r *http.Request, p []string) error {
	var in patchRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.DisplayName == nil && in.Assistants == nil && in.Status == nil {
		return badRequest("nothing to change: send displayName, assistants or status")
	}
	var name string
	if in.DisplayName != nil {
		var err error
		if name, err = displayName(*in.DisplayName); err != nil {
			return err
		}
	}
	var assistants []string
	if in.Assistants != nil {
		var err error
		if assistants, err = assistantList(*in.Assistants); err != nil {
			return err
		}
	}
	var ev sender.Event
	if in.Status != nil {
		switch sender.Status(*in.Status) {
		case sender.StatusOnline:
			ev = sender.EventEnable
		case sender.StatusOffline:
			ev = sender.EventDisable
		default:
			return badRequest("status: an operator sets online or offline; the other statuses follow verification and Meta")
		}
	}
	now := a.now().UTC()
	actor := principal(r.Context())
	// A registered number's display name is Meta's to approve: the change is requested there
	// and shows as pending until phone_number_name_update decides. Before registration the
	// name is only ours (it is what the number is registered with).
	atMeta := false
	if in.DisplayName != nil {
		cur, err := a.store.GetSender(r.Context(), p[0])
		if err != nil {
			return senderErr(err)
		}
		if err := checkIfMatch(r, cur); err != nil {
			return err
		}
		if cur.Registered() && cur.DisplayName != name && !(cur.RequestedDisplayName == name && cur.DisplayNameStatus == sender.NamePendingReview) {
			if err := a.graph.RequestDisplayName(r.Context(), cur.ID, name); err != nil {
				return err
			}
			atMeta = true
			a.log.Info("display name change requested at Meta", "sender", cur.ID)
		}
	}
	snd, err := a.store.UpdateSender(r.Context(), p[0], persist.InPlace(func(s *sender.Sender) error {
		if err := checkIfMatch(r, s); err != nil {
			return err
		}
		n := len(s.StatusHistory)
		defer stampActor(s, n, actor)
		changed := false
		if ev != "" {
			if err := s.Fire(ev, sender.SourceOperator, "set "+*in.Status+" by an operator", now); err != nil {
				return err
			}
			changed = true
		}
		switch {
		case in.DisplayName == nil:
		case atMeta:
			if s.RequestDisplayName(name, now) {
				changed = true
			}
		case s.Registered():
			// Requested already (or the current name): nothing more to do here.
		case s.DisplayName != name:
			s.DisplayName, changed = name, true
		}
		if in.Assistants != nil && !equalStrings(s.Assistants, assistants) {
			s.Assistants, changed = assistants, true
		}
		if !changed {
			return persist.ErrNoChange
		}
		s.UpdatedAt = now
		return nil
	}))
	if err != nil {
		return senderErr(err)
	}
	a.log.Info("sender updated", "sender", snd.ID, "status", string(snd.Status))
	return a.writeSender(r.Context(), w, http.StatusOK, snd)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// deleteResponse is the body of DELETE /senders/{id}.
type deleteResponse struct {
	ID       string `json:"id"`
	Archived bool   `json:"archived"`
	// Deregistered is false when the number was not registered at Meta anyway.
	Deregistered bool `json:"deregistered"`
}

func (a *API) deleteSender(w http.ResponseWriter, r *http.Request, p []string) error {
	ctx := r.Context()
	snd, err := a.store.GetSender(ctx, p[0])
	if err != nil {
		return senderErr(err)
	}
	if err := checkIfMatch(r, snd); err != nil {
		return err
	}
	// Deregister first: a number archived here but still registered at Meta would keep
	// receiving messages nobody handles. A number never registered (a typo in phoneNumberId
	// must stay deletable) or one Meta does not know as registered is done already.
	deregistered := false
	if everRegistered(snd) {
		if err := a.graph.Deregister(ctx, snd.ID); err != nil {
			if !graph.IsNotRegistered(err) && !unknownAtMeta(err) {
				return err
			}
		} else {
			deregistered = true
		}
	}
	if err := a.returnToPool(ctx, snd); err != nil {
		return err
	}
	if err := a.store.ArchiveSender(ctx, snd, a.now().UTC()); err != nil {
		return senderErr(err)
	}
	a.log.Info("sender deleted", "sender", snd.ID, "deregistered", deregistered)
	writeJSON(w, http.StatusOK, deleteResponse{ID: snd.ID, Archived: true, Deregistered: deregistered})
	return nil
}

// everRegistered reports whether the number may be registered at Meta: it is past code
// verification now, or was online once.
func everRegistered(s *sender.Sender) bool {
	switch s.Status {
	case sender.StatusConnecting, sender.StatusOnline, sender.StatusOffline:
		return true
	}
	for _, h := range s.StatusHistory {
		if h.To == sender.StatusOnline {
			return true
		}
	}
	return false
}

// unknownAtMeta reports Meta's "object does not exist" (100, subcode 33) for the number.
func unknownAtMeta(err error) bool {
	var ge *graph.Error
	return errors.As(err, &ge) && ge.Code == graph.CodeInvalidParam && ge.Subcode == 33
}
