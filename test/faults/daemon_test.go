package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// launch runs the ossmount binary with exactly cleanEnv()+env (no OSS_*
// variable of the caller leaks in) and returns how it ended. A background
// mount it starts is left to cleanupMount.
func launch(t *testing.T, env []string, args ...string) harness.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Binary(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr harness.OutputBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := harness.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("ossmount %v did not finish within two minutes", args)
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	default:
		t.Fatalf("run ossmount %v: %v", args, err)
	}
	return res
}

// cleanupMount makes sure, at the end of the test, that nothing is mounted
// at mp and no ossmount process serves it: umount, wait for the daemon to
// finish, kill it if it hangs.
func cleanupMount(t *testing.T, mp, cacheDir string) {
	t.Cleanup(func() {
		pid := harness.FindDaemon(mp, cacheDir)
		if harness.IsMounted(mp) {
			if err := syscall.Unmount(mp, 0); err != nil {
				syscall.Unmount(mp, syscall.MNT_DETACH)
			}
		}
		if pid != 0 && !waitGone(pid, 2*time.Minute) {
			t.Logf("cleanup: ossmount pid %d still running; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, time.Minute)
		}
		for _, m := range harness.MountsUnder(mp) {
			syscall.Unmount(m, syscall.MNT_DETACH)
		}
	})
}

// fgProc is `ossmount -f` run by the test itself, for its exit status and
// its complete output.
type fgProc struct {
	Dir, CacheDir string
	cmd           *exec.Cmd
	out           *harness.OutputBuffer
	done          chan struct{}
}

// startForeground starts `ossmount -f ... BUCKET:PREFIX MP` and returns
// once MP is mounted.
func startForeground(t *testing.T, env []string, mp, cacheDir string, args ...string) *fgProc {
	t.Helper()
	p := &fgProc{Dir: mp, CacheDir: cacheDir, out: &harness.OutputBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(harness.Binary(t), args...)
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start ossmount -f: %v", err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if harness.IsMounted(mp) {
			if err := syscall.Unmount(mp, 0); err != nil {
				p.cmd.Process.Kill()
			}
		}
		select {
		case <-p.done:
		case <-time.After(2 * time.Minute):
			t.Logf("cleanup: ossmount -f still running two minutes after umount; killing it")
			p.cmd.Process.Kill()
			<-p.done
		}
		for _, m := range harness.MountsUnder(mp) {
			syscall.Unmount(m, syscall.MNT_DETACH)
		}
		if t.Failed() {
			t.Logf("ossmount -f output (tail):\n%s", harness.Tail(p.out.String(), 40))
		}
	})
	harness.WaitUntil(t, 2*time.Minute, "ossmount -f mounts "+mp, func() bool {
		select {
		case <-p.done:
			t.Fatalf("ossmount -f exited before mounting (%v):\n%s", p.cmd.ProcessState, p.out)
		default:
		}
		return harness.IsMounted(mp)
	})
	return p
}

// wait waits for the process to exit and returns its exit code; -1 for a
// signal death.
func (p *fgProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("ossmount -f (pid %d) still running after %v\n%s", p.cmd.Process.Pid, d, harness.Tail(p.out.String(), 30))
	}
	return p.cmd.ProcessState.ExitCode()
}

// mountArgs is the usual command line for a mount of srv's default bucket.
func mountArgs(endpoint, cacheDir, prefix, mp string, extra ...string) []string {
	args := append([]string{"--endpoint", endpoint, "--cache-dir", cacheDir}, extra...)
	return append(args, harness.DefaultBucket+":"+strings.TrimSuffix(prefix, "/"), mp)
}

// credEnv are the credentials a mount takes from the environment.
func credEnv(secret string) []string {
	return []string{"OSS_ACCESS_KEY_ID=" + harness.AccessKeyID, "OSS_ACCESS_KEY_SECRET=" + secret}
}

// waitGone waits until pid has exited (or is a zombie); false on timeout.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func alive(pid int) bool {
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
