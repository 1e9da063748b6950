// Command outbound is the outbound consumer Lambda: the SQS event source on the outbound FIFO
// queue (ReportBatchItemFailures) hands it batches of message requests; it decides free-form,
// template or refusal, sends through the Graph API and records each outcome.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/logging"
)

func main() {
	log := logging.New(os.Stdout, os.Getenv(config.EnvLogLevel))
	deps, err := app.Bootstrap(context.Background(), config.Need{OutboundQueue: true, AccessToken: true, CredentialsKey: true}, log)
	if err != nil {
		logging.Fatal(log, "cold start", err)
	}
	deps = deps.WithGraph()
	handle, err := app.Outbound(deps)
	if err != nil {
		logging.Fatal(log, "cold start", err)
	}
	lambda.Start(handle)
}
