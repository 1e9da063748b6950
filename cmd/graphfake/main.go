// Command graphfake serves the local fake of Meta's Graph API (shared/graphfake) for `make run`
// and the load harness: point graph.Options.BaseURL at http://ADDR, use the -token value as the
// access token, and drive scripts and read records under http://ADDR/_fake/.
package main

import (
	"context"
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

	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/graphfake"
)

func main() {
	err := run(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "graphfake:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("graphfake", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address (keep it on loopback: the /_fake/ control API has no auth)")
	token := fs.String("token", graphfake.DefaultToken, "the only access token accepted")
	latency := fs.Duration("latency", 0, "latency added to every POST …/messages answer, e.g. 50ms")
	verifyCode := fs.String("verify-code", graphfake.DefaultVerifyCode, "the code verify_code accepts")
	strict := fs.Bool("strict", false, "unknown phone_number_ids get Meta's 'does not exist' error instead of a default healthy number")
	quiet := fs.Bool("quiet", false, "do not log one line per Graph request")
	carrierFake := fs.String("carrier-fake", "", "base URL of a carrier fake: request_code on a pre-verified number sends its code there (/_fake/sms, /_fake/call)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	opts := graphfake.Options{Token: *token, VerifyCode: *verifyCode, SendLatency: *latency, StrictPhoneNumbers: *strict}
	if !*quiet {
		opts.Logger = log
	}
	fake := graphfake.New(opts)
	if *carrierFake != "" {
		fake.SetCodeSender(carrierfake.RemoteCodeSender(*carrierFake, nil))
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("graphfake listening", "addr", ln.Addr().String(), "latency", latency.String(), "strict", *strict)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("graphfake shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Scripted delays can outlast the grace period: cut those connections.
		log.Warn("graceful shutdown timed out; closing connections", "error", err.Error())
		_ = srv.Close()
	}
	return nil
}
