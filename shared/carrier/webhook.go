package carrier

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// SignatureHeader carries the carrier's signature of a webhook (Twilio's name).
const SignatureHeader = "X-Twilio-Signature"

// Sentinel errors of VerifySignature.
var (
	// ErrNoSecret means the auth token is empty: the check is never skipped.
	ErrNoSecret = errors.New("carrier: auth token is empty")
	// ErrMissingSignature means the signature header is absent or blank.
	ErrMissingSignature = errors.New("carrier: missing " + SignatureHeader)
	// ErrBadSignature means the signature does not match the URL and parameters.
	ErrBadSignature = errors.New("carrier: signature does not match the request")
)

// Sign computes the carrier's signature of a form POST: Base64(HMAC-SHA1(token, the full URL
// as called + every POST parameter sorted by name, each name followed by its value)).
// Repeated names keep their values in the order sent after the sort by name.
func Sign(token, fullURL string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifySignature checks header against the signature of fullURL and params, in constant time.
func VerifySignature(token, fullURL string, params url.Values, header string) error {
	if token == "" {
		return ErrNoSecret
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrMissingSignature
	}
	want := Sign(token, fullURL, params)
	if !hmac.Equal([]byte(want), []byte(header)) {
		return ErrBadSignature
	}
	return nil
}

// Inbound kinds.
const (
	InboundSMS           = "sms"
	InboundCall          = "call"
	InboundTranscription = "transcription"
)

// Inbound is one carrier webhook, read from its form parameters. Text (an SMS body or a
// transcription) is never logged.
type Inbound struct {
	Kind string
	// ID is the carrier's id of the event (MessageSid, or CallSid for a call and its
	// transcription), used to drop replays.
	ID        string
	AccountID string
	To        string
	From      string
	Text      string
	// Status is the transcription status ("completed", "failed"); empty otherwise.
	Status string
}

// ErrNotInbound means the parameters are not an SMS, a call or a transcription.
var ErrNotInbound = errors.New("carrier: not an SMS, call or transcription webhook")

// ParseInbound reads a webhook's parameters as Twilio documents them for kind's route.
func ParseInbound(kind string, p url.Values) (Inbound, error) {
	in := Inbound{Kind: kind, AccountID: p.Get("AccountSid"), To: p.Get("To"), From: p.Get("From")}
	switch kind {
	case InboundSMS:
		in.ID, in.Text = p.Get("MessageSid"), p.Get("Body")
		if in.ID == "" {
			in.ID = p.Get("SmsSid")
		}
	case InboundCall:
		in.ID = p.Get("CallSid")
	case InboundTranscription:
		in.ID, in.Text, in.Status = p.Get("CallSid"), p.Get("TranscriptionText"), p.Get("TranscriptionStatus")
		if in.ID == "" {
			in.ID = p.Get("TranscriptionSid")
		}
	default:
		return Inbound{}, ErrNotInbound
	}
	if in.ID == "" || in.To == "" {
		return Inbound{}, ErrNotInbound
	}
	return in, nil
}
