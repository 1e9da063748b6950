package awsclient_test

import (
	"testing"

	"github.com/aloro/wa-senders/shared/awsclient"
	"github.com/aloro/wa-senders/shared/webhook"
)

// TestIdleConnsCoverWebhookParallelism: every storage call a POST has in flight can reuse an
// idle connection afterwards.
func TestIdleConnsCoverWebhookParallelism(t *testing.T) {
	t.Parallel()
	tr := awsclient.HTTPClient().GetTransport()
	if tr.MaxIdleConnsPerHost < webhook.DefaultParallelism || tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
		t.Fatalf("idle connections per host %d (total %d), want at least the webhook's parallelism %d",
			tr.MaxIdleConnsPerHost, tr.MaxIdleConns, webhook.DefaultParallelism)
	}
}
