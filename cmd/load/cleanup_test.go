package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReaperStopsTheBackendWhenTheHarnessIsGone: closing the reaper's pipe (what the kernel does
// when the harness dies, however it dies) kills the recorded localrun and removes the state.
func TestReaperStopsTheBackendWhenTheHarnessIsGone(t *testing.T) {
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	// A stand-in for the localrun binary: the reaper only kills processes whose binary is localrun.
	fake := filepath.Join(dir, "localrun")
	data, err := os.ReadFile(sleepBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, data, 0o755); err != nil {
		t.Fatal(err)
	}
	other := exec.Command(sleepBin, "60") // not a localrun: must survive
	backend := exec.Command(fake, "60")
	for _, c := range []*exec.Cmd{other, backend} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _, _ = c.Process.Wait() })
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := startReaper("/bin/true", dir, state)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{backend.Process.Pid, other.Process.Pid} {
		if err := addKill(state, p); err != nil {
			t.Fatal(err)
		}
	}
	r.release()
	exited := make(chan error, 1)
	go func() { exited <- backend.Wait() }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the recorded localrun still runs after the reaper ran")
	}
	if !alive(other.Process.Pid) {
		t.Error("the reaper killed a process that is not a localrun")
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory left behind: %v", err)
	}
}

func TestPortsFreeNamesTheBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = portsFree(map[string]string{"backend address": l.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "backend address "+l.Addr().String()+" is in use") {
		t.Errorf("portsFree on a busy port = %v, want an error naming it", err)
	}
	free, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := portsFree(map[string]string{"x": net.JoinHostPort("127.0.0.1", strconv.Itoa(free))}); err != nil {
		t.Errorf("portsFree on a free port: %v", err)
	}
}

// TestFailuresIgnoreRetriedAnswers: a run whose end state is right passes whatever answers the
// webhook gave along the way; each end-state count and the run's own error fail it, by name.
func TestFailuresIgnoreRetriedAnswers(t *testing.T) {
	if got := failures(&report{}, nil); len(got) != 0 {
		t.Errorf("clean run: failures = %v", got)
	}
	got := failures(&report{Wrong: 2, FaultFailures: 1}, errors.New("localstack down: boom"))
	want := "error: localstack down: boom; 2 wrong end states; 1 fault check failures"
	if strings.Join(got, "; ") != want {
		t.Errorf("failures = %q, want %q", strings.Join(got, "; "), want)
	}
}

// TestUnmeasuredFiguresAreNotZero: a backend pid that is gone yields a reason, never 0 MB / 0 s.
func TestUnmeasuredFiguresAreNotZero(t *testing.T) {
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Skip("no true binary")
	}
	r := &runner{t: &target{BackendPID: c.Process.Pid}, p: &plan{}}
	r.sampleMemory()
	cpu, cpuErr := r.backendCPU()
	rep := &report{}
	r.fillFigures(rep, cpu, cpuErr)
	f := rep.Figures
	if f.BackendPeakRSSKB != 0 || f.BackendRSSNotMeasured == "" {
		t.Errorf("RSS of a gone pid: %d KB, reason %q; want no figure and a reason", f.BackendPeakRSSKB, f.BackendRSSNotMeasured)
	}
	if f.BackendCPUSeconds != 0 || f.BackendCPUNotMeasured == "" {
		t.Errorf("CPU of a gone pid: %v s, reason %q; want no figure and a reason", f.BackendCPUSeconds, f.BackendCPUNotMeasured)
	}
	r.out = &strings.Builder{}
	r.print(rep)
	out := r.out.(*strings.Builder).String()
	if strings.Contains(out, "0.0 MB") || strings.Contains(out, "0.00s of CPU") || !strings.Contains(out, "not measured") {
		t.Errorf("printed figures:\n%s", out)
	}
}
