package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procMemory is what /proc/<pid>/status says about a process's resident memory, in KiB.
type procMemory struct {
	// PeakKB is VmHWM, the high-water mark of the resident set.
	PeakKB int64
	// NowKB is VmRSS.
	NowKB int64
}

// readMemory reads VmHWM and VmRSS of pid. Lambda's "Max Memory Used" of the emulator only
// echoes the configured size, so the process's own counters are the figure.
func readMemory(pid int) (procMemory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	var m procMemory
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmHWM":
			m.PeakKB = n
		case "VmRSS":
			m.NowKB = n
		}
	}
	if m.PeakKB == 0 {
		return m, fmt.Errorf("pid %d: no VmHWM in /proc status", pid)
	}
	return m, nil
}

// clockTicks is USER_HZ: /proc/<pid>/stat counts CPU time in these. It is 100 on every Linux
// this runs on (the kernel ABI fixes it for userspace).
const clockTicks = 100

// cpuTime returns the user+system CPU time pid has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	// Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("pid %d: short stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("pid %d: stat times: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// pause stops pid with SIGSTOP: the process keeps its memory (DynamoDB Local and fauxqs keep
// everything in memory, so a restart would wipe them) and its listening socket, so clients
// connect and then wait, as with a hung server.
func pause(pid int) error {
	if pid <= 1 {
		return fmt.Errorf("pause: no pid (%d)", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("SIGSTOP %d: %w", pid, err)
	}
	return nil
}

// resume continues a paused pid.
func resume(pid int) error {
	if pid <= 1 {
		return fmt.Errorf("resume: no pid (%d)", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("SIGCONT %d: %w", pid, err)
	}
	return nil
}

// readPIDFile reads a PID written by cmd/localstack.
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s: not a pid", path)
	}
	return pid, nil
}
