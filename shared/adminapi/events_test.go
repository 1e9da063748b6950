package adminapi_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/credentials"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/lambdahttp"
	"github.com/aloro/wa-senders/shared/logging"
	"github.com/aloro/wa-senders/shared/stack"
	"github.com/aloro/wa-senders/shared/store"
	"github.com/aloro/wa-senders/shared/testenv"
)

// TestSampleEvents invokes every events/senders sample, in name order, through the composed
// handler on an empty table with the Graph fake, and checks expect.json: what CI does under
// the Lambda emulator.
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	dir := filepath.Join(testenv.RepoRoot(t), "events", "senders")
	raw, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expect map[string]struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal(raw, &expect); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)

	ddb := testenv.DynamoDB(t)
	_, fakeURL := graphfake.ServeNew(t, graphfake.Options{})
	st := store.New(ddb, testenv.Table(t, ddb), nil)
	h, err := app.Senders(app.Deps{
		// Platform numbers on with the local values `make up` writes (the carrier events are
		// signed for them).
		Config: config.Config{
			Secrets: config.Secrets{CarrierAccountSID: carrierfake.DefaultAccountSID, CarrierAuthToken: carrierfake.DefaultAuthToken},
			Numbers: config.Numbers{Mode: config.PoolPreVerified, BusinessID: stack.LocalBusinessPortfolioID,
				CarrierBaseURL: stack.LocalCarrierBaseURL, WebhookBaseURL: stack.LocalCarrierWebhookBaseURL},
		},
		Store: st,
		Vault: credentials.New(credentials.Options{Store: st, Keys: credentials.RandomLocalKey()}),
		Graph: graph.New(graph.Options{BaseURL: fakeURL, Version: "v24.0", Token: graphfake.DefaultToken}),
		Log:   logging.New(os.Stderr, "ERROR"),
		Now:   time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	invoke := lambdahttp.Handler(h)
	seen := 0
	for _, f := range files {
		name := filepath.Base(f)
		if name == "expect.json" {
			continue
		}
		seen++
		want, ok := expect[name]
		if !ok {
			t.Errorf("%s has no expectation in expect.json", name)
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res, err := invoke(context.Background(), ev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.StatusCode != want.StatusCode {
			t.Errorf("%s: status %d (%s), want %d", name, res.StatusCode, res.Body, want.StatusCode)
		}
	}
	if seen != len(expect) {
		t.Errorf("expect.json lists %d events, the folder has %d", len(expect), seen)
	}
}
