package graphfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Embedded Signup in the fake: a test (or `make run` through POST /_fake/signup) plays the
// business finishing the flow with AddBusiness, which returns the exchangeable code. The code
// works once at GET /oauth/access_token; the business token it yields is scoped to that
// business's WABA and numbers, so a call on another business's asset fails with Meta's
// permission error (#200). The platform token (Options.Token) keeps access to everything.

// DefaultAppID and DefaultAppSecret are the app credentials the code exchange accepts when
// Options.AppID / Options.AppSecret are empty (the app secret is also the webhook signing key
// in `make run`).
const (
	DefaultAppID     = "local-app-id"
	DefaultAppSecret = "local-app-secret"
)

// PlatformOwner is Send.TokenOwner for a send made with the platform token.
const PlatformOwner = "platform"

// Business is a business finishing Embedded Signup in the fake.
type Business struct {
	// ID is the business portfolio id; WABAID the WABA it created or picked.
	ID     string `json:"businessId"`
	WABAID string `json:"wabaId"`
	// PhoneNumberIDs are the numbers added in the flow; each starts verified but not
	// registered unless already set by SetPhoneNumber.
	PhoneNumberIDs []string `json:"phoneNumberIds,omitempty"`
	// VerifiedName is the display name of the numbers (DefaultPhoneNumber's when empty).
	VerifiedName string `json:"verifiedName,omitempty"`
}

// grant is what one business token may reach.
type grant struct {
	business string
	wabas    []string
	phones   []string
	revoked  bool
}

func (g *grant) allows(id string) bool {
	return slices.Contains(g.wabas, id) || slices.Contains(g.phones, id)
}

// signup is the fake's Embedded Signup state. Guarded by Fake.mu.
type signup struct {
	codes  map[string]*codeState
	tokens map[string]*grant
	wabas  map[string]*Business
	subs   map[string]bool // WABA ids our app is subscribed to
}

type codeState struct {
	b    Business
	used bool
}

func (f *Fake) signupLocked() *signup {
	if f.su == nil {
		f.su = &signup{codes: map[string]*codeState{}, tokens: map[string]*grant{}, wabas: map[string]*Business{}, subs: map[string]bool{}}
	}
	return f.su
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// AddBusiness records b as having finished Embedded Signup and returns a fresh exchangeable
// code for it. Calling it again for the same business returns another code (a new session).
func (f *Fake) AddBusiness(b Business) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	su := f.signupLocked()
	bb := b
	su.wabas[b.WABAID] = &bb
	for _, id := range b.PhoneNumberIDs {
		if _, ok := f.phones[id]; ok {
			continue
		}
		st := DefaultPhoneNumber(id)
		st.Status = "PENDING" // verified in the flow, not registered yet
		if b.VerifiedName != "" {
			st.VerifiedName = b.VerifiedName
		}
		f.phones[id] = &numberRecord{state: st}
	}
	code := "fake-code-" + randomHex(12)
	su.codes[code] = &codeState{b: b}
	return code
}

// RevokeBusinessTokens makes every token of business answer 190, as when it removes the app.
func (f *Fake) RevokeBusinessTokens(business string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.signupLocked().tokens {
		if g.business == business {
			g.revoked = true
		}
	}
}

// Subscribed reports whether the app subscribed to the WABA's webhooks.
func (f *Fake) Subscribed(waba string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.signupLocked().subs[waba]
}

// PIN returns the two-step PIN the fake holds for a number (tests only; never served).
func (f *Fake) PIN(phoneNumberID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.phones[phoneNumberID]; p != nil {
		return p.pin
	}
	return ""
}

// tokenOwner names who a bearer token belongs to: PlatformOwner, a business id, or "" when the
// token is unknown or revoked. Caller holds f.mu.
func (f *Fake) tokenOwnerLocked(tok string) string {
	if tok == f.token {
		return PlatformOwner
	}
	if f.su == nil {
		return ""
	}
	if g := f.su.tokens[tok]; g != nil && !g.revoked {
		return g.business
	}
	return ""
}

// bearer returns the request's access token (header or query).
func bearer(r *http.Request) string {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return tok
	}
	return r.URL.Query().Get("access_token")
}

// TokenFingerprint is how records name a token without holding it: the first 12 hex digits
// of its SHA-256.
func TokenFingerprint(tok string) string {
	if tok == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:6])
}

// appCall answers the calls authenticated by app id and secret (no bearer token): the code
// exchange and debug_token. ok is false for every other call.
func (f *Fake) appCall(c *call) (result, bool) {
	switch {
	case c.method == http.MethodGet && c.id == "oauth" && c.edge == "access_token" && !c.extra:
		return f.exchange(c), true
	case c.method == http.MethodGet && c.id == "debug_token" && c.edge == "":
		return f.debugToken(c), true
	}
	return result{}, false
}

