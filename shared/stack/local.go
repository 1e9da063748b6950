package stack

import (
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Local credentials. DynamoDB Local runs with -sharedDb, so any key sees the same tables.
const (
	LocalAccessKeyID     = "local"
	LocalSecretAccessKey = "local"
)

// LocalConfig is an SDK configuration for the local stack: static credentials and the local
// region, with no profile, SSO or IMDS lookups.
func LocalConfig() aws.Config {
	return aws.Config{
		Region:      LocalRegion,
		Credentials: credentials.NewStaticCredentialsProvider(LocalAccessKeyID, LocalSecretAccessKey, ""),
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
	}
}

// LocalDynamoDB is a client for DynamoDB Local at endpoint (for example http://127.0.0.1:8000).
func LocalDynamoDB(endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(LocalConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		// DynamoDB Local's 4xx bodies do not match their CRC32 header; the SDK would log a
		// warning for every conditional-check failure.
		o.DisableValidateResponseChecksum = true
	})
}

// LocalSQS is a client for fauxqs at endpoint (for example http://127.0.0.1:9324).
func LocalSQS(endpoint string) *sqs.Client {
	return sqs.NewFromConfig(LocalConfig(), func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}
