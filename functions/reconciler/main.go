// Command reconciler is the scheduled Lambda that reconciles every sender with Meta's view of
// its phone number (EventBridge schedule in template.yaml).
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/logging"
)

func main() {
	log := logging.New(os.Stdout, os.Getenv(config.EnvLogLevel))
	deps, err := app.Bootstrap(context.Background(), config.Need{AccessToken: true, OutboundQueue: true, AppSecret: true, AppID: true, Carrier: true, CredentialsKey: true}, log)
	if err != nil {
		logging.Fatal(log, "cold start", err)
	}
	deps = deps.WithGraph()
	run, err := app.Reconciler(deps)
	if err != nil {
		logging.Fatal(log, "cold start", err)
	}
	// The scheduled event carries nothing the run needs.
	lambda.Start(func(ctx context.Context, _ json.RawMessage) error { return run(ctx) })
}
