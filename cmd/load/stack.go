package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloro/wa-senders/cmd/internal/devenv"
	"github.com/aloro/wa-senders/shared/stack"
)

// buildTool compiles ./cmd/<name> of the repository into dir and returns the binary's path.
func buildTool(ctx context.Context, repo, dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = repo
	cmd.Env = devenv.CleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, out.String())
	}
	return bin, nil
}

// localStack is a DynamoDB Local + fauxqs pair started by cmd/localstack on the harness's own
// ports, with its own state directory (PID files, logs, env.json), so it never touches a
// developer's stack.
type localStack struct {
	repo, state, bin string
	stackName        string
	DDBEndpoint      string
	SQSEndpoint      string
	Env              stack.EnvFile
	DDBPID, SQSPID   int
	tmpl             *stack.Template
	reaper           *reaper
}

// startStack runs `localstack up` with a private state directory. out gets localstack's own
// lines.
func startStack(ctx context.Context, repo, binDir string, ddbPort, sqsPort int, graphAddr, stackName string, out io.Writer) (*localStack, error) {
	bin, err := buildTool(ctx, repo, binDir, "localstack")
	if err != nil {
		return nil, err
	}
	reapLeftovers(bin, repo, out)
	// localstack up would leave a service already on the port alone and the run would measure
	// and stop someone else's processes.
	if err := portsFree(map[string]string{
		"DynamoDB Local port": "127.0.0.1:" + strconv.Itoa(ddbPort),
		"fauxqs port":         "127.0.0.1:" + strconv.Itoa(sqsPort),
	}); err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "wa-load-stack-")
	if err != nil {
		return nil, err
	}
	s := &localStack{repo: repo, state: state, bin: bin, stackName: stackName,
		DDBEndpoint: "http://127.0.0.1:" + strconv.Itoa(ddbPort),
		SQSEndpoint: "http://127.0.0.1:" + strconv.Itoa(sqsPort)}
	if s.reaper, err = startReaper(bin, repo, state); err != nil {
		_ = os.RemoveAll(state)
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "up", "-root", repo, "-state", state,
		"-ddb-port", strconv.Itoa(ddbPort), "-sqs-port", strconv.Itoa(sqsPort),
		"-graph-addr", graphAddr, "-stack", stackName)
	cmd.Env = devenv.CleanEnv()
	w := devenv.Prefixed(out, "stack: ")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		_ = s.stop(io.Discard)
		return nil, fmt.Errorf("localstack up: %w", err)
	}
	if s.Env, err = stack.ReadEnvFile(s.envFile()); err != nil {
		_ = s.stop(io.Discard)
		return nil, err
	}
	// The PIDs are what a fault scenario pauses; without them (a service already answered on
	// that port and localstack left it alone) those scenarios cannot run.
	s.DDBPID, _ = readPIDFile(filepath.Join(state, "ddb.pid"))
	s.SQSPID, _ = readPIDFile(filepath.Join(state, "sqs.pid"))
	if s.tmpl, err = stack.Load(s.templatePath(), stack.Options{StackName: stackName}); err != nil {
		_ = s.stop(io.Discard)
		return nil, err
	}
	return s, nil
}

func (s *localStack) envFile() string      { return filepath.Join(s.state, "env.json") }
func (s *localStack) templatePath() string { return filepath.Join(s.repo, "template.yaml") }

// queueURL returns the URL of a template queue (by logical id) in this stack.
func (s *localStack) queueURL(ctx context.Context, sq *sqs.Client, logicalID string) (string, error) {
	q := s.tmpl.Queue(logicalID)
	if q == nil {
		return "", fmt.Errorf("template.yaml has no queue %s", logicalID)
	}
	out, err := sq.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.Name)})
	if err != nil {
		return "", fmt.Errorf("queue url of %s: %w", q.Name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// stop runs `localstack down` for this state directory (it stops only what it started, by
// PID) and removes the directory. A paused process is continued first so it can exit.
func (s *localStack) stop(out io.Writer) error {
	for _, pid := range []int{s.DDBPID, s.SQSPID} {
		if pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	// The backend was stopped before the stack: its pid may be reused from now on.
	_ = os.Remove(filepath.Join(s.state, killFile))
	cmd := exec.Command(s.bin, "down", "-root", s.repo, "-state", s.state)
	cmd.Env = devenv.CleanEnv()
	w := devenv.Prefixed(out, "stack: ")
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	if rerr := os.RemoveAll(s.state); rerr != nil && err == nil {
		err = rerr
	}
	s.reaper.release()
	if err != nil {
		return fmt.Errorf("localstack down: %w", err)
	}
	return nil
}

// process is a child the harness started and must stop.
type process struct {
	cmd    *exec.Cmd
	done   chan error
	logTo  string
	logBuf *os.File
}

// startProcess starts bin with args and env, output to logPath.
func startProcess(bin string, args, env []string, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own group (the harness signals it itself); killed by the kernel if the harness dies
	// first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1), logTo: logPath, logBuf: logf}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended (and why).
func (p *process) exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// stop sends SIGTERM (Ctrl-C's equivalent), then SIGKILL after grace.
func (p *process) stop(grace time.Duration) error {
	if done, _ := p.exited(); done {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return fmt.Errorf("%s did not stop within %s of SIGTERM: killed", filepath.Base(p.cmd.Path), grace)
}

// tailFile returns the last n lines of a file, for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
