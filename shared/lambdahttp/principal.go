package lambdahttp

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

type principalKey struct{}

// Unauthenticated is the principal of an event that carries no IAM authorizer context.
const Unauthenticated = "unauthenticated"

// WithPrincipal returns ctx carrying the caller's principal.
func WithPrincipal(ctx context.Context, p string) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Principal returns the caller's principal put in ctx by Request (or WithPrincipal); ok is false
// for a request that did not come through an API Gateway event (make run, tests).
func Principal(ctx context.Context) (p string, ok bool) {
	p, ok = ctx.Value(principalKey{}).(string)
	return p, ok
}

// eventPrincipal is the IAM principal API Gateway's authorizer verified: the caller's ARN,
// else its user id, else Unauthenticated.
func eventPrincipal(ev events.APIGatewayV2HTTPRequest) string {
	if a := ev.RequestContext.Authorizer; a != nil && a.IAM != nil {
		switch {
		case a.IAM.UserARN != "":
			return a.IAM.UserARN
		case a.IAM.UserID != "":
			return a.IAM.UserID
		}
	}
	return Unauthenticated
}
