package faults

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// serverOpts configures an `ossmount server` this package runs itself: the
// harness's server picks a new port on every start, and these tests need to
// kill a server and bring it back at the same address with the same data.
type serverOpts struct {
	Addr      string // 127.0.0.1:0 when empty; fixed after the first start
	Root      string // --root; memory when empty
	Latency   time.Duration
	FaultRate float64
	Secret    string // harness.AccessKeySecret when empty
}

// serverProc is one `ossmount server` child; restart brings it back with
// the same options at the same address.
type serverProc struct {
	opts     serverOpts
	Endpoint string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	out      *harness.OutputBuffer // stdout and stderr of every incarnation
}

// startServer starts `ossmount server` and stops it in t.Cleanup.
func startServer(t *testing.T, opts serverOpts) *serverProc {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Secret == "" {
		opts.Secret = harness.AccessKeySecret
	}
	s := &serverProc{opts: opts, out: &harness.OutputBuffer{}}
	s.start(t)
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server output (tail):\n%s", harness.Tail(s.out.String(), 30))
		}
	})
	return s
}

func (s *serverProc) start(t *testing.T) {
	t.Helper()
	args := []string{"server", "--addr", s.opts.Addr, "--access-key-id", harness.AccessKeyID, "--bucket", harness.DefaultBucket}
	if s.opts.Root != "" {
		args = append(args, "--root", s.opts.Root)
	}
	if s.opts.Latency > 0 {
		args = append(args, "--latency", s.opts.Latency.String())
	}
	if s.opts.FaultRate > 0 {
		args = append(args, "--fault-rate", fmt.Sprint(s.opts.FaultRate))
	}
	cmd := exec.Command(harness.Binary(t), args...)
	cmd.Env = append(cleanEnv(), "OSS_ACCESS_KEY_SECRET="+s.opts.Secret)
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(pw, s.out)
	cmd.Stderr = s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ossmount server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(done) }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		s.Endpoint = a
		s.opts.Addr = strings.TrimPrefix(a, "http://")
	case <-done:
		t.Fatalf("ossmount server %v exited before listening:\n%s", args, s.out)
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("ossmount server printed no address within a minute:\n%s", s.out)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
}

// kill ends the server with SIGKILL, as a crash or a network cut would.
func (s *serverProc) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// restart starts the server again at the same address with the same root.
func (s *serverProc) restart(t *testing.T) {
	t.Helper()
	s.kill()
	s.start(t)
}

func (s *serverProc) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// h is the server as the harness sees it: mounts, SDK buckets and /_stats
// only need its endpoint.
func (s *serverProc) h() *harness.Server { return &harness.Server{Endpoint: s.Endpoint} }

// cleanEnv is this process's environment without any OSS_* variable, so
// that a test decides every credential a child sees.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OSS_") && !strings.HasPrefix(kv, "STORAGE_PATH=") {
			out = append(out, kv)
		}
	}
	return out
}
