package graph

import "errors"

// Refused reports that Meta answered a request with an error and so did not act on it: an
// *Error below HTTP 500. A transport error or a 5xx leaves open whether Meta acted.
func Refused(err error) bool {
	var ge *Error
	return errors.As(err, &ge) && ge.HTTPStatus < 500
}
