// Package awsclient builds the AWS SDK clients once per cold start and reads the secret.
//
// Endpoints come from the SDK's own AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS, so the same
// binary talks to AWS or to the local stack (DynamoDB Local, fauxqs) without code changes.
package awsclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/config"
)

// IdleConnsPerHost is how many idle connections the SDK's HTTP client keeps per host. The
// SDK's default (10) is below the webhook's parallelism (16 storage calls of one POST in
// flight), so a batch POST would open, and then close, connections on every call.
const IdleConnsPerHost = 64

// HTTPClient is the SDK's HTTP client with IdleConnsPerHost.
func HTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 2 * IdleConnsPerHost
		tr.MaxIdleConnsPerHost = IdleConnsPerHost
	})
}

// Load returns the SDK configuration (region, credentials, endpoints from the environment).
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithHTTPClient(HTTPClient()))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	return cfg, nil
}

// DynamoDB returns a client. Against a loopback endpoint (DynamoDB Local) response checksum
// validation is off: Local's 4xx bodies do not match their CRC and the SDK would log a warning
// for every conditional-check failure.
func DynamoDB(cfg aws.Config) *dynamodb.Client {
	local := isLoopback(os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")) || isLoopback(os.Getenv("AWS_ENDPOINT_URL"))
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if local {
			o.DisableValidateResponseChecksum = true
		}
	})
}

// SQS returns a client.
func SQS(cfg aws.Config) *sqs.Client { return sqs.NewFromConfig(cfg) }

// Secrets reads a Secrets Manager secret; it implements config.SecretSource.
type Secrets struct{ Client *secretsmanager.Client }

var _ config.SecretSource = Secrets{}

// SecretString returns the secret's string value.
func (s Secrets) SecretString(ctx context.Context, arn string) (string, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("get secret value: %w", err)
	}
	return aws.ToString(out.SecretString), nil
}

// Bootstrap loads the SDK configuration and the function configuration, reading the secret
// from Secrets Manager only when the environment does not already carry what need asks for.
func Bootstrap(ctx context.Context, need config.Need) (config.Config, aws.Config, error) {
	awsCfg, err := Load(ctx)
	if err != nil {
		return config.Config{}, aws.Config{}, err
	}
	cfg, err := config.Load(ctx, os.Getenv, Secrets{Client: secretsmanager.NewFromConfig(awsCfg)}, need)
	if err != nil {
		return config.Config{}, aws.Config{}, err
	}
	return cfg, awsCfg, nil
}

func isLoopback(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}
