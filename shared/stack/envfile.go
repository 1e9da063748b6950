package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/config"
)

// Local values of the secrets (never real ones). Sample webhook events are signed with
// LocalAppSecret.
const (
	LocalAppSecret   = "local-app-secret"
	LocalVerifyToken = "local-verify-token"
	LocalAccessToken = "local-access-token"
	// LocalAppID is the app id of the Embedded Signup code exchange (the Graph API fake's).
	LocalAppID = "local-app-id"
	// LocalCredentialsKey (base64, 32 bytes) wraps the sealed business tokens and PINs of the
	// local stack, where no KMS exists. A development key: never used by a deployed stack.
	LocalCredentialsKey = "bG9jYWwtY3JlZGVudGlhbHMta2V5LTMyLWJ5dGVzISE="
)

// Local platform-number settings: the carrier fake cmd/localrun serves, the backend's default
// address (where the carrier posts; sample carrier events are signed for it with the carrier
// fake's auth token) and a local business portfolio id.
const (
	LocalCarrierBaseURL        = "http://127.0.0.1:8091"
	LocalCarrierWebhookBaseURL = "http://127.0.0.1:8080"
	LocalBusinessPortfolioID   = "555000111"
)

// SDK environment variables the local functions need besides the template's.
const (
	EnvEndpointDynamoDB = "AWS_ENDPOINT_URL_DYNAMODB"
	EnvEndpointSQS      = "AWS_ENDPOINT_URL_SQS"
	EnvRegion           = "AWS_REGION"
	EnvAccessKeyID      = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey  = "AWS_SECRET_ACCESS_KEY"
)

// EnvFileParameters is the env file key whose variables apply to every function.
const EnvFileParameters = "Parameters"

// EnvFile is .local/env.json in the format of `sam local invoke --env-vars`: a JSON object keyed
// by function logical id, each a map of variable to value, plus "Parameters" applying to all.
type EnvFile map[string]map[string]string

// Local describes where the local stack answers, for LocalEnvFile.
type Local struct {
	DynamoDBEndpoint string // http://127.0.0.1:8000
	SQSEndpoint      string // http://127.0.0.1:9324
	// QueueURLs by logical id, as fauxqs returned them.
	QueueURLs map[string]string
}

// LocalEnvFile builds the env file: for every function the template's environment with
// references resolved, plus the local secrets, SDK endpoints, region and credentials, so that a
// function started with only one section's variables works. Parameters holds the variables
// every function shares with the same value (here: all of them).
//
// Template parameters (GraphApiBaseUrl, WebhookSecretArn, ...) are taken at the values t was
// parsed with: pass the local ones in Options.Parameters.
func (t *Template) LocalEnvFile(l Local) (EnvFile, error) {
	extra := map[string]string{
		config.EnvAppSecret:           LocalAppSecret,
		config.EnvVerifyToken:         LocalVerifyToken,
		config.EnvAccessToken:         LocalAccessToken,
		config.EnvAppID:               LocalAppID,
		config.EnvCredentialsLocalKey: LocalCredentialsKey,
		EnvEndpointDynamoDB:           l.DynamoDBEndpoint,
		EnvEndpointSQS:                l.SQSEndpoint,
		EnvRegion:                     LocalRegion,
		EnvAccessKeyID:                LocalAccessKeyID,
		EnvSecretAccessKey:            LocalSecretAccessKey,
		// The carrier fake's credentials and address (cmd/localrun serves it there).
		config.EnvCarrierAccountSID: carrierfake.DefaultAccountSID,
		config.EnvCarrierAuthToken:  carrierfake.DefaultAuthToken,
		config.EnvCarrierBaseURL:    LocalCarrierBaseURL,
	}
	f := EnvFile{}
	for _, fn := range t.Functions {
		env, err := t.Env(fn.LogicalID, l.QueueURLs)
		if err != nil {
			return nil, err
		}
		for k, v := range extra {
			// The template declares some of these empty (so SAM passes them): fill those too.
			if env[k] == "" {
				env[k] = v
			}
		}
		f[fn.LogicalID] = env
	}
	common := map[string]string{}
	first := true
	for id, env := range f {
		if id == EnvFileParameters {
			continue
		}
		if first {
			for k, v := range env {
				common[k] = v
			}
			first = false
			continue
		}
		for k, v := range common {
			if ev, ok := env[k]; !ok || ev != v {
				delete(common, k)
			}
		}
	}
	if first { // no functions: the shared settings alone
		common = extra
	}
	f[EnvFileParameters] = common
	return f, nil
}

// For returns the variables for a function: Parameters overlaid by the function's section.
func (f EnvFile) For(logicalID string) map[string]string {
	out := map[string]string{}
	for k, v := range f[EnvFileParameters] {
		out[k] = v
	}
	for k, v := range f[logicalID] {
		out[k] = v
	}
	return out
}

// ReadEnvFile reads an env file; a missing file is an error wrapping fs.ErrNotExist.
func ReadEnvFile(path string) (EnvFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	var f EnvFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object of objects of strings: %w", path, err)
	}
	return f, nil
}

// WriteEnvFile writes f atomically (readers never see half a file).
func WriteEnvFile(path string, f EnvFile) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode env file: %w", err)
	}
	return writeFileAtomic(path, append(data, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	merr := tmp.Chmod(0o644)
	cerr := tmp.Close()
	if err := errors.Join(werr, merr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SortedNames returns the keys of an environment in order, for stable output.
func SortedNames(env map[string]string) []string {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
