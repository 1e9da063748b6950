package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aloro/wa-senders/shared/stack"
)

func services(l layout, s settings) []service {
	return []service{dynamoService(l, s.ddbPort), fauxqsService(l, s.sqsPort, s.dockerHost != "")}
}

func up(ctx context.Context, l layout, s settings, out io.Writer) error {
	begin := time.Now()
	// Read the template first: a broken template should fail before anything starts.
	tmpl, err := loadTemplate(l, s)
	if err != nil {
		return err
	}
	svcs := services(l, s)
	var launched []*started
	for _, svc := range svcs {
		pid, err := readPID(filepath.Join(l.local, svc.pidFile()))
		if err != nil {
			return err
		}
		mine := pid != 0 && svc.ours(pid)
		if mine {
			if p := svc.portOf(pid); p != 0 && p != svc.port {
				return fmt.Errorf("localstack already runs %s on port %d (pid %d): run make down first to move it to %d",
					svc.title, p, pid, svc.port)
			}
			if svc.key == "sqs" && s.dockerHost != "" && loopbackOnly(pid) {
				return fmt.Errorf("fauxqs (pid %d) listens on loopback only, which Docker cannot reach: run make down, then up with -docker-host", pid)
			}
		}
		healthy, busy := svc.probe(ctx)
		switch {
		case healthy && mine:
			fmt.Fprintf(out, "%-15s %s  already running (pid %d)\n", svc.title, svc.endpoint(), pid)
			continue
		case healthy:
			fmt.Fprintf(out, "%-15s %s  already running (not started by localstack: left alone)\n", svc.title, svc.endpoint())
			continue
		case busy && mine:
			// Started by an earlier `up` that is perhaps still coming up: wait for it below.
			launched = append(launched, &started{svc: svc, pid: pid, exited: make(chan error), begin: time.Now()})
			continue
		case busy:
			return fmt.Errorf("port %d is in use by something that is not %s: free it or choose another (%s)",
				svc.port, svc.title, map[string]string{"ddb": "DDB_PORT", "sqs": "SQS_PORT"}[svc.key])
		}
		if pid != 0 {
			_ = os.Remove(filepath.Join(l.local, svc.pidFile())) // stale
		}
		st, err := svc.start(l)
		if err != nil {
			return err
		}
		launched = append(launched, st)
	}
	// Wait for both at once: the JVM takes seconds, Node less than one.
	waited := make([]chan error, len(launched))
	took := make([]time.Duration, len(launched))
	for i, st := range launched {
		waited[i] = make(chan error, 1)
		go func() {
			err := st.wait(ctx, l, s.timeout)
			took[i] = time.Since(st.begin)
			waited[i] <- err
		}()
	}
	var errs []error
	for i, st := range launched {
		if err := <-waited[i]; err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "%-15s %s  started (pid %d), answering after %.1fs\n",
			st.svc.title, st.svc.endpoint(), st.pid, took[i].Seconds())
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	ectx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := stack.Ensure(ectx, stack.LocalDynamoDB(svcs[0].endpoint()), stack.LocalSQS(svcs[1].endpoint()), tmpl)
	if err != nil {
		return fmt.Errorf("create resources: %w", err)
	}
	for _, t := range tmpl.Tables {
		fmt.Fprintf(out, "table  %-14s %s\n", t.LogicalID, t.Name)
	}
	for _, q := range tmpl.Queues {
		fmt.Fprintf(out, "queue  %-14s %s\n", q.LogicalID, res.QueueURLs[q.LogicalID])
	}

	local := stack.Local{
		DynamoDBEndpoint: hostURL(s, s.ddbPort),
		SQSEndpoint:      hostURL(s, s.sqsPort),
		QueueURLs:        res.QueueURLs,
	}
	if s.dockerHost != "" {
		local.QueueURLs = map[string]string{}
		for id, u := range res.QueueURLs {
			local.QueueURLs[id] = withHost(u, s.dockerHost, s.sqsPort)
		}
	}
	env, err := tmpl.LocalEnvFile(local)
	if err != nil {
		return err
	}
	if err := stack.WriteEnvFile(l.envFile(), env); err != nil {
		return err
	}
	params, err := json.MarshalIndent(tmpl.ParameterValues(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode parameters: %w", err)
	}
	if err := os.WriteFile(l.paramsFile(), append(params, '\n'), 0o644); err != nil {
		return fmt.Errorf("write parameters: %w", err)
	}
	fmt.Fprintf(out, "wrote %s (stack %s) in %.1fs\n", l.display(l.envFile()), s.stackName, time.Since(begin).Seconds())
	return nil
}

// loadTemplate parses template.yaml with the local parameter values: the Graph API fake's URL and
// no secret ARN (the secrets come from the environment locally).
func loadTemplate(l layout, s settings) (*stack.Template, error) {
	probe, err := stack.Load(l.template(), stack.Options{StackName: s.stackName})
	if err != nil {
		return nil, err
	}
	graphHost, graphPort, err := net.SplitHostPort(s.graphAddr)
	if err != nil {
		return nil, usageError{fmt.Sprintf("GRAPH_FAKE_ADDR: want host:port, got %q", s.graphAddr)}
	}
	if s.dockerHost != "" {
		graphHost = s.dockerHost
	}
	local := map[string]string{
		"GraphApiBaseUrl":   "http://" + net.JoinHostPort(graphHost, graphPort),
		"WebhookSecretArn":  "",
		"PlatformSecretArn": "",
		// Platform numbers on, as `make run` serves them (the carrier fake, the backend's address).
		"NumberPoolMode":        "preverified",
		"BusinessPortfolioId":   stack.LocalBusinessPortfolioID,
		"CarrierWebhookBaseUrl": stack.LocalCarrierWebhookBaseURL,
	}
	overrides := map[string]string{}
	for _, p := range probe.Parameters {
		if v, ok := local[p.Name]; ok {
			overrides[p.Name] = v
		}
	}
	return stack.Load(l.template(), stack.Options{StackName: s.stackName, Parameters: overrides})
}

func hostURL(s settings, port int) string {
	host := "127.0.0.1"
	if s.dockerHost != "" {
		host = s.dockerHost
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// withHost rewrites a queue URL's host for functions in Docker; fauxqs finds queues by path.
func withHost(raw, host string, port int) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	return u.String()
}

func down(l layout, out io.Writer) error {
	var errs []error
	// Ports do not matter here: the pid files say what this tool started.
	for _, svc := range services(l, settings{}) {
		msg, err := svc.stop(l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "%-15s %s\n", svc.title, msg)
	}
	return errors.Join(errs...)
}

func status(ctx context.Context, l layout, s settings, out io.Writer) error {
	for _, svc := range services(l, s) {
		pid, err := readPID(filepath.Join(l.local, svc.pidFile()))
		if err != nil {
			return err
		}
		owner := "no pid file"
		switch {
		case pid != 0 && svc.ours(pid):
			owner = fmt.Sprintf("pid %d on port %d (started by localstack)", pid, svc.portOf(pid))
		case pid != 0:
			owner = fmt.Sprintf("stale pid file (pid %d gone)", pid)
		}
		state := "not answering"
		if healthy, busy := svc.probe(ctx); healthy {
			state = "answering"
		} else if busy {
			state = "port busy, not answering as " + svc.title
		}
		fmt.Fprintf(out, "%-15s %s  %s; %s\n", svc.title, svc.endpoint(), state, owner)
	}
	if _, err := os.Stat(l.envFile()); err == nil {
		fmt.Fprintf(out, "env file        %s\n", l.display(l.envFile()))
	} else {
		fmt.Fprintln(out, "env file        none (run make up)")
	}
	return nil
}

// sdkNames are the variables -endpoints prints: what an SDK client needs to reach the local
// stack, without the function settings (TABLE_NAME, ...) that would leak into unit tests.
var sdkNames = []string{stack.EnvEndpointDynamoDB, stack.EnvEndpointSQS, stack.EnvRegion, stack.EnvAccessKeyID, stack.EnvSecretAccessKey}

func printEnv(l layout, fn string, endpoints bool, out io.Writer) error {
	f, err := stack.ReadEnvFile(l.envFile())
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no .local/env.json: run make up first")
	}
	if err != nil {
		return err
	}
	env := f[stack.EnvFileParameters]
	if fn != "" {
		if _, ok := f[fn]; !ok {
			return fmt.Errorf("no section %q in .local/env.json", fn)
		}
		env = f.For(fn)
	}
	if endpoints {
		only := map[string]string{}
		for _, k := range sdkNames {
			if v, ok := env[k]; ok {
				only[k] = v
			}
		}
		env = only
	}
	for _, k := range stack.SortedNames(env) {
		fmt.Fprintf(out, "export %s=%s\n", k, shellQuote(env[k]))
	}
	return nil
}

func printParams(l layout, out io.Writer) error {
	b, err := os.ReadFile(l.paramsFile())
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no .local/parameters.json: run make up first")
	}
	if err != nil {
		return fmt.Errorf("read parameters: %w", err)
	}
	var params map[string]string
	if err := json.Unmarshal(b, &params); err != nil {
		return fmt.Errorf("%s: %w", l.paramsFile(), err)
	}
	var pairs []string
	for _, k := range stack.SortedNames(params) {
		if params[k] != "" { // SAM keeps the template default for parameters left out
			pairs = append(pairs, k+"="+params[k])
		}
	}
	fmt.Fprintln(out, strings.Join(pairs, " "))
	return nil
}

// shellQuote quotes v for POSIX shells.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
