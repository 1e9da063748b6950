// Command localstack starts, stops and describes the local stack: DynamoDB Local and fauxqs (SQS),
// with every table and queue of template.yaml created in them and .local/env.json written for
// the functions.
//
//	localstack up      start what is not already answering, create resources, write .local/env.json
//	localstack down    stop what `up` started (by PID; never anything else)
//	localstack status  show what runs where
//	localstack env     print `export NAME='value'` lines for shells (-fn for one function's section,
//	                   -endpoints for only the SDK endpoints, region and credentials, as tests want)
//	localstack params  print the template parameters' local values as Key=Value pairs
//	                   (for `sam local invoke --parameter-overrides`)
//
// Settings (flag, else environment variable, else default):
//
//	-ddb-port    DDB_PORT         8000
//	-sqs-port    SQS_PORT         9324
//	-graph-addr  GRAPH_FAKE_ADDR  127.0.0.1:8090 (where the Graph API fake listens)
//	-stack       STACK_NAME       wa-senders-local
//
// Installing the tools (npm ci in .tools) is the Makefile's job (make tools); up only checks that
// they are there.
//
// Docker (sam local invoke/start-api): inside SAM's container 127.0.0.1 is the container itself,
// not this machine. `up -docker-host host.docker.internal` (or the host's address on the Docker
// bridge, often 172.17.0.1) writes that host into every URL of env.json instead, and starts fauxqs
// on all interfaces (it otherwise binds to loopback only). DynamoDB Local always listens on all
// interfaces; the Graph API fake must then listen on a non-loopback address too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: localstack <up|down|status|env|params> [flags]
  up      start DynamoDB Local and fauxqs unless already answering, create the template's
          tables and queues, write .local/env.json
  down    stop the processes up started (by PID)
  status  show the services, their ports and PIDs
  env     print export lines for shells and tests (-fn LogicalId for one function's section)
  params  print template parameters' local values (sam --parameter-overrides)
flags:`

// settings are the resolved flags.
type settings struct {
	root       string
	state      string
	ddbPort    int
	sqsPort    int
	graphAddr  string
	stackName  string
	dockerHost string
	timeout    time.Duration
	fn         string
	endpoints  bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{usage + " see -h of each command"}
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("localstack "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s settings
	var ddbPort, sqsPort string
	fs.StringVar(&s.root, "root", "", "repository root (default: the directory holding go.mod, found from the working directory)")
	fs.StringVar(&s.state, "state", "", "directory for PIDs, logs and env.json (default <root>/.local)")
	fs.StringVar(&ddbPort, "ddb-port", envOr("DDB_PORT", "8000"), "DynamoDB Local port (env DDB_PORT)")
	fs.StringVar(&sqsPort, "sqs-port", envOr("SQS_PORT", "9324"), "fauxqs port (env SQS_PORT)")
	fs.StringVar(&s.graphAddr, "graph-addr", envOr("GRAPH_FAKE_ADDR", "127.0.0.1:8090"), "Graph API fake address written to GRAPH_API_BASE_URL (env GRAPH_FAKE_ADDR)")
	fs.StringVar(&s.stackName, "stack", envOr("STACK_NAME", "wa-senders-local"), "local stack name used in resource names (env STACK_NAME)")
	fs.StringVar(&s.dockerHost, "docker-host", "", "host to write into URLs for functions running in Docker (sam local), e.g. host.docker.internal")
	fs.DurationVar(&s.timeout, "timeout", 90*time.Second, "how long up waits for the services to answer")
	fs.StringVar(&s.fn, "fn", "", "env: print this function's section (Parameters overlaid by it)")
	fs.BoolVar(&s.endpoints, "endpoints", false, "env: print only the SDK settings (endpoints, region, credentials), as tests need")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	var err error
	if s.ddbPort, err = parsePort("DDB_PORT", ddbPort); err != nil {
		return err
	}
	if s.sqsPort, err = parsePort("SQS_PORT", sqsPort); err != nil {
		return err
	}
	if s.ddbPort == s.sqsPort {
		return usageError{fmt.Sprintf("DDB_PORT and SQS_PORT are both %d", s.ddbPort)}
	}
	l, err := newLayout(s.root, s.state)
	if err != nil {
		return err
	}
	switch cmd {
	case "up":
		return up(ctx, l, s, stdout)
	case "down":
		return down(l, stdout)
	case "status":
		return status(ctx, l, s, stdout)
	case "env":
		return printEnv(l, s.fn, s.endpoints, stdout)
	case "params":
		return printParams(l, stdout)
	default:
		fs.Usage()
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

func parsePort(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, usageError{fmt.Sprintf("%s: want a port number, got %q", name, v)}
	}
	return n, nil
}
