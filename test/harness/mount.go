package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// MountOptions configures one ossmount mount.
type MountOptions struct {
	Bucket     string   // DefaultBucket when empty
	Prefix     string   // a prefix unique to the test when empty
	CacheDir   string   // a fresh empty directory when empty
	Foreground bool     // run with -f and keep the process (to kill -9 it)
	Args       []string // extra flags, e.g. "--upload-delay=30s"
	// Timeout bounds the mount's life (default 10 minutes): past it the
	// process is killed, so a hung FUSE operation fails the test with
	// ENOTCONN instead of hanging the whole run.
	Timeout time.Duration
}

// Mount is a live ossmount mount run by a child process.
type Mount struct {
	Dir      string // the mountpoint
	CacheDir string
	Bucket   string
	Prefix   string // "" or ending in "/"
	Server   *Server

	bin     string
	pid     int
	cmd     *exec.Cmd     // foreground mode only
	exited  chan struct{} // foreground mode only: closed when cmd returned
	logPath string
	done    bool // unmounted or killed on purpose
}

var prefixSeq atomic.Int64

// UniquePrefix returns a bucket prefix ("e2e/<test>-<n>/") no other test uses.
func UniquePrefix(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	return fmt.Sprintf("e2e/%s-%d-%d/", name, os.Getpid(), prefixSeq.Add(1))
}

// MountBucket mounts a bucket prefix of srv on a fresh mountpoint with the
// real binary, and unmounts it in t.Cleanup (killing the process if needed).
func MountBucket(t testing.TB, srv *Server, opts MountOptions) *Mount {
	t.Helper()
	RequireFUSE(t)
	m := &Mount{
		Dir: t.TempDir(), CacheDir: opts.CacheDir, Bucket: opts.Bucket, Prefix: opts.Prefix,
		Server: srv, bin: Binary(t),
	}
	if m.Bucket == "" {
		m.Bucket = DefaultBucket
	}
	if m.Prefix == "" {
		m.Prefix = UniquePrefix(t)
	}
	if m.CacheDir == "" {
		m.CacheDir = t.TempDir()
	}
	args := []string{"--endpoint", srv.Endpoint, "--cache-dir", m.CacheDir}
	if opts.Foreground {
		args = append(args, "--foreground")
	}
	args = append(args, opts.Args...)
	args = append(args, m.Bucket+":"+strings.TrimSuffix(m.Prefix, "/"), m.Dir)
	env := append(os.Environ(), "OSS_ACCESS_KEY_ID="+AccessKeyID, "OSS_ACCESS_KEY_SECRET="+AccessKeySecret)

	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	// Registered first, so that a failed start is cleaned up too.
	stop := m.Watchdog(t, timeout)
	t.Cleanup(func() {
		stop()
		m.cleanup(t)
	})
	if opts.Foreground {
		m.startForeground(t, args, env)
	} else {
		m.startBackground(t, args, env)
	}
	return m
}

func (m *Mount) startBackground(t testing.TB, args, env []string) {
	t.Helper()
	m.logPath = filepath.Join(m.CacheDir, "ossmount.log")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		m.pid = FindDaemon(m.Dir, m.CacheDir) // a child that outlived its launcher
		t.Fatalf("ossmount %s: %v\n%s\ndaemon log:\n%s", strings.Join(args, " "), err, out.String(), Tail(m.Log(), 40))
	}
	m.pid = FindDaemon(m.Dir, m.CacheDir)
	if !IsMounted(m.Dir) {
		t.Fatalf("ossmount returned success but %s is not mounted\n%s", m.Dir, out.String())
	}
	if m.pid == 0 {
		t.Fatalf("mounted %s, but found no ossmount process serving it", m.Dir)
	}
}

