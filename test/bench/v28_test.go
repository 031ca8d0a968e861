package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
	"github.com/ossmount/ossmount/test/registry"
)

// BenchmarkRegistryPushV28OSSDriver pushes the same images once through a
// registry on the mount and once through distribution v2.8's registry with
// its own OSS storage driver, both against one `ossmount server`, and
// compares the OSS requests each push costs (target: fewer through the
// mount). v2.8's client (aliyungo) sends every request to its configured
// endpoint as /KEY with no bucket in host or path, the way a custom domain
// is addressed, so the server also listens on a --cname address for it.
func BenchmarkRegistryPushV28OSSDriver(b *testing.B) {
	harness.RequireFUSE(b)
	set := newImageSet(b)
	srv, cname := startCnameServer(b)
	bin := v28Binary(b)
	for i := 0; i < b.N; i++ {
		m := harness.MountBucket(b, srv, harness.MountOptions{})
		reg := registry.Start(b, registry.Options{Root: m.Dir})
		srv.ResetStats(b)
		mountPush := set.push(b, reg.Addr)
		ours := registry.WaitQuiet(b, srv)
		reg.NoErrors(b)

		old := startV28(b, bin, cname, strings.TrimSuffix(harness.UniquePrefix(b), "/"))
		srv.ResetStats(b)
		oldPush := set.push(b, old)
		theirs := registry.WaitQuiet(b, srv)
		set.pull(b, old) // the push must have stored the right bytes

		reqs, n := registry.Requests(ours)
		b.Logf("mount push: %d OSS requests (%s); received %d B, copied %d B", n, reqs, ours.BytesReceived, ours.BytesCopied)
		reqs, n2 := registry.Requests(theirs)
		b.Logf("v2.8 OSS driver push: %d OSS requests (%s); received %d B, copied %d B", n2, reqs, theirs.BytesReceived, theirs.BytesCopied)
		b.Logf("push time: mount %v, v2.8 OSS driver %v", round(mountPush), round(oldPush))
		b.ReportMetric(float64(n)/float64(set.blobs), "mount-requests/blob")
		b.ReportMetric(float64(n2)/float64(set.blobs), "v28-requests/blob")
		b.ReportMetric(float64(n)/float64(n2), "requests-ratio")
		b.ReportMetric(float64(theirs.BytesCopied)/float64(set.bytes), "v28-copied-bytes-ratio")
		b.ReportMetric(mountPush.Seconds()/oldPush.Seconds(), "push-time-ratio")
	}
}

// startCnameServer starts `ossmount server` with the default bucket also
// served on a second, custom-domain style address, returned as host:port.
// harness.StartServer has no such option; the returned Server is usable for
// its stats, its endpoint and SDK buckets.
func startCnameServer(b *testing.B) (*harness.Server, string) {
	b.Helper()
	cname := harness.FreeAddr(b)
	cmd := exec.Command(harness.Binary(b), "server", "--addr", "127.0.0.1:0",
		"--access-key-id", harness.AccessKeyID, "--bucket", harness.DefaultBucket,
		"--cname", cname+"="+harness.DefaultBucket)
	cmd.Env = append(os.Environ(), "OSS_ACCESS_KEY_SECRET="+harness.AccessKeySecret)
	var stderr harness.OutputBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start ossmount server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.Cleanup(func() { stopProcess(cmd, done) })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "listening on "); ok {
				addr <- a
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		return &harness.Server{Endpoint: a, Buckets: []string{harness.DefaultBucket}}, cname
	case <-done:
		b.Fatalf("ossmount server exited before listening: %v\n%s", cmd.ProcessState, stderr.String())
	case <-time.After(time.Minute):
		b.Fatalf("ossmount server did not listen within a minute\n%s", stderr.String())
	}
	return nil, ""
}

var v28Build struct {
	once sync.Once
	path string
	err  error
}

// v28Binary builds the v2.8 registry command once per test binary, next to
// the ossmount binary (harness.Main removes that directory).
func v28Binary(b *testing.B) string {
	b.Helper()
	v28Build.once.Do(func() {
		v28Build.path = filepath.Join(filepath.Dir(harness.Binary(b)), "v28registry")
		cmd := exec.Command("go", "build", "-tags", "include_oss", "-o", v28Build.path,
			"github.com/ossmount/ossmount/test/bench/internal/v28registry")
		if out, err := cmd.CombinedOutput(); err != nil {
			v28Build.err = fmt.Errorf("go build v28registry: %w\n%s", err, out)
		}
	})
	if v28Build.err != nil {
		b.Fatal(v28Build.err)
	}
	return v28Build.path
}

// startV28 runs the v2.8 registry with its OSS driver on the bucket behind
// the cname address, keys under root, and returns its host:port once
// GET /v2/ answers. Redirects are off so that pulls go through the registry
// as they do with the filesystem driver; the rest mirrors test/registry's
// configuration (deletes on, no upload purging, no blob descriptor cache).
func startV28(b *testing.B, bin, cname, root string) string {
	b.Helper()
	addr := harness.FreeAddr(b)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  oss:
    accesskeyid: %q
    accesskeysecret: %q
    region: oss-cn-hangzhou
    endpoint: %q
    internal: false
    secure: false
    bucket: %q
    rootdirectory: %q
  delete:
    enabled: true
  redirect:
    disable: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %q
`, harness.AccessKeyID, harness.AccessKeySecret, cname, harness.DefaultBucket, root, addr)
	path := filepath.Join(b.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, path)
	var log harness.OutputBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		b.Fatalf("start v2.8 registry: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		stopProcess(cmd, done)
		if b.Failed() {
			b.Logf("v2.8 registry log (tail):\n%s", harness.Tail(log.String(), 30))
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case <-done:
			b.Fatalf("v2.8 registry exited before serving: %v\n%s", cmd.ProcessState, harness.Tail(log.String(), 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("v2.8 registry did not answer GET /v2/ within a minute (last error %v)\n%s", err, harness.Tail(log.String(), 30))
		}
	}
}

// stopProcess ends a child started here: SIGTERM, then SIGKILL.
func stopProcess(cmd *exec.Cmd, done chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
