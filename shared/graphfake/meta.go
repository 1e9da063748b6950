package graphfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/aloro/wa-senders/shared/phone"
)

// messageTypes are the send types the fake accepts (Meta's list, as of v24–v26).
var messageTypes = map[string]bool{
	"text": true, "image": true, "video": true, "audio": true, "document": true, "sticker": true,
	"template": true, "interactive": true, "reaction": true, "location": true, "contacts": true,
}

var mediaTypes = map[string]bool{"image": true, "video": true, "audio": true, "document": true, "sticker": true}

// defaultAnswer is Meta's behaviour for a call no script answered.
func (f *Fake) defaultAnswer(c *call) result {
	if res, ok := f.appCall(c); ok {
		return res
	}
	if !c.authValid {
		return f.errorResult(errCode(190, ""))
	}
	if res, refused := f.scopeRefusal(c); refused {
		return res
	}
	if res, ok := f.wabaCall(c); ok {
		return res
	}
	if c.tooLarge {
		return f.errorResult(errParam("Request body is too large."))
	}
	if c.id == "" || c.extra {
		return f.errorResult(errNoObject(c.method, c.route))
	}
	if res, ok := f.preverifiedAnswer(c); ok {
		return res
	}
	switch {
	case c.method == http.MethodGet && c.edge == "":
		return f.getNode(c)
	case c.method == http.MethodPost && c.edge == "" && c.param("new_display_name") != "":
		return f.requestDisplayName(c)
	case c.method == http.MethodPost && c.edge == "":
		return f.setPIN(c)
	case c.edge == "whatsapp_business_profile" && (c.method == http.MethodGet || c.method == http.MethodPost):
		return f.businessProfile(c)
	case c.method == http.MethodPost && c.edge == "messages":
		return f.send(c)
	case c.method == http.MethodPost && c.edge == "request_code":
		return f.requestCode(c)
	case c.method == http.MethodPost && c.edge == "verify_code":
		return f.verifyCodeCall(c)
	case c.method == http.MethodPost && c.edge == "register":
		return f.register(c)
	case c.method == http.MethodPost && c.edge == "deregister":
		return f.deregister(c)
	}
	return f.errorResult(errNoObject(c.method, c.route))
}

func okJSON(v any) result {
	b, _ := json.Marshal(v) // maps of strings and slices cannot fail
	return result{status: http.StatusOK, body: b}
}

var success = okJSON(map[string]bool{"success": true})

// send validates a message body the way Meta documents it and accepts it.
func (f *Fake) send(c *call) result {
	f.mu.Lock()
	p := f.phoneFor(c.id)
	var registered bool
	var display string
	if p != nil {
		registered, display = p.state.registered(), p.state.DisplayPhoneNumber
	}
	f.mu.Unlock()
	if p == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	if !registered {
		return f.errorResult(errCode(133010, "The phone number is not registered on the WhatsApp Business Platform."))
	}
	if e := validateSend(c.body, display); e != nil {
		return f.errorResult(e)
	}

	b := c.body
	to, recipient := str(b["to"]), str(b["recipient"])
	typ := str(b["type"])
	if typ == "" {
		typ = "text"
	}
	wamid := f.newWAMID()
	s := &Send{PhoneNumberID: c.id, WAMID: wamid, To: to, Recipient: recipient, Type: typ,
		BizOpaqueCallbackData: str(b["biz_opaque_callback_data"]), Body: c.raw}
	contact := map[string]string{}
	if to != "" {
		// Meta uses `to` when both are given.
		s.WaID = digitsOnly(to)
		contact["input"], contact["wa_id"] = to, s.WaID
	} else {
		contact["input"], contact["user_id"] = recipient, recipient
	}
	if t, ok := b["template"].(map[string]any); ok {
		s.TemplateName = str(t["name"])
	}
	if ctx, ok := b["context"].(map[string]any); ok {
		s.ReplyTo = str(ctx["message_id"])
	}
	res := okJSON(map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{contact},
		"messages":          []any{map[string]string{"id": wamid, "message_status": "accepted"}},
	})
	res.wamid, res.send = wamid, s
	return res
}