func (m *Mount) startForeground(t testing.TB, args, env []string) {
	t.Helper()
	logDir := t.TempDir()
	m.logPath = filepath.Join(logDir, "ossmount.log")
	logFile, err := os.Create(m.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(m.bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ossmount -f: %v", err)
	}
	m.cmd, m.pid, m.exited = cmd, cmd.Process.Pid, make(chan struct{})
	go func() { cmd.Wait(); close(m.exited) }()
	deadline := time.Now().Add(2 * time.Minute)
	for !IsMounted(m.Dir) {
		select {
		case <-m.exited:
			t.Fatalf("ossmount -f %s exited before mounting: %v\n%s", strings.Join(args, " "), cmd.ProcessState, Tail(m.Log(), 40))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("ossmount -f did not mount %s within 2 minutes\n%s", m.Dir, Tail(m.Log(), 40))
		}
	}
}

// Path joins path elements below the mountpoint.
func (m *Mount) Path(rel ...string) string {
	return filepath.Join(append([]string{m.Dir}, rel...)...)
}

// Key is the object key a path relative to the mountpoint maps to.
func (m *Mount) Key(rel string) string { return m.Prefix + strings.TrimPrefix(rel, "/") }

// PID is the process serving the mount.
func (m *Mount) PID() int { return m.pid }

// Log is what the mount process logged so far.
func (m *Mount) Log() string {
	data, _ := os.ReadFile(m.logPath)
	return string(data)
}

// Unmount unmounts, then waits for the process to finish its pending
// uploads and exit, as an operator's umount followed by waiting for the
// daemon would.
func (m *Mount) Unmount(t testing.TB) {
	t.Helper()
	if err := unmountWithin(m.Dir, 0, time.Minute); err != nil {
		t.Fatalf("umount %s: %v", m.Dir, err)
	}
	m.done = true
	if !m.waitExit(10 * time.Minute) {
		m.kill()
		t.Fatalf("ossmount (pid %d) did not exit within 10 minutes of umount\n%s", m.pid, Tail(m.Log(), 40))
	}
	if IsMounted(m.Dir) {
		t.Fatalf("%s still mounted after umount", m.Dir)
	}
}

// Kill ends the mount process with SIGKILL, as a crash would, then removes
// the dead mount.
func (m *Mount) Kill(t testing.TB) {
	t.Helper()
	m.done = true
	m.kill()
	if !m.waitExit(time.Minute) {
		t.Fatalf("ossmount (pid %d) survived SIGKILL for a minute", m.pid)
	}
	m.forceUnmount()
	if IsMounted(m.Dir) {
		t.Fatalf("%s still mounted after kill -9 and lazy unmount", m.Dir)
	}
}

func (m *Mount) kill() {
	if m.pid > 0 {
		syscall.Kill(m.pid, syscall.SIGKILL)
	}
}

// cleanup leaves nothing mounted and no process running, whatever the test did.
func (m *Mount) cleanup(t testing.TB) {
	if !m.done && IsMounted(m.Dir) {
		if err := unmountWithin(m.Dir, 0, 30*time.Second); err != nil {
			t.Logf("cleanup: umount %s: %v; killing ossmount and detaching", m.Dir, err)
			m.kill()
		}
	}
	if !m.waitExit(time.Minute) {
		t.Logf("cleanup: ossmount (pid %d) still running a minute after umount; killing it", m.pid)
		m.kill()
		m.waitExit(time.Minute)
	}
	m.forceUnmount()
	if t.Failed() {
		t.Logf("ossmount log of %s (tail):\n%s", m.Dir, Tail(m.Log(), 60))
		if dir := os.Getenv("OSSMOUNT_TEST_LOGS"); dir != "" {
			// By hand: the whole log, e.g. of a run with --log-level=debug.
			name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log")
			if err := os.WriteFile(name, []byte(m.Log()), 0o644); err == nil {
				t.Logf("whole ossmount log: %s", name)
			}
		}
	}
}

// forceUnmount lazily detaches whatever is still mounted at or below Dir.
func (m *Mount) forceUnmount() {
	for _, mp := range MountsUnder(m.Dir) {
		if err := syscall.Unmount(mp, 0); err != nil {
			syscall.Unmount(mp, syscall.MNT_DETACH)
		}
	}
}

// waitExit waits for the mount process to end; false on timeout.
func (m *Mount) waitExit(d time.Duration) bool {
	if m.pid == 0 {
		return true
	}
	if m.exited != nil {
		select {
		case <-m.exited:
			return true
		case <-time.After(d):
			return false
		}
	}
	deadline := time.Now().Add(d)
	for processAlive(m.pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// unmountWithin unmounts dir, retrying while busy, and gives up after d
// (an unmount blocked by a hung daemon must not hang the test run).
func unmountWithin(dir string, flags int, d time.Duration) error {
	var once sync.Once
	res := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(d)
		for {
			err := syscall.Unmount(dir, flags)
			if err != syscall.EBUSY || time.Now().After(deadline) {
				once.Do(func() { res <- err })
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	select {
	case err := <-res:
		return err
	case <-time.After(d + 5*time.Second):
		return fmt.Errorf("umount did not return within %v", d)
	}
}

// FindDaemon finds the background ossmount process serving dir: its command
// line holds --foreground, the cache dir and the mountpoint.
func FindDaemon(dir, cacheDir string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if len(args) < 2 || args[len(args)-1] != dir {
			continue
		}
		fg, cd := false, false
		for i, a := range args {
			fg = fg || a == "--foreground" || a == "-f"
			cd = cd || a == "--cache-dir="+cacheDir || (a == "--cache-dir" && i+1 < len(args) && args[i+1] == cacheDir)
		}
		if fg && cd && processAlive(pid) {
			return pid
		}
	}
	return 0
}

// processAlive reports whether pid runs and is not a zombie (a reparented
// daemon may stay a zombie when PID 1 does not reap).
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// Watchdog kills the mount process if the returned stop function is not
// called within d: a hung FUSE operation then fails with ENOTCONN instead
// of hanging the whole test run.
func (m *Mount) Watchdog(t testing.TB, d time.Duration) (stop func()) {
	timer := time.AfterFunc(d, func() {
		t.Errorf("watchdog: still running after %v; killing ossmount (pid %d) to unblock the test", d, m.pid)
		m.kill()
	})
	return func() { timer.Stop() }
}
