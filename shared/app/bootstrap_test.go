package app_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/logging"
)

// TestColdStartNeedsAUsableVaultKey: the functions that seal or open business tokens (outbound,
// senders, reconciler) refuse to start with a credentials key they cannot use; the webhook,
// which only forgets tokens, starts without one.
func TestColdStartNeedsAUsableVaultKey(t *testing.T) {
	t.Parallel()
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
	sends := config.Need{OutboundQueue: true, AccessToken: true, CredentialsKey: true}
	webhook := config.Need{InboundQueue: true, OutboundQueue: true, AppSecret: true, VerifyToken: true}
	for _, tc := range []struct {
		name     string
		need     config.Need
		localKey string
		kmsKey   string
		wantErr  bool
	}{
		{"sender, local key", sends, good, "", false},
		{"sender, KMS key", sends, "", "alias/creds", false},
		{"sender, key not base64", sends, "not base64!", "", true},
		{"sender, key too short", sends, short, "", true},
		{"sender, no key", sends, "", "", true},
		{"webhook, no key", webhook, "", "", false},
		{"webhook, bad key", webhook, "not base64!", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Config{TableName: "t", CredentialsKMSKeyID: tc.kmsKey,
				Secrets: config.Secrets{CredentialsLocalKey: tc.localKey}}
			var logs bytes.Buffer
			d, err := app.FromAWS(cfg, aws.Config{Region: "us-east-1"}, tc.need, logging.New(&logs, "DEBUG"))
			if tc.wantErr {
				if err == nil {
					t.Fatal("cold start went on with a vault that cannot open tokens")
				}
				var me *config.MissingError
				if tc.localKey == "" && !errors.As(err, &me) {
					t.Errorf("no key: err = %v; want *config.MissingError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("cold start: %v", err)
			}
			if d.Vault == nil || d.Store == nil {
				t.Fatal("deps without vault or store")
			}
			if tc.localKey != "" && strings.Contains(logs.String(), tc.localKey) {
				t.Error("the credentials key was logged")
			}
		})
	}
}
