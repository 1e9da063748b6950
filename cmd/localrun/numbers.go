package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graphfake"
)

// platformNumbersEnv turns platform numbers on for `make run` with local values, unless the
// environment already says otherwise: the carrier is the fake at carrierAddr, the carrier
// posts to the backend at addr, the portfolio is a local id.
func platformNumbersEnv(addr, carrierAddr string) {
	if carrierAddr == "" {
		return
	}
	for k, v := range map[string]string{
		config.EnvNumberPoolMode:        config.PoolPreVerified,
		config.EnvBusinessPortfolioID:   "555000111",
		config.EnvCarrierBaseURL:        "http://" + carrierAddr,
		config.EnvCarrierWebhookBaseURL: "http://" + addr,
		config.EnvCarrierAccountSID:     carrierfake.DefaultAccountSID,
		config.EnvCarrierAuthToken:      carrierfake.DefaultAuthToken,
	} {
		if _, ok := os.LookupEnv(k); !ok {
			_ = os.Setenv(k, v)
		}
	}
}

// startCarrierFake serves the carrier fake and makes the Graph fake send its verification codes
// through it, so a bought number verifies itself end to end.
func startCarrierFake(carrierAddr string, cfg config.Config, graph *graphfake.Fake, log *slog.Logger) (*http.Server, error) {
	if carrierAddr == "" {
		return nil, nil
	}
	cf := carrierfake.New(carrierfake.Options{AccountSID: cfg.Secrets.CarrierAccountSID, AuthToken: cfg.Secrets.CarrierAuthToken})
	srv, err := serve(carrierAddr, cf)
	if err != nil {
		return nil, fmt.Errorf("carrier fake: %w", err)
	}
	if graph != nil {
		graph.SetCodeSender(cf.SendCode)
	}
	log.Info("carrier fake listening", "addr", "http://"+carrierAddr)
	return srv, nil
}
