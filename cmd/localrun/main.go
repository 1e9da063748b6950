// Command localrun is `make run`: the whole backend on the local stack, on embedded defaults.
//
// It serves the webhook (/webhook) and the admin API (/senders…, /messages…, /templates) on
// http://127.0.0.1:8080 (with /numbers and the carrier webhook /carrier/…), polls the outbound queue the way Lambda's SQS event source does
// (batches, partial batch failures), runs the reconciler on a timer, and serves the Graph API
// fake on 127.0.0.1:8090, recording what is sent, and the carrier fake on 127.0.0.1:8091 (platform
// numbers bought there verify themselves: the Graph fake sends each code through it to our
// carrier webhook). Ctrl-C stops everything it started; the
// DynamoDB and SQS emulators are `make up` / `make down`'s business.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aloro/wa-senders/shared/app"
	"github.com/aloro/wa-senders/shared/awsclient"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/logging"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address of the webhook and admin API")
	fakeAddr := flag.String("graph-fake", "127.0.0.1:8090", "address of the Graph API fake (empty: use GRAPH_API_BASE_URL as is)")
	envFile := flag.String("env", ".local/env.json", "environment file written by `make up` (sam local --env-vars format)")
	reconcileEvery := flag.Duration("reconcile-every", time.Minute, "reconciler period")
	carrierAddr := flag.String("carrier-fake", envOr("CARRIER_FAKE_ADDR", "127.0.0.1:8091"), "address of the carrier fake (empty: platform numbers as configured)")
	flag.Parse()
	platformNumbersEnv(*addr, *carrierAddr)

	log := logging.New(os.Stdout, os.Getenv(config.EnvLogLevel))
	if err := run(*addr, *fakeAddr, *carrierAddr, *envFile, *reconcileEvery, log); err != nil {
		log.Error("localrun stopped", "error", err.Error())
		os.Exit(1)
	}
}

func run(addr, fakeAddr, carrierAddr, envFile string, reconcileEvery time.Duration, log *slog.Logger) error {
	if err := loadEnvFile(envFile); err != nil {
		return fmt.Errorf("%w (run `make up` first)", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	need := config.Need{
		OutboundQueue: true, InboundQueue: true, AppSecret: true, VerifyToken: true, AccessToken: true, AppID: true, Carrier: true,
		CredentialsKey: true,
	}
	cfg, awsCfg, err := awsclient.Bootstrap(ctx, need)
	if err != nil {
		return err
	}

	var servers []*http.Server
	var fake *graphfake.Fake
	if fakeAddr != "" {
		fake = graphfake.New(graphfake.Options{Token: cfg.Secrets.AccessToken, AppID: cfg.Secrets.AppID, AppSecret: cfg.Secrets.AppSecret})
		srv, err := serve(fakeAddr, fake)
		if err != nil {
			return fmt.Errorf("graph fake: %w", err)
		}
		servers = append(servers, srv)
		cfg.GraphBaseURL = "http://" + fakeAddr
		log.Info("graph api fake listening", "addr", "http://"+fakeAddr)
	}

	if srv, err := startCarrierFake(carrierAddr, cfg, fake, log); err != nil {
		return err
	} else if srv != nil {
		servers = append(servers, srv)
	}

	deps, err := app.FromAWS(cfg, awsCfg, need, log)
	if err != nil {
		return err
	}
	deps = deps.WithGraph()
	webhook, err := app.Webhook(deps)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	admin, err := app.Senders(deps)
	if err != nil {
		return fmt.Errorf("senders: %w", err)
	}
	consume, err := app.Outbound(deps)
	if err != nil {
		return fmt.Errorf("outbound: %w", err)
	}
	reconcile, err := app.Reconciler(deps)
	if err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/webhook", webhook)
	for _, p := range []string{"/senders", "/senders/", "/messages", "/messages/", "/templates", "/onboardings", "/onboardings/", "/businesses/",
		"/numbers", "/numbers/", "/carrier/"} {
		mux.Handle(p, admin)
	}
	srv, err := serve(addr, mux)
	if err != nil {
		return err
	}
	servers = append(servers, srv)
	log.Info("backend listening", "addr", "http://"+addr, "webhook", "http://"+addr+"/webhook", "admin", "http://"+addr+"/senders")
	if fakeAddr != "" {
		// How to play a business finishing Embedded Signup against the fake (README, "Try it").
		fmt.Fprintf(os.Stderr, "\nEmbedded Signup locally: get an exchangeable code from the fake, then onboard with it:\n"+
			"  curl -s http://%s/_fake/signup -d '{\"businessId\":\"1001\",\"wabaId\":\"2001\",\"phoneNumberIds\":[\"3001\"],\"verifiedName\":\"Lucky Shrub\"}'\n"+
			"  curl -s -H 'Content-Type: application/json' http://%s/onboardings -d '{\"code\":\"<code>\",\"businessId\":\"1001\",\"wabaId\":\"2001\",\"phoneNumberId\":\"3001\",\"type\":\"external\",\"assistants\":[\"asst-1\"]}'\n\n",
			fakeAddr, addr)
	}

	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		p := &poller{sqs: deps.SQS, queueURL: cfg.OutboundQueueURL, handle: consume, log: log}
		p.run(ctx)
	}()
	go func() {
		t := time.NewTicker(reconcileEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := reconcile(ctx); err != nil && ctx.Err() == nil {
					log.Warn("reconciler run failed", "error", err.Error())
				}
			}
		}
	}()

	<-ctx.Done()
	log.Info("stopping")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	<-pollDone
	return nil
}

// serve listens first (so a busy port is an error now, not a log line later) and serves in
// the background.
func serve(addr string, h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("server stopped", "addr", addr, "error", err.Error())
		}
	}()
	return srv, nil
}

// loadEnvFile sets the variables of `.local/env.json` (Parameters, then every function's
// section) that the process environment does not already set: explicit variables win.
func loadEnvFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read env file: %w", err)
	}
	var sections map[string]map[string]string
	if err := json.Unmarshal(raw, &sections); err != nil {
		return fmt.Errorf("parse env file %s: %w", path, err)
	}
	set := func(m map[string]string) {
		for k, v := range m {
			if _, ok := os.LookupEnv(k); !ok && v != "" {
				_ = os.Setenv(k, v)
			}
		}
	}
	set(sections["Parameters"])
	for name, m := range sections {
		if name != "Parameters" {
			set(m)
		}
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
