package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aloro/wa-senders/cmd/internal/devenv"
	"github.com/aloro/wa-senders/shared/config"
	"github.com/aloro/wa-senders/shared/stack"
)

// backend is the running functions a run drives.
type backend interface {
	// stop ends it; out gets a line about how.
	stop(out io.Writer) error
	pid() int
}

// localrunBackend is cmd/localrun (what `make run` serves) as a child process: the webhook and
// admin API over HTTP, the outbound poller, the reconciler timer and the Graph API fake.
type localrunBackend struct {
	proc *process
}

func (b *localrunBackend) pid() int { return b.proc.pid() }

func (b *localrunBackend) stop(out io.Writer) error {
	err := b.proc.stop(15 * time.Second)
	if err != nil {
		fmt.Fprintf(out, "localrun: %v; last lines of %s:\n%s\n", err, b.proc.logTo, tailFile(b.proc.logTo, 20))
	}
	return err
}

// localrunFlags lists the flags a localrun binary knows (from its -h output), so the harness
// only passes what this checkout's localrun supports.
func localrunFlags(bin string) map[string]bool {
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	flags := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-") {
			name, _, _ := strings.Cut(line[1:], " ")
			flags[name] = true
		}
	}
	return flags
}

// startLocalrun builds and starts cmd/localrun on addr with the Graph API fake on fakeAddr,
// reading the harness stack's env file, and waits until both answer.
func startLocalrun(ctx context.Context, st *localStack, repo, binDir, addr, fakeAddr, envFile, logLevel string) (*localrunBackend, error) {
	bin, err := buildTool(ctx, repo, binDir, "localrun")
	if err != nil {
		return nil, err
	}
	// The handshake below must be answered by this run's localrun, not a leftover.
	if err := portsFree(map[string]string{"backend address": addr, "Graph API fake address": fakeAddr}); err != nil {
		return nil, err
	}
	known := localrunFlags(bin)
	args := []string{"-addr", addr, "-graph-fake", fakeAddr, "-env", envFile}
	// The reconciler would correct senders from the fake's phone-number state mid-run; the run
	// checks webhook effects, so it runs rarely.
	if known["reconcile-every"] {
		args = append(args, "-reconcile-every", "1h")
	}
	// The carrier fake gets the port after the Graph fake's, never `make run`'s 8091.
	if known["carrier-fake"] {
		args = append(args, "-carrier-fake", nextPort(fakeAddr))
	}
	env := devenv.CleanEnv(config.EnvLogLevel + "=" + logLevel)
	logPath := filepath.Join(binDir, "localrun.log")
	proc, err := startProcess(bin, args, env, logPath)
	if err != nil {
		return nil, err
	}
	b := &localrunBackend{proc: proc}
	if err := addKill(st.state, proc.pid()); err != nil {
		_ = proc.stop(5 * time.Second)
		return nil, fmt.Errorf("record the backend for the reaper: %w", err)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	url := "http://" + addr + "/webhook?hub.mode=subscribe&hub.verify_token=" + stack.LocalVerifyToken + "&hub.challenge=ready"
	for {
		if done, werr := proc.exited(); done {
			return nil, fmt.Errorf("localrun exited while starting (%v); last lines of %s:\n%s", werr, logPath, tailFile(logPath, 20))
		}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if done, werr := proc.exited(); done {
					return nil, fmt.Errorf("localrun exited while starting (%v); last lines of %s:\n%s", werr, logPath, tailFile(logPath, 20))
				}
				return b, nil
			}
		}
		if time.Now().After(deadline) {
			_ = proc.stop(5 * time.Second)
			return nil, fmt.Errorf("localrun did not answer the webhook handshake on %s within 60s (%v); last lines of %s:\n%s", addr, err, logPath, tailFile(logPath, 20))
		}
		select {
		case <-ctx.Done():
			_ = proc.stop(5 * time.Second)
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// resources are the table and queues one run uses.
type resources struct {
	Table, OutboundQueue, OutboundDLQ, InboundQueue string
}

// defaultResources are the stack's own (what its env file names).
func (s *localStack) defaultResources(ctx context.Context) (resources, error) {
	params := s.Env[stack.EnvFileParameters]
	r := resources{Table: params[config.EnvTableName]}
	if r.Table == "" {
		return r, fmt.Errorf("%s has no %s", s.envFile(), config.EnvTableName)
	}
	sq := stack.LocalSQS(s.SQSEndpoint)
	var err error
	for _, q := range []struct {
		id  string
		dst *string
	}{{"OutboundQueue", &r.OutboundQueue}, {"OutboundDLQ", &r.OutboundDLQ}, {"InboundQueue", &r.InboundQueue}} {
		if *q.dst, err = s.queueURL(ctx, sq, q.id); err != nil {
			return r, err
		}
	}
	return r, nil
}

// freshResources creates a new table and queues from template.yaml under another stack name,
// on the same emulators (tests run several backends side by side on one stack).
func (s *localStack) freshResources(ctx context.Context, stackName string) (resources, error) {
	tmpl, err := stack.Load(s.templatePath(), stack.Options{StackName: stackName})
	if err != nil {
		return resources{}, err
	}
	res, err := stack.Ensure(ctx, stack.LocalDynamoDB(s.DDBEndpoint), stack.LocalSQS(s.SQSEndpoint), tmpl)
	if err != nil {
		return resources{}, err
	}
	return resources{
		Table:         res.TableNames["SendersTable"],
		OutboundQueue: res.QueueURLs["OutboundQueue"],
		OutboundDLQ:   res.QueueURLs["OutboundDLQ"],
		InboundQueue:  res.QueueURLs["InboundQueue"],
	}, nil
}

// backendEnv is the environment of the functions for res: the stack's env file with the
// table and queues of res.
func (s *localStack) backendEnv(res resources) map[string]string {
	env := map[string]string{}
	for k, v := range s.Env[stack.EnvFileParameters] {
		env[k] = v
	}
	env[config.EnvTableName] = res.Table
	env[config.EnvOutboundQueueURL] = res.OutboundQueue
	env[config.EnvInboundQueueURL] = res.InboundQueue
	return env
}

// targetFor describes a run against a stack's resources and a backend on addr / fakeAddr.
func targetFor(s *localStack, res resources, addr, fakeAddr string) *target {
	return &target{
		WebhookURL:       "http://" + addr + "/webhook",
		AdminURL:         "http://" + addr,
		FakeURL:          "http://" + fakeAddr,
		DDB:              stack.LocalDynamoDB(s.DDBEndpoint),
		SQS:              stack.LocalSQS(s.SQSEndpoint),
		Table:            res.Table,
		OutboundQueueURL: res.OutboundQueue,
		OutboundDLQURL:   res.OutboundDLQ,
		InboundQueueURL:  res.InboundQueue,
		AppSecret:        stack.LocalAppSecret,
		FreeEntry:        config.DefaultFreeEntryWindow,
		DDBPID:           s.DDBPID,
		SQSPID:           s.SQSPID,
	}
}

// freePort returns a free loopback TCP port (for tests).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// nextPort is addr with its port plus one ("127.0.0.1:18190" → "127.0.0.1:18191"); addr as is
// when it has no numeric port.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}
