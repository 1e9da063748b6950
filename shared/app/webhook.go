package app

import (
	"errors"
	"net/http"
	"os"

	"github.com/aloro/wa-senders/shared/queue"
	"github.com/aloro/wa-senders/shared/webhook"
)

var _ webhook.Queue = (*queue.Queue)(nil)

// Webhook builds the Meta webhook handler (functions/webhook, `make run`, tests): the store
// and an SQS queue adapter behind the webhook's ports, its EMF metrics on stdout next to the
// logs. An empty app secret or verify token is an error, never "skip the check".
func Webhook(d Deps) (http.Handler, error) {
	if d.Store == nil || d.SQS == nil {
		return nil, errors.New("webhook: a store and an SQS client are required")
	}
	var partners webhook.Partners
	if d.Vault != nil {
		// Partner events disconnect senders and forget tokens: no key is needed to delete.
		ob, err := Onboarding(Deps{Store: d.Store, Vault: d.Vault, Log: d.Log, Now: d.Now, Config: d.Config})
		if err != nil {
			return nil, err
		}
		partners = ob
	}
	return webhook.New(webhook.Config{
		AppSecret:        d.Config.Secrets.AppSecret,
		VerifyToken:      d.Config.Secrets.VerifyToken,
		InboundQueueURL:  d.Config.InboundQueueURL,
		OutboundQueueURL: d.Config.OutboundQueueURL,
		FreeEntryWindow:  d.Config.FreeEntryWindow,
		StopKeywords:     d.Config.StopKeywords,
	}, webhook.Deps{
		Store:    d.Store,
		Queue:    queue.New(d.SQS),
		Log:      d.Log,
		Metrics:  os.Stdout,
		Now:      d.Now,
		Partners: partners,
	})
}
