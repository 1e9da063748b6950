package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// numberParams are the platform-number parameters (template.yaml has the same four).
type numberParams struct {
	mode, portfolio, webhookBase, hold *string
}

func newNumberParams(stack constructs.Construct) numberParams {
	str := func(id, def, description string, allowed ...string) *string {
		p := &awscdk.CfnParameterProps{Type: jsii.String("String"), Default: jsii.String(def), Description: jsii.String(description)}
		if len(allowed) > 0 {
			p.AllowedValues = jsii.Strings(allowed...)
		}
		return awscdk.NewCfnParameter(stack, jsii.String(id), p).ValueAsString()
	}
	return numberParams{
		mode: str("NumberPoolMode", "off", "off; preverified (a Solution Partner's pre-verified numbers, offered in Embedded Signup); "+
			"waba (added to the customer's WABA after onboarding).", "off", "preverified", "waba"),
		portfolio: str("BusinessPortfolioId", "", "The platform's business portfolio that holds pre-verified numbers (preverified mode)."),
		webhookBase: str("CarrierWebhookBaseUrl", "", "Public base URL of this stack's HTTP API (the ApiUrl output, or a custom domain); "+
			"the carrier posts SMS and calls to <base>/carrier/... and signs that exact URL."),
		hold: str("NumberHold", "720h", "How long a returned platform number stays unused before it is released to the carrier."),
	}
}

// addCarrierRoutes adds the carrier's webhooks: public like /webhook, the function checks
// X-Twilio-Signature on each.
func addCarrierRoutes(api awsapigatewayv2.HttpApi, admin awsapigatewayv2.HttpRouteIntegration) {
	for _, path := range []string{"/carrier/sms", "/carrier/voice", "/carrier/voice/transcription"} {
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_POST},
			Integration: admin,
		})
	}
}

// carrierThrottle is the stage's throttling of each carrier webhook route.
func carrierThrottle() map[string]any {
	return map[string]any{"ThrottlingBurstLimit": 20, "ThrottlingRateLimit": 10}
}
