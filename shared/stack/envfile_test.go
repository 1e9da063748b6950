package stack

import (
	"errors"
	"io/fs"
	"maps"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/config"
)

func TestLocalEnvFileIsComplete(t *testing.T) {
	tmpl := repoTemplate(t, Options{Parameters: map[string]string{"GraphApiBaseUrl": "http://127.0.0.1:8090", "WebhookSecretArn": "", "PlatformSecretArn": ""}})
	f, err := tmpl.LocalEnvFile(Local{
		DynamoDBEndpoint: "http://127.0.0.1:8000",
		SQSEndpoint:      "http://127.0.0.1:9324",
		QueueURLs: map[string]string{
			"OutboundQueue": "http://127.0.0.1:9324/000000000000/wa-senders-local-outbound.fifo",
			"InboundQueue":  "http://127.0.0.1:9324/000000000000/wa-senders-local-inbound",
			"OutboundDLQ":   "http://127.0.0.1:9324/000000000000/wa-senders-local-outbound-dlq.fifo",
			"InboundDLQ":    "http://127.0.0.1:9324/000000000000/wa-senders-local-inbound-dlq",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		config.EnvTableName:           "wa-senders-local-SendersTable",
		config.EnvOutboundQueueURL:    "http://127.0.0.1:9324/000000000000/wa-senders-local-outbound.fifo",
		config.EnvInboundQueueURL:     "http://127.0.0.1:9324/000000000000/wa-senders-local-inbound",
		config.EnvGraphBaseURL:        "http://127.0.0.1:8090",
		config.EnvGraphVersion:        "v26.0",
		config.EnvAppSecret:           LocalAppSecret,
		config.EnvVerifyToken:         LocalVerifyToken,
		config.EnvAccessToken:         LocalAccessToken,
		config.EnvAppID:               LocalAppID,
		config.EnvCredentialsLocalKey: LocalCredentialsKey,
		config.EnvCredentialsKMSKey:   "alias/wa-senders-local-credentials",
		EnvEndpointDynamoDB:           "http://127.0.0.1:8000",
		EnvEndpointSQS:                "http://127.0.0.1:9324",
		EnvRegion:                     "us-east-1",
		EnvAccessKeyID:                "local",
		EnvSecretAccessKey:            "local",
		// Platform numbers: the template's defaults (off) and the carrier fake's local values.
		config.EnvNumberPoolMode:        "off",
		config.EnvBusinessPortfolioID:   "",
		config.EnvCarrierWebhookBaseURL: "",
		config.EnvNumberHold:            "720h",
		config.EnvCarrierAccountSID:     carrierfake.DefaultAccountSID,
		config.EnvCarrierAuthToken:      carrierfake.DefaultAuthToken,
		config.EnvCarrierBaseURL:        LocalCarrierBaseURL,
	}
	// Each function also names its own secret's ARN (empty locally: the values above are used).
	secretARN := map[string]string{"WebhookFunction": config.EnvWebhookSecretARN, "OutboundFunction": config.EnvPlatformSecretARN,
		"SendersFunction": config.EnvPlatformSecretARN, "ReconcilerFunction": config.EnvPlatformSecretARN}
	for _, id := range []string{"WebhookFunction", "OutboundFunction", "SendersFunction", "ReconcilerFunction", EnvFileParameters} {
		want := maps.Clone(want)
		if arn, ok := secretARN[id]; ok {
			want[arn] = ""
		}
		if diff := cmp.Diff(want, f[id]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", id, diff)
		}
	}
	if len(f) != 5 {
		t.Errorf("sections = %d, want 4 functions + Parameters", len(f))
	}

	// The whole contract loads with the file's variables alone, without Secrets Manager.
	env := f.For("WebhookFunction")
	cfg, err := config.Load(t.Context(), func(k string) string { return env[k] }, nil,
		config.Need{OutboundQueue: true, InboundQueue: true, AppSecret: true, VerifyToken: true, AccessToken: true})
	if err != nil {
		t.Fatalf("config.Load with the env file's variables: %v", err)
	}
	if cfg.TableName != want[config.EnvTableName] || cfg.GraphBaseURL != "http://127.0.0.1:8090" {
		t.Errorf("config = table %q graph %q", cfg.TableName, cfg.GraphBaseURL)
	}
}

func TestEnvFileForAndRoundTrip(t *testing.T) {
	f := EnvFile{
		EnvFileParameters: {"A": "shared", "B": "shared"},
		"Fn":              {"B": "own", "C": "own"},
	}
	if diff := cmp.Diff(map[string]string{"A": "shared", "B": "own", "C": "own"}, f.For("Fn")); diff != "" {
		t.Errorf("For (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"A": "shared", "B": "shared"}, f.For("Other")); diff != "" {
		t.Errorf("For of a function without a section (-want +got):\n%s", diff)
	}
	path := filepath.Join(t.TempDir(), "sub", "env.json")
	if err := WriteEnvFile(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := ReadEnvFile(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
}