func (f *Fake) exchange(c *call) result {
	if c.params.Get("client_id") != f.appID || c.params.Get("client_secret") != f.appSecret {
		return f.errorResult(&metaError{status: http.StatusBadRequest, code: 101,
			message: "Error validating application. Invalid application ID or secret."})
	}
	code := c.params.Get("code")
	f.mu.Lock()
	defer f.mu.Unlock()
	su := f.signupLocked()
	cs := su.codes[code]
	if code == "" || cs == nil || cs.used {
		return f.errorResult(&metaError{status: http.StatusBadRequest, code: 100, subcode: 36009,
			message: "This authorization code has been used.", details: "This authorization code has been used."})
	}
	cs.used = true
	tok := "fake-biz-token-" + randomHex(16)
	su.tokens[tok] = &grant{business: cs.b.ID, wabas: []string{cs.b.WABAID}, phones: slices.Clone(cs.b.PhoneNumberIDs)}
	return okJSON(map[string]string{"access_token": tok, "token_type": "bearer"})
}

func (f *Fake) debugToken(c *call) result {
	if c.params.Get("access_token") != f.appID+"|"+f.appSecret {
		return f.errorResult(errCode(190, ""))
	}
	input := c.params.Get("input_token")
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.signupLocked().tokens[input]
	data := map[string]any{"app_id": f.appID, "type": "SYSTEM_USER", "is_valid": false}
	switch {
	case input == f.token:
		data["is_valid"] = true
		data["scopes"] = []string{"whatsapp_business_management", "whatsapp_business_messaging", "business_management"}
	case g != nil && !g.revoked:
		data["is_valid"] = true
		data["scopes"] = []string{"whatsapp_business_management", "whatsapp_business_messaging"}
		data["granular_scopes"] = []map[string]any{
			{"scope": "whatsapp_business_management", "target_ids": g.wabas},
			{"scope": "whatsapp_business_messaging", "target_ids": g.wabas},
		}
	}
	return okJSON(map[string]any{"data": data})
}

// scopeRefusal is Meta's answer when a business token reaches for another business's asset.
// ok is false when the call is allowed. Caller must not hold f.mu.
func (f *Fake) scopeRefusal(c *call) (result, bool) {
	f.mu.Lock()
	var g *grant
	if f.su != nil {
		g = f.su.tokens[c.token]
	}
	f.mu.Unlock()
	if g == nil || g.allows(c.id) {
		return result{}, false
	}
	return f.errorResult(&metaError{status: http.StatusForbidden, code: 200, message: "(#200) Permissions error",
		details: "The access token does not grant access to this WhatsApp Business Account or phone number."}), true
}

// wabaCall answers the WABA-level calls of onboarding: subscribed_apps, phone_numbers and
// owner_business_info. ok is false when the node is not a WABA the fake knows.
func (f *Fake) wabaCall(c *call) (result, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	su := f.signupLocked()
	b := su.wabas[c.id]
	if b == nil || c.extra {
		return result{}, false
	}
	switch {
	case c.edge == "subscribed_apps" && c.method == http.MethodPost:
		su.subs[c.id] = true
		return success, true
	case c.edge == "subscribed_apps" && c.method == http.MethodGet:
		data := []map[string]any{}
		if su.subs[c.id] {
			data = append(data, map[string]any{"whatsapp_business_api_data": map[string]string{"id": f.appID}})
		}
		return okJSON(map[string]any{"data": data}), true
	case c.edge == "subscribed_apps" && c.method == http.MethodDelete:
		delete(su.subs, c.id)
		return success, true
	case c.edge == "phone_numbers" && c.method == http.MethodGet:
		data := []map[string]any{}
		for _, id := range b.PhoneNumberIDs {
			st := DefaultPhoneNumber(id)
			if p := f.phones[id]; p != nil {
				st = p.state
			}
			data = append(data, map[string]any{"id": id, "display_phone_number": st.DisplayPhoneNumber,
				"verified_name": st.VerifiedName, "quality_rating": st.QualityRating,
				"code_verification_status": st.CodeVerificationStatus, "status": st.Status})
		}
		return okJSON(map[string]any{"data": data}), true
	case c.edge == "" && c.method == http.MethodGet:
		return okJSON(map[string]any{"id": c.id, "owner_business_info": map[string]string{"id": b.ID, "name": "Business " + b.ID}}), true
	}
	return result{}, false
}

// serveSignup is POST /_fake/signup: a business finishes Embedded Signup; the answer is the
// exchangeable code the product's page would post to the backend.
func (f *Fake) serveSignup(w http.ResponseWriter, r *http.Request) {
	var b Business
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&b); err != nil {
		controlError(w, http.StatusBadRequest, fmt.Errorf("decode business: %w", err))
		return
	}
	if b.ID == "" || b.WABAID == "" {
		controlError(w, http.StatusBadRequest, errors.New("businessId and wabaId are required"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": f.AddBusiness(b)})
}
