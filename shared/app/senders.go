package app

import (
	"errors"
	"net/http"

	"github.com/aloro/wa-senders/shared/adminapi"
	"github.com/aloro/wa-senders/shared/outbound/enqueue"
	"github.com/aloro/wa-senders/shared/queue"
)

// Senders builds the sender admin API handler (functions/senders, `make run`, tests).
func Senders(d Deps) (http.Handler, error) {
	if d.Store == nil || d.Graph == nil {
		return nil, errors.New("senders: store and graph client are required")
	}
	o := adminapi.Options{
		Store:    d.Store,
		Graph:    d.Graph,
		Enqueuer: sendersEnqueuer(d),
		Log:      d.Log,
		Now:      d.Now,
	}
	pool := NumberPool(d)
	if pool != nil {
		o.Pool = pool
		if d.Pool == nil {
			// Embedded Signup with one of our numbers claims it (onboarding's PoolClaimer).
			d.Pool = pool
		}
	}
	if d.Vault != nil {
		// PINs generated at registration are kept; onboarding needs the vault too.
		o.PINs = d.Vault
		ob, err := Onboarding(d)
		if err != nil {
			return nil, err
		}
		o.Onboarding = ob
	}
	return withCarrierWebhook(d, pool, adminapi.New(o))
}

// sendersEnqueuer is the outbound request enqueuer behind POST /messages: validated against
// the request contract, then sent to the outbound FIFO queue. Without a queue (tests that do not
// need one) POST /messages answers 501.
func sendersEnqueuer(d Deps) adminapi.Enqueuer {
	if d.SQS == nil || d.Config.OutboundQueueURL == "" {
		return nil
	}
	return enqueue.New(queue.New(d.SQS), d.Config.OutboundQueueURL)
}
