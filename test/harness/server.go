package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Fixed test credentials: the server accepts only these.
const (
	AccessKeyID     = "e2e-access-key"
	AccessKeySecret = "e2e-access-secret-not-a-real-one"
	// DefaultBucket is the bucket every server starts with.
	DefaultBucket = "e2e-bucket"
)

// ServerOptions configures `ossmount server`.
type ServerOptions struct {
	Root      string        // --root; empty keeps the objects in memory
	Latency   time.Duration // --latency, added before each answer
	FaultRate float64       // --fault-rate
	Buckets   []string      // created at start; DefaultBucket when empty
	Domain    string        // --domain: virtual-hosted addressing, Host BUCKET.DOMAIN
}

// Server is a running `ossmount server` child process.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Buckets  []string
	cmd      *exec.Cmd
	stderr   *OutputBuffer
	done     chan struct{}
}

// StartServer starts `ossmount server` on a free loopback port and stops it
// in t.Cleanup.
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	bin := Binary(t)
	buckets := opts.Buckets
	if len(buckets) == 0 {
		buckets = []string{DefaultBucket}
	}
	args := []string{"server", "--addr", "127.0.0.1:0", "--access-key-id", AccessKeyID}
	for _, b := range buckets {
		args = append(args, "--bucket", b)
	}
	if opts.Root != "" {
		args = append(args, "--root", opts.Root)
	}
	if opts.Latency > 0 {
		args = append(args, "--latency", opts.Latency.String())
	}
	if opts.FaultRate > 0 {
		args = append(args, "--fault-rate", fmt.Sprint(opts.FaultRate))
	}
	if opts.Domain != "" {
		args = append(args, "--domain", opts.Domain)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OSS_ACCESS_KEY_SECRET="+AccessKeySecret)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Buckets: buckets, cmd: cmd, stderr: &OutputBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ossmount server: %v", err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "listening on "); ok {
				addr <- a
				break
			}
		}
		io.Copy(io.Discard, stdout) // keep the pipe drained
	}()
	select {
	case a := <-addr:
		s.Endpoint = a
	case <-s.done:
		t.Fatalf("ossmount server %v exited before listening: %v\nstderr:\n%s", args, cmd.ProcessState, s.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("ossmount server printed no \"listening on\" line within a minute\nstderr:\n%s", s.stderr)
	}
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return strings.TrimPrefix(s.Endpoint, "http://") }

// Log is what the server wrote to stderr so far.
func (s *Server) Log() string { return s.stderr.String() }

func (s *Server) stop(t testing.TB) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	if t.Failed() {
		t.Logf("ossmount server stderr (tail):\n%s", Tail(s.stderr.String(), 40))
	}
}

// Stats are the server's request counters (GET /_stats).
type Stats struct {
	Requests      map[string]int64 `json:"requests"`
	BytesReceived int64            `json:"bytes_received"`
	BytesSent     int64            `json:"bytes_sent"`
	BytesCopied   int64            `json:"bytes_copied"`
}

// Count sums the requests of the given OSS API names.
func (st Stats) Count(apis ...string) int64 {
	var n int64
	for _, a := range apis {
		n += st.Requests[a]
	}
	return n
}

// String renders the non-zero counters, for failure messages.
func (st Stats) String() string {
	data, _ := json.Marshal(st)
	return string(data)
}

// Stats reads the server's counters.
func (s *Server) Stats(t testing.TB) Stats {
	t.Helper()
	var st Stats
	resp, err := s.statsRequest(http.MethodGet)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode /_stats: %v", err)
	}
	if st.Requests == nil {
		st.Requests = map[string]int64{}
	}
	return st
}

// ResetStats zeroes the server's counters.
func (s *Server) ResetStats(t testing.TB) {
	t.Helper()
	resp, err := s.statsRequest(http.MethodDelete)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func (s *Server) statsRequest(method string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.Endpoint+"/_stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s /_stats: %w", method, err)
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return nil, fmt.Errorf("%s /_stats: %s", method, resp.Status)
	}
	// Read fully inside the timeout.
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s /_stats: %w", method, err)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(data)))
	return resp, nil
}

// OutputBuffer collects a child process's output for one writer and many
// readers.
type OutputBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *OutputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *OutputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail is the last lines of s, for failure messages.
func Tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// FreeAddr picks a free loopback address. Another process could take it
// before the child binds it; the child then fails to start and says so.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
