package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aloro/wa-senders/shared/stack"
)

// rieModule is the emulator's main package, pinned by the tool directive in go.mod.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// fnTarget is one function ready to run.
type fnTarget struct {
	fn        *stack.Function
	bootstrap string
	env       []string
}

// prepare loads the template and env file, builds the function for this machine and computes
// its environment.
func prepare(ctx context.Context, o options, tmpl *stack.Template, envFile stack.EnvFile, logicalID string, stderr io.Writer) (*fnTarget, error) {
	fn := tmpl.Function(logicalID)
	if fn == nil {
		var ids []string
		for _, f := range tmpl.Functions {
			ids = append(ids, f.LogicalID)
		}
		return nil, usageError{fmt.Sprintf("no function %q in %s (have %s)", logicalID, filepath.Base(o.template), strings.Join(ids, ", "))}
	}
	env, err := functionEnv(tmpl, fn, envFile, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	bootstrap, err := build(ctx, o, fn, stderr)
	if err != nil {
		return nil, err
	}
	return &fnTarget{fn: fn, bootstrap: bootstrap, env: env}, nil
}

func loadInputs(o options, stderr io.Writer) (*stack.Template, stack.EnvFile, error) {
	tmpl, err := stack.Load(o.template, stack.Options{})
	if err != nil {
		return nil, nil, err
	}
	envFile, err := stack.ReadEnvFile(o.envFile)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "invoke: no %s (make up writes it); using template.yaml and the environment only\n", o.envFile)
		envFile = stack.EnvFile{}
	} else if err != nil {
		return nil, nil, err
	}
	return tmpl, envFile, nil
}

// functionEnv layers the template's environment, the env file and the process environment.
// lookup is os.LookupEnv outside tests.
func functionEnv(tmpl *stack.Template, fn *stack.Function, envFile stack.EnvFile, lookup func(string) (string, bool)) ([]string, error) {
	vars := map[string]string{}
	unresolved := map[string]error{}
	for name, raw := range fn.Env {
		v, err := tmpl.Resolve(raw, nil)
		if err != nil {
			// Queue URLs exist only once fauxqs made the queues: the env file carries them.
			unresolved[name] = err
			continue
		}
		vars[name] = v
	}
	for name, v := range envFile.For(fn.LogicalID) {
		vars[name] = v
		delete(unresolved, name)
	}
	names := map[string]string{}
	for name := range fn.Env {
		names[name] = ""
	}
	for name := range vars {
		names[name] = ""
	}
	for name := range names {
		if v, ok := lookup(name); ok {
			vars[name] = v
			delete(unresolved, name)
		}
	}
	if len(unresolved) > 0 {
		var errs []error
		for _, name := range stack.SortedNames(fn.Env) {
			if err, ok := unresolved[name]; ok {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
		return nil, fmt.Errorf("function %s: variables without a local value (run make up to write .local/env.json, or set them): %w",
			fn.LogicalID, errors.Join(errs...))
	}

	// What Lambda sets for every function; the emulator reads the timeout and memory too.
	lambda := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        fn.LogicalID,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(fn.Timeout),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemorySize),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"TZ":                              "UTC",
	}
	if fn.LogFormat != "" {
		lambda["AWS_LAMBDA_LOG_FORMAT"] = fn.LogFormat
	}
	if fn.LogLevel != "" {
		lambda["AWS_LAMBDA_LOG_LEVEL"] = fn.LogLevel
	}
	for k, v := range lambda {
		if _, ok := vars[k]; !ok {
			vars[k] = v
		}
	}
	// From the host only what a process needs to run; credentials, profiles and the like stay
	// out unless the template or env file names them.
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := lookup(k); ok {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
	}
	out := make([]string, 0, len(vars))
	for _, k := range stack.SortedNames(vars) {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}

// build compiles functions/<folder> for this machine.
func build(ctx context.Context, o options, fn *stack.Function, stderr io.Writer) (string, error) {
	src := filepath.Join(o.functions, fn.Folder)
	if _, err := os.Stat(filepath.Join(src, "main.go")); err != nil {
		return "", fmt.Errorf("function %s: no %s/main.go", fn.LogicalID, src)
	}
	out := filepath.Join(o.buildDir, fn.Folder, "bootstrap")
	pkg, err := filepath.Rel(o.root, src)
	if err != nil || strings.HasPrefix(pkg, "..") {
		pkg = src
	} else {
		pkg = "./" + filepath.ToSlash(pkg)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = o.root
	// The host's GOOS/GOARCH, whatever make exported for deployment builds (arm64).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return out, nil
}

// ensureRIE builds the emulator from the tool directive when it is not there yet.
func ensureRIE(ctx context.Context, o options, stderr io.Writer) error {
	if _, err := os.Stat(o.rie); err == nil {
		return nil
	}
	fmt.Fprintf(stderr, "invoke: building the emulator into %s\n", o.rie)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", o.rie, rieModule)
	cmd.Dir = o.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build emulator: %w", err)
	}
	return nil
}

// emulator is a running aws-lambda-rie with one function.
type emulator struct {
	cmd     *exec.Cmd
	addr    string
	exited  chan struct{}
	waitErr error
	timeout time.Duration
}

// startEmulator runs the emulator on two free loopback ports and waits until it accepts
// connections.
func startEmulator(ctx context.Context, o options, t *fnTarget, logs io.Writer) (*emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(o.rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		t.bootstrap)
	cmd.Env = t.env
	cmd.Dir = filepath.Dir(t.bootstrap)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so stop reaches the bootstrap too
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	e := &emulator{cmd: cmd, addr: addr, exited: make(chan struct{}),
		timeout: time.Duration(t.fn.Timeout)*time.Second + 10*time.Second}
	go func() { e.waitErr = cmd.Wait(); close(e.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-e.exited:
			return nil, fmt.Errorf("emulator exited at start: %v", e.waitErr)
		case <-ctx.Done():
			e.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("emulator did not listen on %s within 15s", addr)
		}
	}
}

// stop ends the emulator's process group (the emulator and the function's bootstrap).
func (e *emulator) stop() {
	pgid := e.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-e.exited
	}
}

