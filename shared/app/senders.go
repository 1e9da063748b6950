package app

import (
	"errors"
	"net/http"

	"github.com/aloro/wa-senders/shared/adminapi"
)

// Senders builds the sender admin API handler (functions/senders, `make run`, tests).
func Senders(d Deps) (http.Handler, error) {
	if d.Store == nil || d.Graph == nil {
		return nil, errors.New("senders: store and graph client are required")
	}
	return adminapi.New(adminapi.Options{
		Store:    d.Store,
		Graph:    d.Graph,
		Enqueuer: sendersEnqueuer(d),
		Log:      d.Log,
		Now:      d.Now,
	}), nil
}

// sendersEnqueuer is the outbound request enqueuer behind POST /messages; nil (501) until the
// outbound package provides one.
func sendersEnqueuer(Deps) adminapi.Enqueuer { return nil }
