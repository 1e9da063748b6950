package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aloro/wa-senders/cmd/internal/devenv"
	"github.com/aloro/wa-senders/shared/stack"
)

// goBuild runs go build in the repository with extra environment.
func goBuild(ctx context.Context, repo string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = repo
	cmd.Env = devenv.CleanEnv(env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return nil
}

// benchStack is a private local stack (cmd/localstack with its own state directory and ports)
// for the Go benchmarks that need DynamoDB Local and fauxqs, and for the functions under the
// emulator.
type benchStack struct {
	repo, state, bin string
	ddbEndpoint      string
	sqsEndpoint      string
	env              stack.EnvFile
}

func startBenchStack(ctx context.Context, repo, binDir string, ddbPort, sqsPort int, graphAddr string, out io.Writer) (*benchStack, error) {
	bin := filepath.Join(binDir, "localstack")
	if err := goBuild(ctx, repo, nil, "-o", bin, "./cmd/localstack"); err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "wa-bench-stack-")
	if err != nil {
		return nil, err
	}
	s := &benchStack{repo: repo, state: state, bin: bin,
		ddbEndpoint: "http://127.0.0.1:" + strconv.Itoa(ddbPort),
		sqsEndpoint: "http://127.0.0.1:" + strconv.Itoa(sqsPort)}
	cmd := exec.CommandContext(ctx, bin, "up", "-root", repo, "-state", state, "-ddb-port", strconv.Itoa(ddbPort),
		"-sqs-port", strconv.Itoa(sqsPort), "-graph-addr", graphAddr, "-stack", "wa-bench")
	cmd.Env = devenv.CleanEnv()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		s.stop(io.Discard)
		return nil, fmt.Errorf("localstack up: %w", err)
	}
	if s.env, err = stack.ReadEnvFile(filepath.Join(state, "env.json")); err != nil {
		s.stop(io.Discard)
		return nil, err
	}
	return s, nil
}

func (s *benchStack) stop(out io.Writer) {
	cmd := exec.Command(s.bin, "down", "-root", s.repo, "-state", s.state)
	cmd.Env = devenv.CleanEnv()
	cmd.Stdout, cmd.Stderr = out, out
	_ = cmd.Run()
	_ = os.RemoveAll(s.state)
}

// testEnv is what integration tests and benchmarks need to reach this stack.
func (s *benchStack) testEnv() []string {
	return []string{
		"WA_INTEGRATION=1",
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.ddbEndpoint,
		"AWS_ENDPOINT_URL_SQS=" + s.sqsEndpoint,
		"AWS_REGION=" + stack.LocalRegion,
		"AWS_ACCESS_KEY_ID=" + stack.LocalAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + stack.LocalSecretAccessKey,
	}
}

// peakRSSKB reads VmHWM of pid, in KiB.
func peakRSSKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// childPIDs returns the direct children of pid.
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// terminate stops a child: SIGTERM, then SIGKILL.
func terminate(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-timeAfter(5):
		_ = cmd.Process.Kill()
		<-done
	}
}

// groupCommand is exec.CommandContext whose cancellation stops the child's whole process group:
// go test and go run leave their compiled binaries behind otherwise.
func groupCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}
