package graphfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// titles are short Meta-style titles per code, used when a script gives only a code.
var titles = map[int]string{
	1:      "An unknown error has occurred",
	2:      "Service temporarily unavailable",
	4:      "Application request limit reached",
	100:    "Invalid parameter",
	190:    "Invalid OAuth access token - Cannot parse access token",
	368:    "Temporarily blocked for policies violations",
	80007:  "Rate limit issues",
	130429: "Rate limit hit",
	130497: "Business account is restricted from messaging users in this country",
	131000: "Something went wrong",
	131016: "Service unavailable",
	131021: "Recipient cannot be sender",
	131026: "Message undeliverable",
	131031: "Business Account locked",
	131042: "Business eligibility payment issue",
	131045: "Incorrect certificate",
	131047: "Re-engagement message",
	131048: "Spam rate limit hit",
	131049: "This message was not delivered to maintain healthy ecosystem engagement",
	131050: "User stopped marketing messages",
	131051: "Unsupported message type",
	131056: "(Business Account, Consumer Account) pair rate limit hit",
	131057: "Account in maintenance mode",
	131062: "Message type not supported for business-scoped user IDs",
	131064: "Messaging limit cut for template classification violations",
	132000: "Number of parameters does not match the expected number of params",
	132001: "Template name does not exist in the translation",
	132005: "Translated text too long",
	132007: "Template Format Character Policy Violated",
	132012: "Parameter format does not match format in the created template",
	132015: "Template is Paused",
	132016: "Template is Disabled",
	133000: "Incomplete deregistration",
	133005: "Two step verification PIN Mismatch",
	133006: "Phone number re-verification needed",
	133008: "Too many two step verification PIN guesses",
	133009: "Two step verification PIN Guessed Too Fast",
	133010: "Phone number Not Registered",
	133015: "Please wait a few minutes before attempting to register this phone number",
	133016: "Account register deregister rate limit exceeded",
	136024: "Request code error",
	136025: "Verify code error",
}

// Title returns the fake's Meta-style title for code ("(#131056) …"), or a generic one.
func Title(code int) string {
	t, ok := titles[code]
	if !ok {
		t = "Unknown error"
	}
	if code == 190 {
		return t // Meta does not prefix OAuth errors with the code
	}
	return fmt.Sprintf("(#%d) %s", code, t)
}

// StatusForCode is the HTTP status the fake answers a code with when a script gives none. Callers
// must branch on the code, so this only needs to be plausible: 401 for tokens, 5xx for Meta's
// own faults, 400 otherwise.
func StatusForCode(code int) int {
	switch code {
	case 190:
		return http.StatusUnauthorized
	case 1, 2, 131000:
		return http.StatusInternalServerError
	case 131016:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// ErrorBody renders Meta's error body. An empty message or details gets the code's title.
func ErrorBody(code, subcode int, message, details, fbtraceID string) []byte {
	if message == "" {
		message = Title(code)
	}
	if details == "" {
		details = strings.TrimSpace(strings.TrimPrefix(message, fmt.Sprintf("(#%d)", code)))
	}
	typ := "OAuthException"
	if subcode == 33 {
		typ = "GraphMethodException"
	}
	type errorData struct {
		MessagingProduct string `json:"messaging_product"`
		Details          string `json:"details"`
	}
	body := struct {
		Error struct {
			Message   string     `json:"message"`
			Type      string     `json:"type"`
			Code      int        `json:"code"`
			ErrorData *errorData `json:"error_data,omitempty"`
			Subcode   int        `json:"error_subcode,omitempty"`
			FBTraceID string     `json:"fbtrace_id"`
		} `json:"error"`
	}{}
	body.Error.Message = message
	body.Error.Type = typ
	body.Error.Code = code
	body.Error.Subcode = subcode
	body.Error.FBTraceID = fbtraceID
	if code != 190 && subcode != 33 {
		body.Error.ErrorData = &errorData{MessagingProduct: "whatsapp", Details: details}
	}
	b, _ := json.Marshal(body) // a fixed struct of strings and ints cannot fail
	return b
}

// metaError is an error answer the default behaviour decides on.
type metaError struct {
	status  int
	code    int
	subcode int
	message string
	details string
}

func errCode(code int, details string) *metaError {
	return &metaError{status: StatusForCode(code), code: code, details: details}
}

func errParam(details string) *metaError {
	return &metaError{status: http.StatusBadRequest, code: 100, message: "(#100) " + details, details: details}
}

func errNoObject(method, id string) *metaError {
	verb := "get"
	if method == http.MethodPost {
		verb = "post"
	}
	msg := fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", verb, id)
	return &metaError{status: http.StatusBadRequest, code: 100, subcode: 33, message: msg}
}
