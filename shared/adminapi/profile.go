package adminapi

import (
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aloro/wa-senders/shared/graph"
)

// Business profile limits Meta documents for whatsapp_business_profile.
const (
	maxAbout       = 139
	maxAddress     = 256
	maxDescription = 512
	maxEmail       = 128
	maxWebsites    = 2
	maxWebsite     = 256
)

// profileVerticals are the industries Meta accepts for vertical.
var profileVerticals = map[string]bool{"UNDEFINED": true, "OTHER": true, "AUTO": true, "BEAUTY": true, "APPAREL": true,
	"EDU": true, "ENTERTAIN": true, "EVENT_PLAN": true, "FINANCE": true, "GROCERY": true, "GOVT": true,
	"HOTEL": true, "HEALTH": true, "NONPROFIT": true, "PROF_SERVICES": true, "RETAIL": true, "TRAVEL": true,
	"RESTAURANT": true, "ALCOHOL": true, "ONLINE_GAMBLING": true, "PHYSICAL_GAMBLING": true, "OTC_DRUGS": true}

// ProfileView is a sender's WhatsApp business profile as Meta shows it.
type ProfileView struct {
	SenderID          string   `json:"senderId"`
	About             string   `json:"about"`
	Address           string   `json:"address"`
	Description       string   `json:"description"`
	Email             string   `json:"email"`
	Websites          []string `json:"websites"`
	Vertical          string   `json:"vertical"`
	ProfilePictureURL string   `json:"profilePictureUrl,omitempty"`
}

// profilePatch is the body of PATCH /senders/{id}/profile; absent fields are left alone, ""
// clears one.
type profilePatch struct {
	About                *string   `json:"about"`
	Address              *string   `json:"address"`
	Description          *string   `json:"description"`
	Email                *string   `json:"email"`
	Websites             *[]string `json:"websites"`
	Vertical             *string   `json:"vertical"`
	ProfilePictureHandle *string   `json:"profilePictureHandle"`
}

func profileView(id string, p graph.BusinessProfile) ProfileView {
	v := ProfileView{SenderID: id, About: p.About, Address: p.Address, Description: p.Description,
		Email: p.Email, Websites: p.Websites, Vertical: p.Vertical, ProfilePictureURL: p.ProfilePictureURL}
	if v.Websites == nil {
		v.Websites = []string{}
	}
	return v
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request, p []string) error {
	snd, err := a.store.GetSender(r.Context(), p[0])
	if err != nil {
		return senderErr(err)
	}
	prof, err := a.graph.GetBusinessProfile(r.Context(), snd.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, profileView(snd.ID, prof))
	return nil
}

func (a *API) patchProfile(w http.ResponseWriter, r *http.Request, p []string) error {
	var in profilePatch
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := in.validate()
	if err != nil {
		return err
	}
	ctx := r.Context()
	snd, err := a.store.GetSender(ctx, p[0])
	if err != nil {
		return senderErr(err)
	}
	if err := a.graph.UpdateBusinessProfile(ctx, snd.ID, u); err != nil {
		return err
	}
	a.log.Info("business profile updated", "sender", snd.ID)
	prof, err := a.graph.GetBusinessProfile(ctx, snd.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, profileView(snd.ID, prof))
	return nil
}

// validate checks the patch against Meta's documented limits, so a bad value is a clear 400
// here rather than Meta's 100 behind a 502.
func (in profilePatch) validate() (graph.BusinessProfileUpdate, error) {
	u := graph.BusinessProfileUpdate{About: in.About, Address: in.Address, Description: in.Description,
		Email: in.Email, Websites: in.Websites, Vertical: in.Vertical, ProfilePictureHandle: in.ProfilePictureHandle}
	if in == (profilePatch{}) {
		return u, badRequest("nothing to change: send about, address, description, email, websites, vertical or profilePictureHandle")
	}
	text := func(field string, v *string, limit int) error {
		if v == nil {
			return nil
		}
		if utf8.RuneCountInString(*v) > limit {
			return badRequest("%s: at most %d characters", field, limit)
		}
		// Line breaks belong in a description; other controls and bidi overrides do not.
		return checkText(field, strings.NewReplacer("\n", "", "\r", "").Replace(*v))
	}
	for _, f := range []struct {
		name  string
		v     *string
		limit int
	}{{"about", in.About, maxAbout}, {"address", in.Address, maxAddress}, {"description", in.Description, maxDescription},
		{"email", in.Email, maxEmail}, {"profilePictureHandle", in.ProfilePictureHandle, 1024}} {
		if err := text(f.name, f.v, f.limit); err != nil {
			return u, err
		}
	}
	if in.About != nil && *in.About == "" {
		return u, badRequest("about: Meta requires some text (1 to %d characters)", maxAbout)
	}
	if in.Email != nil && *in.Email != "" {
		if a, err := mail.ParseAddress(*in.Email); err != nil || a.Address != *in.Email {
			return u, badRequest("email: want an address such as help@example.com")
		}
	}
	if in.Vertical != nil && *in.Vertical != "" && !profileVerticals[*in.Vertical] {
		return u, badRequest("vertical: not one of Meta's industries (e.g. RETAIL, OTHER)")
	}
	if in.Websites != nil {
		if len(*in.Websites) > maxWebsites {
			return u, badRequest("websites: at most %d", maxWebsites)
		}
		for _, s := range *in.Websites {
			pu, err := url.Parse(s)
			if err != nil || len(s) > maxWebsite || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				return u, badRequest("websites: http or https URLs of at most %d characters", maxWebsite)
			}
		}
	}
	if in.ProfilePictureHandle != nil && *in.ProfilePictureHandle == "" {
		return u, badRequest("profilePictureHandle: a handle from Meta's resumable upload")
	}
	return u, nil
}
