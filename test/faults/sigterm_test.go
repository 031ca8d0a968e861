package faults

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossmount/ossmount/test/harness"
)

// pendingFiles are written with uploads held back, then must reach OSS
// through SIGTERM's flush or the next mount's journal replay.
func pendingFiles() map[string][]byte {
	return map[string][]byte{
		"top":       []byte("small file at the top"),
		"d/one":     harness.RandomBytes(61, 100<<10),
		"d/two":     {},
		"d/big":     harness.RandomBytes(62, 9<<20+123), // multipart
		"d/e/three": harness.RandomBytes(63, 1<<20),
	}
}

func writeFiles(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for rel, data := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatalf("mkdir %s: %v", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatalf("write %s: %v", rel, err)
		}
	}
}

// objectsState counts the files whose objects hold exactly their bytes, and
// lists the ones holding anything else (a partial or wrong upload).
func objectsState(t *testing.T, b *harness.Bucket, prefix string, files map[string][]byte) (complete int, wrong []string) {
	t.Helper()
	for rel, want := range files {
		got, ok := b.Get(t, prefix+rel)
		switch {
		case !ok:
		case bytes.Equal(got, want):
			complete++
		default:
			wrong = append(wrong, rel+": "+describeDiff(got, want))
		}
	}
	return complete, wrong
}

// TestSIGTERMUploadsPending: `ossmount -f` with uploads held back by a long
// --upload-delay uploads them all when SIGTERM comes, then unmounts and
// exits 0.
func TestSIGTERMUploadsPending(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{Latency: 20 * time.Millisecond})
	b := srv.Bucket(t, harness.DefaultBucket)
	mp, cache, prefix := t.TempDir(), t.TempDir(), harness.UniquePrefix(t)
	p := startForeground(t, credEnv(harness.AccessKeySecret), mp, cache,
		mountArgs(srv.Endpoint, cache, prefix, mp, "-f", "--upload-delay=1h")...)
	files := pendingFiles()
	writeFiles(t, mp, files)
	if n, _ := objectsState(t, b, prefix, files); n == len(files) {
		t.Fatalf("premise: with --upload-delay=1h all %d files are already in OSS before SIGTERM", n)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 5*time.Minute); code != 0 {
		t.Errorf("ossmount -f exited %d after SIGTERM, want 0\n%s", code, harness.Tail(p.out.String(), 20))
	}
	if harness.IsMounted(mp) {
		t.Errorf("%s is still mounted after the daemon exited", mp)
	}
	n, wrong := objectsState(t, b, prefix, files)
	if n != len(files) || len(wrong) > 0 {
		t.Fatalf("after SIGTERM: %d of %d files in OSS; wrong: %q; keys: %q\n%s", n, len(files), wrong, b.Keys(t, prefix), harness.Tail(p.out.String(), 20))
	}
	noMultipartLeft(t, b, prefix)
}

// TestSIGTERMFlushTimeout: with a flush timeout far shorter than one
// request, SIGTERM makes the daemon exit with its uploads unfinished; they
// stay journaled, and the next mount with the same cache dir uploads them
// without being asked.
func TestSIGTERMFlushTimeout(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{Latency: 300 * time.Millisecond})
	b := srv.Bucket(t, harness.DefaultBucket)
	mp, cache, prefix := t.TempDir(), t.TempDir(), harness.UniquePrefix(t)
	p := startForeground(t, credEnv(harness.AccessKeySecret), mp, cache,
		mountArgs(srv.Endpoint, cache, prefix, mp, "-f", "--upload-delay=1h", "--flush-timeout=1ms")...)
	files := pendingFiles()
	writeFiles(t, mp, files)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, 2*time.Minute)
	t.Logf("ossmount -f exited %d; output tail:\n%s", code, harness.Tail(p.out.String(), 5))
	if harness.IsMounted(mp) {
		t.Fatalf("%s is still mounted after the daemon exited", mp)
	}
	n, wrong := objectsState(t, b, prefix, files)
	if len(wrong) > 0 {
		t.Fatalf("after SIGTERM with a 1ms flush timeout, objects hold wrong bytes: %q", wrong)
	}
	if n == len(files) {
		t.Skipf("premise: all %d files reached OSS within the 1ms flush timeout; nothing left to replay", n)
	}
	t.Logf("%d of %d files in OSS when the daemon exited", n, len(files))

	// The same cache dir: the journal replays the uploads on its own.
	m := harness.MountBucket(t, srv, harness.MountOptions{CacheDir: cache, Prefix: prefix})
	harness.WaitUntil(t, 3*time.Minute, "the next mount uploads the journaled files", func() bool {
		n, wrong := objectsState(t, b, prefix, files)
		if len(wrong) > 0 {
			t.Fatalf("journal replay stored wrong bytes: %q", wrong)
		}
		return n == len(files)
	})
	for rel, data := range files {
		got, err := os.ReadFile(m.Path(rel))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s through the mount: %v, %s", rel, err, describeDiff(got, data))
		}
	}
	m.Unmount(t)
	noMultipartLeft(t, b, prefix)
}

// noMultipartLeft fails if a multipart upload under prefix was neither
// completed nor aborted.
func noMultipartLeft(t *testing.T, b *harness.Bucket, prefix string) {
	t.Helper()
	// Retried: the server may be injecting faults (TestFaultyServer), and
	// the check must see what it holds.
	var res oss.ListMultipartUploadResult
	var err error
	for i := 0; i < 30; i++ {
		if res, err = b.ListMultipartUploads(oss.Prefix(prefix)); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	for _, u := range res.Uploads {
		t.Errorf("unfinished multipart upload left in the bucket: %s (id %s)", u.Key, u.UploadID)
	}
}