// result is one invocation's outcome.
type result struct {
	body []byte
	// funcErr is set when the function returned an error (or timed out).
	funcErr error
}

// invoke posts one event.
func (e *emulator) invoke(ctx context.Context, event []byte) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+e.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return result{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("post event: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return result{}, fmt.Errorf("emulator answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	r := result{body: body}
	var fe struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	switch {
	case !json.Valid(body):
		// "Task timed out after N.00 seconds" is plain text.
		r.funcErr = fmt.Errorf("function failed: %s", strings.TrimSpace(string(body)))
	case json.Unmarshal(body, &fe) == nil && fe.ErrorMessage != nil && fe.ErrorType != "":
		r.funcErr = fmt.Errorf("function returned %s: %s", fe.ErrorType, *fe.ErrorMessage)
	}
	return r, nil
}

// freePorts asks the kernel for n free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// runOne is -fn/-event.
func runOne(ctx context.Context, o options, stdout, stderr io.Writer) error {
	event, err := os.ReadFile(o.event)
	if err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	if !json.Valid(event) {
		return fmt.Errorf("%s is not JSON", o.event)
	}
	tmpl, envFile, err := loadInputs(o, stderr)
	if err != nil {
		return err
	}
	if err := ensureRIE(ctx, o, stderr); err != nil {
		return err
	}
	t, err := prepare(ctx, o, tmpl, envFile, o.fn, stderr)
	if err != nil {
		return err
	}
	emu, err := startEmulator(ctx, o, t, stderr)
	if err != nil {
		return err
	}
	defer emu.stop()
	r, err := emu.invoke(ctx, event)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, r.body, "", "  ") == nil {
		pretty.WriteByte('\n')
		_, _ = stdout.Write(pretty.Bytes())
	} else {
		fmt.Fprintln(stdout, string(r.body))
	}
	return r.funcErr
}
