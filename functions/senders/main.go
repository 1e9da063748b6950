// Command senders is the sender admin API Lambda (API Gateway HTTP API, IAM-authorized).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/lambdahttp"
	"github.com/aloro/wa-senders/shared/logging"
)

func main() {
	log := logging.New(os.Stdout, os.Getenv(config.EnvLogLevel))
	deps, err := app.Bootstrap(context.Background(), config.Need{AccessToken: true, OutboundQueue: true, AppSecret: true, AppID: true, Carrier: true, CredentialsKey: true}, log)
	if err != nil {
		logging.Fatal(log, "cold start", err)
	}
	deps = deps.WithGraph()
	h, err := app.Senders(deps)
	if err != nil {
		logging.Fatal(log, "cold start", err)
	}
	lambda.Start(lambdahttp.Handler(h))
}
