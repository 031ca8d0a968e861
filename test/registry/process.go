package registry

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// Options configures one registry process.
type Options struct {
	Root     string // storage.filesystem.rootdirectory
	ReadOnly bool   // storage.maintenance.readonly: refuse pushes
}

// Registry is a running `registry serve` child process.
type Registry struct {
	Addr   string // 127.0.0.1:PORT
	Config string // path of its configuration file
	bin    string
	cmd    *exec.Cmd
	log    *harness.OutputBuffer
	done   chan struct{}
}

// env keeps the registry from exporting traces to a collector that is not
// there, and from picking up REGISTRY_* overrides of the caller.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") && !strings.HasPrefix(kv, "OTEL_") {
			out = append(out, kv)
		}
	}
	return append(out, "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
}

// WriteConfig writes a registry configuration for opts into a fresh
// temporary directory and returns its path. Upload purging is off: it runs
// at start and would race with the tests' own view of _uploads.
func WriteConfig(t testing.TB, opts Options, addr string) string {
	t.Helper()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: %t
http:
  addr: %q
`, opts.Root, opts.ReadOnly, addr)
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Start starts `registry serve` on a free loopback port, waits until
// GET /v2/ answers, and stops it in t.Cleanup.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	r := &Registry{Addr: harness.FreeAddr(t), bin: Binary(t)}
	r.Config = WriteConfig(t, opts, r.Addr)
	r.start(t)
	t.Cleanup(func() { r.Stop(t) })
	return r
}

func (r *Registry) start(t testing.TB) {
	t.Helper()
	r.log, r.done = &harness.OutputBuffer{}, make(chan struct{})
	r.cmd = exec.Command(r.bin, "serve", r.Config)
	r.cmd.Env = env()
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start registry: %v", err)
	}
	cmd, done := r.cmd, r.done
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("registry exited before serving: %v\n%s", cmd.ProcessState, harness.Tail(r.Log(), 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry did not answer GET /v2/ within 2 minutes (last error %v)\n%s", err, harness.Tail(r.Log(), 30))
		}
	}
}

// Restart stops the registry and starts it again with the same
// configuration (the address is reused).
func (r *Registry) Restart(t testing.TB) {
	t.Helper()
	r.Stop(t)
	r.start(t)
}

// URL is the registry's base URL.
func (r *Registry) URL() string { return "http://" + r.Addr }

// Log is what the registry process printed so far.
func (r *Registry) Log() string { return r.log.String() }

// Errors returns the lines the registry logged at level error (or
// panic/fatal) so far, except its access-log line for each error response
// (a 404 on HEAD is how clients ask whether a blob exists; tests check
// responses themselves): a push can succeed while the registry fails to
// clean up behind it, and only the log says so.
func (r *Registry) Errors() []string {
	var out []string
	for _, line := range strings.Split(r.Log(), "\n") {
		if strings.Contains(line, `msg="response completed with error"`) {
			continue
		}
		if strings.Contains(line, "level=error") || strings.Contains(line, "level=panic") || strings.Contains(line, "level=fatal") {
			out = append(out, line)
		}
	}
	return out
}

// NoErrors fails the test if the registry logged errors.
func (r *Registry) NoErrors(t testing.TB) {
	t.Helper()
	if errs := r.Errors(); len(errs) > 0 {
		t.Errorf("registry %s logged %d errors, e.g.:\n%s", r.Addr, len(errs), strings.Join(errs[:min(len(errs), 5)], "\n"))
	}
}

// Stop ends the registry (SIGTERM, then SIGKILL) and waits for it. Calling
// it again is harmless.
func (r *Registry) Stop(t testing.TB) {
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
	if t.Failed() {
		t.Logf("registry %s log (tail):\n%s", r.Addr, harness.Tail(r.Log(), 40))
	}
}

// GarbageCollect runs `registry garbage-collect [flags] CONFIG` with the
// same configuration and returns its output; a non-zero exit fails the test.
func (r *Registry) GarbageCollect(t testing.TB, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append(append([]string{"garbage-collect"}, flags...), r.Config)
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("registry %s: %v\n%s", strings.Join(args, " "), err, harness.Tail(string(out), 40))
	}
	return string(out)
}
