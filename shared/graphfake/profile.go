package graphfake

import (
	"net/http"
	"strings"
)

// profileFields are the whatsapp_business_profile fields Meta serves.
var profileFields = map[string]bool{"about": true, "address": true, "description": true, "email": true,
	"profile_picture_url": true, "websites": true, "vertical": true, "messaging_product": true}

// verticals Meta accepts for vertical.
var verticals = map[string]bool{"UNDEFINED": true, "OTHER": true, "AUTO": true, "BEAUTY": true, "APPAREL": true,
	"EDU": true, "ENTERTAIN": true, "EVENT_PLAN": true, "FINANCE": true, "GROCERY": true, "GOVT": true,
	"HOTEL": true, "HEALTH": true, "NONPROFIT": true, "PROF_SERVICES": true, "RETAIL": true, "TRAVEL": true,
	"RESTAURANT": true, "ALCOHOL": true, "ONLINE_GAMBLING": true, "PHYSICAL_GAMBLING": true, "OTC_DRUGS": true}

// Profile limits Meta documents.
const (
	maxAbout       = 139
	maxAddress     = 256
	maxDescription = 512
	maxEmail       = 128
	maxWebsites    = 2
	maxWebsite     = 256
)

// Profile returns the business profile the fake holds for a number (tests).
func (f *Fake) Profile(id string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.profiles[id]
	if !ok {
		return nil, false
	}
	out := map[string]any{}
	for k, v := range p {
		out[k] = v
	}
	return out, true
}

// DisplayNameRequest returns the last new_display_name requested for a number (tests).
func (f *Fake) DisplayNameRequest(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nameRequests[id]
}

// businessProfile is GET or POST /{id}/whatsapp_business_profile.
func (f *Fake) businessProfile(c *call) result {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.phoneFor(c.id) == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	if f.profiles == nil {
		f.profiles = map[string]map[string]any{}
	}
	cur := f.profiles[c.id]
	if c.method == http.MethodGet {
		out := map[string]any{"messaging_product": "whatsapp"}
		fields := strings.Split(c.params.Get("fields"), ",")
		for _, name := range fields {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !profileFields[name] {
				return f.errorResult(errParam("Tried accessing nonexisting field (" + name + ") on node type (WhatsAppBusinessProfile)"))
			}
			if v, ok := cur[name]; ok {
				out[name] = v
			}
		}
		return okJSON(map[string]any{"data": []any{out}})
	}
	if str(c.body["messaging_product"]) != "whatsapp" {
		return f.errorResult(errParam("The parameter messaging_product is required."))
	}
	next := map[string]any{}
	for k, v := range cur {
		next[k] = v
	}
	for k, v := range c.body {
		switch k {
		case "messaging_product":
		case "about", "address", "description", "email", "vertical":
			s, ok := v.(string)
			if !ok || !profileTextOK(k, s) {
				return f.errorResult(errParam("Param " + k + " is invalid."))
			}
			next[k] = s
		case "websites":
			list, ok := v.([]any)
			if !ok || len(list) > maxWebsites {
				return f.errorResult(errParam("Param websites must be an array of at most 2 URLs."))
			}
			for _, w := range list {
				s, ok := w.(string)
				if !ok || len(s) > maxWebsite || !(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) {
					return f.errorResult(errParam("Param websites[] must be http or https URLs."))
				}
			}
			next[k] = list
		case "profile_picture_handle":
			if s, ok := v.(string); !ok || s == "" {
				return f.errorResult(errParam("Param profile_picture_handle is invalid."))
			}
			next["profile_picture_url"] = "https://pps.whatsapp.net/fake/" + c.id + ".jpg"
		default:
			return f.errorResult(errParam("Param " + k + " is not a valid parameter."))
		}
	}
	f.profiles[c.id] = next
	return success
}

func profileTextOK(field, s string) bool {
	switch field {
	case "about":
		return len([]rune(s)) <= maxAbout
	case "address":
		return len([]rune(s)) <= maxAddress
	case "description":
		return len([]rune(s)) <= maxDescription
	case "email":
		return len(s) <= maxEmail && (s == "" || strings.Contains(s, "@"))
	case "vertical":
		return s == "" || verticals[s]
	}
	return false
}

// requestDisplayName is POST /{id} {"new_display_name":"…"}: Meta queues the name for review.
func (f *Fake) requestDisplayName(c *call) result {
	name := strings.TrimSpace(c.param("new_display_name"))
	if name == "" || len([]rune(name)) > 512 {
		return f.errorResult(errParam("Param new_display_name is invalid."))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.phoneFor(c.id)
	if p == nil {
		return f.errorResult(errNoObject(c.method, c.id))
	}
	if f.nameRequests == nil {
		f.nameRequests = map[string]string{}
	}
	f.nameRequests[c.id] = name
	p.state.NameStatus = "PENDING_REVIEW"
	return success
}
