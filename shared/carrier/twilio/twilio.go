// Package twilio is the carrier adapter for Twilio's REST API (2010-04-01): HTTP Basic auth with
// the account SID and auth token, form-encoded requests, JSON answers, Twilio's error body
// {"code","message","more_info","status"}. No SDK. The auth token goes only into the
// Authorization header: never into an error or a log line.
package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/phone"
)

// DefaultBaseURL is Twilio's REST host.
const DefaultBaseURL = "https://api.twilio.com"

const apiVersion = "2010-04-01"

// maxBody bounds an answer read.
const maxBody = 1 << 20

// Options configure a Client.
type Options struct {
	// BaseURL defaults to DefaultBaseURL; point it at carrierfake in tests.
	BaseURL    string
	AccountSID string
	AuthToken  string
	HTTPClient *http.Client
	// Timeout bounds each request; 0 is 10 s.
	Timeout time.Duration
}

// Client is a carrier.Carrier on Twilio. Safe for concurrent use.
type Client struct {
	base, sid, token string
	hc               *http.Client
	timeout          time.Duration
}

var _ carrier.Carrier = (*Client)(nil)

// New builds a Client; missing credentials surface on the first call.
func New(o Options) *Client {
	c := &Client{base: strings.TrimRight(o.BaseURL, "/"), sid: o.AccountSID, token: o.AuthToken, hc: o.HTTPClient, timeout: o.Timeout}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	return c
}

// ErrNoCredentials means the account SID or auth token is empty.
var ErrNoCredentials = errors.New("twilio: account SID and auth token are required")

// TransportError is a request that got no answer (the purchase may or may not have happened).
type TransportError struct {
	Op  string
	Err error
}

func (e *TransportError) Error() string { return "twilio " + e.Op + ": " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

func (c *Client) do(ctx context.Context, method, op, path string, query, form url.Values, out any) error {
	if c.sid == "" || c.token == "" {
		return ErrNoCredentials
	}
	u := c.base + "/" + apiVersion + "/Accounts/" + url.PathEscape(c.sid) + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("twilio %s: build request: %w", op, err)
	}
	req.SetBasicAuth(c.sid, c.token)
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &TransportError{Op: op, Err: fmt.Errorf("read answer (HTTP %d): %w", resp.StatusCode, err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseError(resp.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("twilio %s: decode answer: %w", op, err)
	}
	return nil
}

func parseError(status int, raw []byte) *carrier.Error {
	var w struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
		Status   int    `json:"status"`
	}
	e := &carrier.Error{HTTPStatus: status}
	if json.Unmarshal(raw, &w) == nil {
		e.Code, e.Message, e.MoreInfo = w.Code, w.Message, w.MoreInfo
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

var kindPaths = map[string]string{carrier.KindMobile: "Mobile", carrier.KindLocal: "Local"}

type wireAvailable struct {
	PhoneNumber         string          `json:"phone_number"`
	ISOCountry          string          `json:"iso_country"`
	Capabilities        map[string]bool `json:"capabilities"`
	AddressRequirements string          `json:"address_requirements"`
}

// capability reads a capability whatever its case ("SMS", "sms").
func capability(m map[string]bool, name string) bool {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return false
}

// Available lists numbers for sale that receive SMS and calls. Twilio's answer has no price
// (that is the Pricing API's business), so Price stays empty.
func (c *Client) Available(ctx context.Context, country, kind string, limit int) ([]carrier.Available, error) {
	kp, ok := kindPaths[kind]
	if !ok {
		return nil, fmt.Errorf("twilio available: kind %q: want mobile or local", kind)
	}
	if !phone.IsRegion(country) {
		return nil, fmt.Errorf("twilio available: country %q: want an ISO 3166-1 code", country)
	}
	if limit <= 0 || limit > 50 {
		limit = 20
	}
	q := url.Values{"SmsEnabled": {"true"}, "VoiceEnabled": {"true"}, "PageSize": {strconv.Itoa(limit)}}
	var out struct {
		Numbers []wireAvailable `json:"available_phone_numbers"`
	}
	if err := c.do(ctx, http.MethodGet, "available", "/AvailablePhoneNumbers/"+country+"/"+kp+".json", q, nil, &out); err != nil {
		return nil, err
	}
	list := make([]carrier.Available, 0, len(out.Numbers))
	for _, w := range out.Numbers {
		e164, err := phone.ParseE164(w.PhoneNumber)
		if err != nil {
			continue // a number we could not store is not one we offer
		}
		list = append(list, carrier.Available{
			E164: e164, Country: w.ISOCountry, Kind: kind, AddressRequired: w.AddressRequirements,
			Capabilities: carrier.Capabilities{SMS: capability(w.Capabilities, "sms"),
				Voice: capability(w.Capabilities, "voice"), MMS: capability(w.Capabilities, "mms")},
		})
	}
	return list, nil
}

type wireIncoming struct {
	SID         string `json:"sid"`
	PhoneNumber string `json:"phone_number"`
}

// Buy purchases e164 (POST IncomingPhoneNumbers.json) with SMS and voice webhooks set.
func (c *Client) Buy(ctx context.Context, e164 string, hooks carrier.Hooks, label string) (carrier.Owned, error) {
	form := url.Values{
		"PhoneNumber": {e164}, "SmsUrl": {hooks.SMSURL}, "SmsMethod": {"POST"},
		"VoiceUrl": {hooks.VoiceURL}, "VoiceMethod": {"POST"},
	}
	if label != "" {
		form.Set("FriendlyName", label)
	}
	var w wireIncoming
	if err := c.do(ctx, http.MethodPost, "buy", "/IncomingPhoneNumbers.json", nil, form, &w); err != nil {
		return carrier.Owned{}, err
	}
	if w.SID == "" {
		return carrier.Owned{}, fmt.Errorf("twilio buy: answer has no sid")
	}
	return carrier.Owned{SID: w.SID, E164: w.PhoneNumber}, nil
}

// Find looks the number up among the account's numbers (GET IncomingPhoneNumbers.json?PhoneNumber=).
func (c *Client) Find(ctx context.Context, e164 string) (carrier.Owned, error) {
	var out struct {
		Numbers []wireIncoming `json:"incoming_phone_numbers"`
	}
	if err := c.do(ctx, http.MethodGet, "find", "/IncomingPhoneNumbers.json", url.Values{"PhoneNumber": {e164}}, nil, &out); err != nil {
		return carrier.Owned{}, err
	}
	for _, w := range out.Numbers {
		if w.PhoneNumber == e164 {
			return carrier.Owned{SID: w.SID, E164: w.PhoneNumber}, nil
		}
	}
	return carrier.Owned{}, carrier.ErrNotOwned
}

// Release deletes the number (DELETE IncomingPhoneNumbers/{sid}.json → 204); a 404 means it
// is gone already.
func (c *Client) Release(ctx context.Context, sid string) error {
	if sid == "" || strings.ContainsAny(sid, "/?#") {
		return fmt.Errorf("twilio release: bad sid")
	}
	err := c.do(ctx, http.MethodDelete, "release", "/IncomingPhoneNumbers/"+sid+".json", nil, nil, nil)
	var ce *carrier.Error
	if errors.As(err, &ce) && ce.HTTPStatus == http.StatusNotFound {
		return nil
	}
	return err
}
