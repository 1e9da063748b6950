package app

import (
	"context"
	"net/http"
	"strings"

	"github.com/aloro/wa-senders/shared/carrier/twilio"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/numberpool"
)

// NumberPool builds the platform-number pool, or nil when NUMBER_POOL_MODE is off.
func NumberPool(d Deps) *numberpool.Pool {
	n := d.Config.Numbers
	if !n.Enabled() || d.Store == nil || d.Graph == nil {
		return nil
	}
	mode := numberpool.ModePreVerified
	if n.Mode == config.PoolWABA {
		mode = numberpool.ModeWABA
	}
	return numberpool.New(numberpool.Options{
		Store: d.Store,
		Carrier: twilio.New(twilio.Options{BaseURL: n.CarrierBaseURL,
			AccountSID: d.Config.Secrets.CarrierAccountSID, AuthToken: d.Config.Secrets.CarrierAuthToken}),
		Graph:          d.Graph,
		Mode:           mode,
		BusinessID:     n.BusinessID,
		WebhookBaseURL: n.WebhookBaseURL,
		CodeTimeout:    n.CodeTimeout,
		Hold:           n.Hold,
		VoiceCountries: n.VoiceCountries,
		Log:            d.Log,
		Now:            d.Now,
	})
}

// withCarrierWebhook serves the public carrier webhook (/carrier/…) next to the admin API when
// platform numbers are on; an empty auth token is a start-up error, never a skipped check.
func withCarrierWebhook(d Deps, pool *numberpool.Pool, admin http.Handler) (http.Handler, error) {
	if pool == nil {
		return admin, nil
	}
	hook, err := numberpool.NewWebhook(pool, d.Config.Secrets.CarrierAuthToken, d.Log)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/carrier/") {
			hook.ServeHTTP(w, r)
			return
		}
		admin.ServeHTTP(w, r)
	}), nil
}

// poolReconcile is the pool's part of the reconciler run (nil when platform numbers are off).
func poolReconcile(d Deps, pool *numberpool.Pool) func(context.Context) error {
	if pool == nil {
		return nil
	}
	return func(ctx context.Context) error {
		rep, err := pool.Reconcile(ctx)
		if d.Log != nil {
			d.Log.Info("number pool reconcile", "intentsSettled", rep.IntentsSettled, "intentsFailed", rep.IntentsFailed,
				"timedOut", rep.TimedOut, "reverifying", rep.Reverifying, "released", rep.Released, "errors", rep.Errors)
		}
		return err
	}
}
