// Command echo is a throwaway Lambda function for cmd/invoke's tests: it answers like an HTTP
// handler, an SQS handler or a plain function depending on the event, and reports a few
// environment variables so the tests can check what the invoker passed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	StatusCode int  `json:"statusCode"`
	Fail       bool `json:"fail"`
	Records    []struct {
		MessageID string `json:"messageId"`
		Body      string `json:"body"`
	} `json:"Records"`
}

type failure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var e event
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	if e.Fail {
		return nil, errors.New("asked to fail")
	}
	if e.Records != nil {
		failures := []failure{}
		for _, r := range e.Records {
			if r.Body == "fail" {
				failures = append(failures, failure{r.MessageID})
			}
		}
		return map[string]any{"batchItemFailures": failures}, nil
	}
	env := map[string]string{}
	for _, k := range []string{"TABLE_NAME", "GRAPH_API_VERSION", "OVERRIDE_ME", "FROM_ENV_FILE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_LOG_FORMAT", "SECRET_FROM_HOST"} {
		env[k] = os.Getenv(k)
	}
	resp := map[string]any{"env": env}
	if e.StatusCode != 0 {
		resp["statusCode"] = e.StatusCode
	}
	return resp, nil
}

func main() { lambda.Start(handle) }
