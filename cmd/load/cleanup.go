package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Every way a run can end must stop what it started: success, failure, the self test, Ctrl-C,
// SIGTERM, the -timeout, a closed terminal (SIGHUP), a reader of its output gone (SIGPIPE), a go
// test timeout, even SIGKILL. The deferred stops cover the first ones; for the rest the run
// starts a reaper, a shell that waits for the harness's end of a pipe to close (the kernel
// closes it however the harness dies) and then stops the run's stack and backend.

// Files in a run's stack state directory (beside cmd/localstack's pid files).
const (
	ownerFile = "owner.pid" // the harness's pid: a directory whose owner is gone is a leftover
	killFile  = "kill.pids" // pids the reaper kills (the localrun backend)
)

// reaperScript runs `localstack down` for the state directory once stdin reaches EOF, kills
// the listed pids that are still a localrun binary, and removes the directory.
const reaperScript = `cat >/dev/null
"$0" down -root "$1" -state "$2" >/dev/null 2>&1
for p in $(cat "$2/` + killFile + `" 2>/dev/null); do
  case "$(readlink /proc/$p/exe 2>/dev/null)" in */localrun*) kill -KILL "$p" 2>/dev/null;; esac
done
rm -rf "$2"`

// reaper is the watchdog of one run's stack.
type reaper struct {
	cmd  *exec.Cmd
	pipe io.WriteCloser
}

// startReaper starts the watchdog for the stack in state (localstack binary bin, repository repo)
// and records the harness as the directory's owner.
func startReaper(bin, repo, state string) (*reaper, error) {
	if err := os.WriteFile(filepath.Join(state, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("reaper: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", reaperScript, bin, repo, state)
	pipe, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("reaper: %w", err)
	}
	// Its own process group: a Ctrl-C to the terminal's group must not end it before the harness
	// has cleaned up (it then finds nothing left to stop).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("reaper: %w", err)
	}
	return &reaper{cmd: cmd, pipe: pipe}, nil
}

// release lets the reaper run (the harness has stopped everything itself by now) and waits a
// little for it.
func (r *reaper) release() {
	if r == nil {
		return
	}
	_ = r.pipe.Close()
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
	}
}

// addKill records a pid for the reaper.
func addKill(state string, pid int) error {
	f, err := os.OpenFile(filepath.Join(state, killFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, pid)
	return errors.Join(err, f.Close())
}

// reapLeftovers stops the stacks of earlier runs whose harness died without stopping them
// (state directories under the temp dir whose owner pid is gone). Directories without an owner
// file, or whose owner still runs, are left alone: they may belong to a run in progress.
func reapLeftovers(bin, repo string, out io.Writer) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "wa-load-stack-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || owner <= 1 || alive(owner) {
			continue
		}
		fmt.Fprintf(out, "load: stopping the stack left by an earlier run (harness pid %d, %s)\n", owner, dir)
		cmd := exec.Command("/bin/sh", "-c", reaperScript, bin, repo, dir)
		cmd.Stdin = strings.NewReader("")
		_ = cmd.Run()
	}
}

// alive reports whether pid exists (signal 0).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// portsFree fails, naming the port, when something already listens on one of addrs: a run
// must never drive or measure another run's leftover processes.
func portsFree(addrs map[string]string) error {
	var errs []error
	for what, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s is in use (a leftover of an earlier run? `ss -ltnp | grep %s` names it): %w",
				what, addr, portOf(addr), err))
			continue
		}
		_ = l.Close()
	}
	return errors.Join(errs...)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
