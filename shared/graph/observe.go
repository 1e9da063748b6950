package graph

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// ObservationFields asks for the phone number object and its health_status in one read.
const ObservationFields = PhoneNumberFields + ",health_status"

// GetPhoneNumberWithHealth reads the phone number object and its health_status in one call
// (GET /{phone_number_id}?fields=…,health_status), half the calls of GetPhoneNumber plus
// GetHealthStatus against Meta's per-WABA call budget. health is nil when Meta left
// health_status out of the answer.
func (c *Client) GetPhoneNumberWithHealth(ctx context.Context, phoneNumberID string) (PhoneNumber, *HealthStatus, error) {
	var w struct {
		wirePhoneNumber
		wireHealth
	}
	q := url.Values{"fields": {ObservationFields}}
	if err := c.do(ctx, http.MethodGet, phoneNumberID, "", q, nil, &w); err != nil {
		return PhoneNumber{}, nil, fmt.Errorf("get phone number with health: %w", err)
	}
	p := w.wirePhoneNumber.phone(phoneNumberID)
	if h, ok := w.wireHealth.health(); ok {
		return p, &h, nil
	}
	return p, nil, nil
}
