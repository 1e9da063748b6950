package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/phone"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/store"
)

// apiError is an error with its HTTP answer. Its message is written for the caller and never
// carries a code, a PIN or an internal error text.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
}

// errorBody is the error envelope.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	var b errorBody
	b.Error.Code, b.Error.Message = e.code, e.message
	writeJSON(w, e.status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing left to do
}

// fail maps err to its answer. Unknown errors are logged (they never carry codes or PINs: no
// handler wraps those) and answered 500 without their text.
func (a *API) fail(w http.ResponseWriter, r *http.Request, routeName string, err error) {
	e := a.classify(err)
	if e.status >= 500 {
		a.log.Error("admin api error", "route", routeName, "status", e.status, "error", err.Error())
	}
	writeError(w, e)
}

func (a *API) classify(err error) *apiError {
	var ae *apiError
	var te *sender.TransitionError
	var pe *phone.Error
	var mbe *http.MaxBytesError
	var ge *graph.Error
	var tre *graph.TransportError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &te):
		return &apiError{http.StatusConflict, "transition_refused", fmt.Sprintf("the sender is %s: %s", te.From, te.Reason)}
	case errors.As(err, &pe):
		return &apiError{http.StatusBadRequest, "invalid_phone", pe.Error()}
	case errors.As(err, &mbe):
		return &apiError{http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)}
	case errors.Is(err, persist.ErrNotFound):
		return &apiError{http.StatusNotFound, "not_found", "not found"}
	case errors.Is(err, store.ErrSenderExists):
		return &apiError{http.StatusConflict, "sender_exists", "a sender with this phoneNumberId already exists"}
	case errors.Is(err, store.ErrPhoneTaken):
		return &apiError{http.StatusConflict, "phone_taken", "this phone number already belongs to a sender"}
	case errors.Is(err, persist.ErrConflict):
		return &apiError{http.StatusConflict, "conflict", "the sender changed concurrently; retry"}
	case errors.Is(err, store.ErrBadCursor):
		return &apiError{http.StatusBadRequest, "invalid_cursor", "the cursor was not issued by this API"}
	case errors.As(err, &ge), errors.As(err, &tre), errors.Is(err, graph.ErrUnexpectedResponse),
		errors.Is(err, graph.ErrNoToken), errors.Is(err, graph.ErrInvalidRequest):
		return graphFailure(err)
	case errors.Is(err, ErrInvalidRequest) || errors.Is(err, outbound.ErrInvalid) || isBadRequest(err):
		return &apiError{http.StatusBadRequest, "invalid_request", err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusServiceUnavailable, "unavailable", "the request ran out of time; retry"}
	}
	return &apiError{http.StatusInternalServerError, "internal", "internal error"}
}

// isBadRequest recognises validation errors of other packages by behaviour.
func isBadRequest(err error) bool {
	var br interface{ BadRequest() bool }
	return errors.As(err, &br) && br.BadRequest()
}

// graphFailure is the 502 for a failed Graph API call: the class and Meta's code, never the
// error text (which could quote request fields).
func graphFailure(err error) *apiError {
	class := graph.Classify(err)
	msg := fmt.Sprintf("the Graph API failed (%s", class)
	if c := graph.Code(err); c != 0 {
		msg += fmt.Sprintf(", code %d", c)
	}
	msg += ")"
	if class.Retryable() {
		msg += "; retry later"
	}
	return &apiError{http.StatusBadGateway, "graph_error", msg}
}

// decode reads a JSON object body into v strictly: a Content-Type other than application/json,
// duplicate (or case-duplicate) keys, unknown fields, trailing data and bodies over the limit
// are refused.
func decode(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := checkKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("the body must hold one JSON object")
	}
	return nil
}

// readBody reads the whole (size-limited) body and refuses invalid UTF-8, which encoding/json
// would otherwise silently turn into U+FFFD and store.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, decodeError(err)
	}
	if !utf8.Valid(body) {
		return nil, badRequest("the body is not valid UTF-8")
	}
	return body, nil
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("the body is empty; send a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the body is not valid JSON")
	case errors.As(err, &ute):
		if ute.Field == "" {
			return badRequest("the body must be a JSON object")
		}
		return badRequest("%s: want a %s", ute.Field, ute.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("the body could not be read")
}
