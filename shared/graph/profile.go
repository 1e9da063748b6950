package graph

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// BusinessProfileFields is what GetBusinessProfile reads (Meta's whatsapp_business_profile).
const BusinessProfileFields = "about,address,description,email,profile_picture_url,websites,vertical"

// BusinessProfile is a phone number's WhatsApp business profile as Meta shows it.
type BusinessProfile struct {
	About             string   `json:"about,omitempty"`
	Address           string   `json:"address,omitempty"`
	Description       string   `json:"description,omitempty"`
	Email             string   `json:"email,omitempty"`
	Websites          []string `json:"websites,omitempty"`
	Vertical          string   `json:"vertical,omitempty"`
	ProfilePictureURL string   `json:"profile_picture_url,omitempty"`
}

// BusinessProfileUpdate is a change to the profile: nil fields are left alone; an empty string
// clears a field. ProfilePictureHandle is a handle from Meta's resumable upload.
type BusinessProfileUpdate struct {
	About                *string   `json:"about,omitempty"`
	Address              *string   `json:"address,omitempty"`
	Description          *string   `json:"description,omitempty"`
	Email                *string   `json:"email,omitempty"`
	Websites             *[]string `json:"websites,omitempty"`
	Vertical             *string   `json:"vertical,omitempty"`
	ProfilePictureHandle *string   `json:"profile_picture_handle,omitempty"`
}

// GetBusinessProfile reads GET /{phone_number_id}/whatsapp_business_profile.
func (c *Client) GetBusinessProfile(ctx context.Context, phoneNumberID string) (BusinessProfile, error) {
	var out struct {
		Data []BusinessProfile `json:"data"`
	}
	q := url.Values{"fields": {BusinessProfileFields}}
	if err := c.do(ctx, http.MethodGet, phoneNumberID, "whatsapp_business_profile", q, nil, &out); err != nil {
		return BusinessProfile{}, fmt.Errorf("get business profile: %w", err)
	}
	if len(out.Data) == 0 {
		return BusinessProfile{}, fmt.Errorf("get business profile: no data: %w", ErrUnexpectedResponse)
	}
	return out.Data[0], nil
}

// UpdateBusinessProfile sends POST /{phone_number_id}/whatsapp_business_profile.
func (c *Client) UpdateBusinessProfile(ctx context.Context, phoneNumberID string, u BusinessProfileUpdate) error {
	body := struct {
		MessagingProduct string `json:"messaging_product"`
		BusinessProfileUpdate
	}{"whatsapp", u}
	if err := c.postSuccess(ctx, phoneNumberID, "whatsapp_business_profile", body); err != nil {
		return fmt.Errorf("update business profile: %w", err)
	}
	return nil
}

// RequestDisplayName asks Meta to change the number's display name (POST /{phone_number_id}
// with new_display_name). Meta reviews it; phone_number_name_update tells the decision, after
// which an approved name needs the number registered again.
func (c *Client) RequestDisplayName(ctx context.Context, phoneNumberID, name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("request display name: empty name: %w", ErrInvalidRequest)
	}
	body := struct {
		NewDisplayName string `json:"new_display_name"`
	}{name}
	if err := c.postSuccess(ctx, phoneNumberID, "", body); err != nil {
		return fmt.Errorf("request display name: %w", err)
	}
	return nil
}