// validateSend returns Meta's 100-style error for a malformed send body, or nil.
func validateSend(b map[string]any, senderDisplay string) *metaError {
	if b == nil {
		return errParam("The parameter messaging_product is required.")
	}
	switch mp := b["messaging_product"]; {
	case mp == nil:
		return errParam("The parameter messaging_product is required.")
	case str(mp) != "whatsapp":
		return errParam("Param messaging_product must be 'whatsapp'.")
	}
	if rt, ok := b["recipient_type"]; ok && str(rt) != "individual" && str(rt) != "group" {
		return errParam("Param recipient_type must be one of {individual, group}.")
	}
	to, recipient := str(b["to"]), str(b["recipient"])
	if to == "" && recipient == "" {
		return errParam("The parameter to is required.")
	}
	if to != "" {
		cleaned := strings.Map(func(r rune) rune {
			if strings.ContainsRune(" -().", r) {
				return -1
			}
			return r
		}, to)
		if _, err := phone.FromWaID(cleaned); err != nil {
			return errParam("Param to is not a valid WhatsApp phone number.")
		}
		if senderDisplay != "" && digitsOnly(cleaned) == digitsOnly(senderDisplay) {
			return errCode(131021, "The recipient phone number is the same as the sender's.")
		}
	}
	typ := str(b["type"])
	if _, ok := b["type"]; ok && typ == "" {
		return errParam("Param type must be a string.")
	}
	if typ == "" {
		typ = "text" // Meta's default
	}
	if !messageTypes[typ] {
		return errParam(fmt.Sprintf("Param type must be one of {%s}.", strings.Join(sortedKeys(messageTypes), ", ")))
	}
	if typ == "contacts" {
		if list, ok := b["contacts"].([]any); !ok || len(list) == 0 {
			return errParam("The parameter contacts is required.")
		}
		return nil
	}
	payload, ok := b[typ].(map[string]any)
	if !ok {
		return errParam(fmt.Sprintf("The parameter %s is required.", typ))
	}
	switch {
	case typ == "text":
		body := str(payload["body"])
		if body == "" {
			return errParam("The parameter text['body'] is required.")
		}
		if n := utf8.RuneCountInString(body); n > 4096 {
			return errParam(fmt.Sprintf("Param text['body'] must be at most 4096 characters long (got %d).", n))
		}
	case mediaTypes[typ]:
		if str(payload["id"]) == "" && str(payload["link"]) == "" {
			return errParam(fmt.Sprintf("Param %s must contain either id or link.", typ))
		}
	case typ == "template":
		if str(payload["name"]) == "" {
			return errParam("The parameter template['name'] is required.")
		}
		lang, _ := payload["language"].(map[string]any)
		if str(lang["code"]) == "" {
			return errParam("The parameter template['language']['code'] is required.")
		}
		if comps, ok := payload["components"]; ok {
			if _, isList := comps.([]any); !isList {
				return errParam("Param template['components'] must be an array.")
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (f *Fake) newWAMID() string {
	return fmt.Sprintf("wamid.FAKE%s%012d", f.wamidPrefix, f.idSeq.Add(1))
}

// phoneFields are the phone-number fields the fake serves; anything else is Meta's
// "nonexisting field" error, which catches typos in clients.
var phoneFields = map[string]bool{
	"id": true, "quality_rating": true, "whatsapp_business_manager_messaging_limit": true, "status": true,
	"name_status": true, "code_verification_status": true, "throughput": true, "verified_name": true,
	"display_phone_number": true, "platform_type": true, "account_mode": true, "health_status": true,
}

// defaultPhoneFields is what Meta returns for a phone number without ?fields=.
var defaultPhoneFields = []string{"verified_name", "code_verification_status", "display_phone_number",
	"quality_rating", "platform_type", "throughput", "id"}

func (f *Fake) getNode(c *call) result {
	f.mu.Lock()
	p := f.phoneFor(c.id)
	var st PhoneNumberState
	if p != nil {
		st = p.state
	}
	f.mu.Unlock()
	if p == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	fields := defaultPhoneFields
	if q := c.params.Get("fields"); q != "" {
		fields = strings.Split(q, ",")
	}
	out := map[string]any{"id": c.id}
	for _, name := range fields {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !phoneFields[name] {
			return f.errorResult(errParam(fmt.Sprintf("Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessPhoneNumber)", name)))
		}
		switch name {
		case "quality_rating":
			out[name] = st.QualityRating
		case "whatsapp_business_manager_messaging_limit":
			out[name] = st.MessagingLimit
		case "status":
			out[name] = st.Status
		case "name_status":
			out[name] = st.NameStatus
		case "code_verification_status":
			out[name] = st.CodeVerificationStatus
		case "throughput":
			out[name] = st.Throughput
		case "verified_name":
			out[name] = st.VerifiedName
		case "display_phone_number":
			out[name] = st.DisplayPhoneNumber
		case "platform_type":
			out[name] = st.PlatformType
		case "account_mode":
			out[name] = st.AccountMode
		case "health_status":
			out[name] = st.health(c.id)
		}
	}
	return okJSON(out)
}

func (f *Fake) requestCode(c *call) result {
	method := c.param("code_method")
	if method != "SMS" && method != "VOICE" {
		return f.errorResult(errParam("Param code_method must be one of {SMS, VOICE}."))
	}
	if c.param("language") == "" {
		return f.errorResult(errParam("The parameter language is required."))
	}
	f.mu.Lock()
	p := f.phoneFor(c.id)
	f.mu.Unlock()
	if p == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	return success
}

func (f *Fake) verifyCodeCall(c *call) result {
	code := c.param("code")
	if code == "" {
		return f.errorResult(errParam("The parameter code is required."))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.phoneFor(c.id)
	if p == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	if code != f.verifyCode {
		return f.errorResult(errCode(136025, "Code couldn't be verified, You have entered the wrong code."))
	}
	p.state.CodeVerificationStatus = "VERIFIED"
	return success
}

func (f *Fake) register(c *call) result {
	if c.param("messaging_product") != "whatsapp" {
		return f.errorResult(errParam("The parameter messaging_product is required."))
	}
	pin := c.param("pin")
	if len(pin) != 6 || digitsOnly(pin) != pin {
		return f.errorResult(errParam("Param pin must be 6 digits."))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.phoneFor(c.id)
	if p == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	if p.state.CodeVerificationStatus == "NOT_VERIFIED" || p.state.CodeVerificationStatus == "EXPIRED" {
		return f.errorResult(errCode(133006, "Verify the phone number before registering it."))
	}
	if !p.allowRegisterCall(f.now()) {
		return f.errorResult(errCode(133016, "Too many register/deregister calls for this number in 72 hours."))
	}
	if p.pin != "" && p.pin != pin {
		return f.errorResult(errCode(133005, "The two-step verification PIN is incorrect."))
	}
	p.pin = pin
	p.state.Status = "CONNECTED"
	return success
}

func (f *Fake) deregister(c *call) result {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.phoneFor(c.id)
	if p == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	if !p.allowRegisterCall(f.now()) {
		return f.errorResult(errCode(133016, "Too many register/deregister calls for this number in 72 hours."))
	}
	p.state.Status = "DISCONNECTED"
	return success
}

// setPIN is POST /{id} {"pin":"…"}: set or change the two-step verification PIN.
func (f *Fake) setPIN(c *call) result {
	pin := c.param("pin")
	if len(pin) != 6 || digitsOnly(pin) != pin {
		return f.errorResult(errParam("Param pin must be 6 digits."))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.phoneFor(c.id)
	if p == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	p.pin = pin
	return success
}
