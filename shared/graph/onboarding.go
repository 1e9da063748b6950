package graph

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// tokenKey carries an explicit access token in a context.
type tokenKey struct{}

// appAuthKey marks a request authenticated by app id and secret in its query (no bearer token).
type appAuthKey struct{}

// WithToken returns a context whose Graph calls use token instead of the client's token
// resolution: the onboarding flow acts with a business token before it is stored.
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

func withAppAuth(ctx context.Context) context.Context {
	return context.WithValue(ctx, appAuthKey{}, true)
}

func isAppAuth(ctx context.Context) bool {
	v, _ := ctx.Value(appAuthKey{}).(bool)
	return v
}

// resolveToken picks the token of one call: an explicit one in ctx, else the business token of
// the node called (Options.TokenFor), else the client's own (platform) token.
func (c *Client) resolveToken(ctx context.Context, nodeID string) (string, error) {
	if isAppAuth(ctx) {
		return "app", nil // never sent: the query carries the app credentials
	}
	if t, ok := ctx.Value(tokenKey{}).(string); ok && t != "" {
		return t, nil
	}
	if c.tokenFor != nil {
		t, err := c.tokenFor(ctx, nodeID)
		if err != nil {
			return "", err
		}
		if t != "" {
			return t, nil
		}
	}
	return c.token(ctx)
}

// ExchangeCode trades Embedded Signup's exchangeable code for the business's access token
// (GET /oauth/access_token with the app's id and secret). A code works once; a used or expired
// one is an *Error (OAuthException, code 100).
func (c *Client) ExchangeCode(ctx context.Context, appID, appSecret, code string) (string, error) {
	if appID == "" || appSecret == "" || code == "" {
		return "", fmt.Errorf("exchange code: app id, app secret and code are required: %w", ErrInvalidRequest)
	}
	q := url.Values{"client_id": {appID}, "client_secret": {appSecret}, "code": {code}}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := c.do(withAppAuth(ctx), http.MethodGet, "oauth", "access_token", q, nil, &out); err != nil {
		return "", fmt.Errorf("exchange code: %w", err)
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("exchange code: answer has no access_token: %w", ErrUnexpectedResponse)
	}
	return out.AccessToken, nil
}

// Scopes Meta grants a business token for the WhatsApp Business Platform.
const (
	ScopeManagement = "whatsapp_business_management"
	ScopeMessaging  = "whatsapp_business_messaging"
)

// TokenInfo is what debug_token says about a token.
type TokenInfo struct {
	AppID string
	Type  string
	Valid bool
	// Scopes are the permissions granted.
	Scopes []string
	// Targets are the asset ids each granular scope is limited to; a scope granted without
	// target ids applies to every asset the token can see.
	Targets map[string][]string
}

// Grants reports whether the token holds scope on asset id.
func (t TokenInfo) Grants(scope, id string) bool {
	ids, ok := t.Targets[scope]
	if !ok {
		return false
	}
	if len(ids) == 0 {
		return true
	}
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// DebugToken inspects input with the app's credentials (GET /debug_token).
func (c *Client) DebugToken(ctx context.Context, appID, appSecret, input string) (TokenInfo, error) {
	if appID == "" || appSecret == "" || input == "" {
		return TokenInfo{}, fmt.Errorf("debug token: app id, app secret and token are required: %w", ErrInvalidRequest)
	}
	q := url.Values{"input_token": {input}, "access_token": {appID + "|" + appSecret}}
	var out struct {
		Data *struct {
			AppID          flexString `json:"app_id"`
			Type           string     `json:"type"`
			IsValid        bool       `json:"is_valid"`
			Scopes         []string   `json:"scopes"`
			GranularScopes []struct {
				Scope     string       `json:"scope"`
				TargetIDs []flexString `json:"target_ids"`
			} `json:"granular_scopes"`
		} `json:"data"`
	}
	if err := c.do(withAppAuth(ctx), http.MethodGet, "debug_token", "", q, nil, &out); err != nil {
		return TokenInfo{}, fmt.Errorf("debug token: %w", err)
	}
	if out.Data == nil {
		return TokenInfo{}, fmt.Errorf("debug token: answer has no data: %w", ErrUnexpectedResponse)
	}
	info := TokenInfo{AppID: string(out.Data.AppID), Type: out.Data.Type, Valid: out.Data.IsValid,
		Scopes: out.Data.Scopes, Targets: map[string][]string{}}
	for _, g := range out.Data.GranularScopes {
		ids := []string{}
		for _, id := range g.TargetIDs {
			ids = append(ids, string(id))
		}
		info.Targets[g.Scope] = append(info.Targets[g.Scope], ids...)
	}
	return info, nil
}

// SubscribeApp subscribes the app to the WABA's webhooks (POST /{waba}/subscribed_apps).
func (c *Client) SubscribeApp(ctx context.Context, wabaID string) error {
	if err := c.postSuccess(ctx, wabaID, "subscribed_apps", nil); err != nil {
		return fmt.Errorf("subscribe app: %w", err)
	}
	return nil
}

// WABAOwner returns the business portfolio that owns the WABA (owner_business_info.id).
func (c *Client) WABAOwner(ctx context.Context, wabaID string) (string, error) {
	var out struct {
		Owner *struct {
			ID flexString `json:"id"`
		} `json:"owner_business_info"`
	}
	q := url.Values{"fields": {"owner_business_info"}}
	if err := c.do(ctx, http.MethodGet, wabaID, "", q, nil, &out); err != nil {
		return "", fmt.Errorf("get waba owner: %w", err)
	}
	if out.Owner == nil || out.Owner.ID == "" {
		return "", fmt.Errorf("get waba owner: answer has no owner_business_info: %w", ErrUnexpectedResponse)
	}
	return string(out.Owner.ID), nil
}

// ListPhoneNumbers lists the WABA's phone numbers (GET /{waba}/phone_numbers, first page: an
// Embedded Signup WABA holds a handful).
func (c *Client) ListPhoneNumbers(ctx context.Context, wabaID string) ([]PhoneNumber, error) {
	var out struct {
		Data []wirePhoneNumber `json:"data"`
	}
	q := url.Values{"fields": {"id,display_phone_number,verified_name,quality_rating,code_verification_status,status"}}
	if err := c.do(ctx, http.MethodGet, wabaID, "phone_numbers", q, nil, &out); err != nil {
		return nil, fmt.Errorf("list phone numbers: %w", err)
	}
	list := make([]PhoneNumber, 0, len(out.Data))
	for _, w := range out.Data {
		list = append(list, PhoneNumber{ID: string(w.ID), DisplayPhoneNumber: w.DisplayPhoneNumber,
			VerifiedName: w.VerifiedName, QualityRating: w.QualityRating,
			CodeVerificationStatus: w.CodeVerificationStatus, Status: w.Status})
	}
	return list, nil
}

// SetPIN sets the number's two-step verification PIN (POST /{phone_number_id} {"pin"}).
func (c *Client) SetPIN(ctx context.Context, phoneNumberID, pin string) error {
	if !sixDigits(pin) {
		return fmt.Errorf("set pin: pin must be 6 digits: %w", ErrInvalidRequest)
	}
	body := struct {
		PIN string `json:"pin"`
	}{pin}
	if err := c.postSuccess(ctx, phoneNumberID, "", body); err != nil {
		return fmt.Errorf("set pin: %w", err)
	}
	return nil
}
