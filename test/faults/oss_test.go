package faults

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// TestFaultyServer: with one request in ten answered 500/503 or cut
// mid-body, files written through the mount (some multipart) are in OSS
// byte for byte once their directories are fsynced, and read back exactly
// through a mount with an empty cache.
func TestFaultyServer(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{FaultRate: 0.1, Latency: 5 * time.Millisecond})
	b := srv.Bucket(t, harness.DefaultBucket)
	m := harness.MountBucket(t, srv, harness.MountOptions{})

	files := map[string][]byte{}
	for i := 0; i < 40; i++ {
		dir := []string{"x", "y", "y/z"}[i%3]
		files[path.Join(dir, fmt.Sprintf("f%02d", i))] = harness.RandomBytes(uint64(1000+i), (i*7919)%(300<<10))
	}
	for i, size := range []int{9<<20 + 1, 12 << 20, 17<<20 + 4097} {
		files[fmt.Sprintf("x/big%d", i)] = harness.RandomBytes(uint64(2000+i), size)
	}
	writeFiles(t, m.Dir, files)
	for _, d := range []string{"x", "y", "y/z"} {
		harness.FsyncDir(t, m.Path(d))
	}

	var bad []string
	for rel, want := range files {
		got, err := getRetrying(b, m.Key(rel))
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", rel, err))
		} else if !bytes.Equal(got, want) {
			bad = append(bad, rel+": "+describeDiff(got, want))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("after directory fsyncs under a faulty server, %d of %d objects are wrong:\n%q", len(bad), len(files), bad)
	}
	st := srv.Stats(t)
	t.Logf("server stats after the writes: %s", st)

	fresh := harness.MountBucket(t, srv, harness.MountOptions{Prefix: m.Prefix})
	got, _, err := readTree(fresh.Dir)
	if err != nil {
		t.Fatalf("read back through a fresh mount under a faulty server: %v", err)
	}
	if problems := model(files).diff(got, nil); len(problems) > 0 {
		t.Fatalf("read back through a fresh mount under a faulty server:\n%q", problems)
	}
	m.Unmount(t)
	fresh.Unmount(t)
	noMultipartLeft(t, b, m.Prefix)
}

// getRetrying reads an object through the SDK, retrying the faults the
// server injects, so that the check sees what OSS holds.
func getRetrying(b *harness.Bucket, key string) ([]byte, error) {
	var err error
	for i := 0; i < 30; i++ {
		var r io.ReadCloser
		if r, err = b.GetObject(key); err == nil {
			var data []byte
			data, err = io.ReadAll(r)
			r.Close()
			if err == nil {
				return data, nil
			}
		}
		if harness.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, err
}

// TestServerDown: the OSS server dies and comes back at the same address
// with the same data. While it is down, reading a file the mount has never
// fetched fails with EIO (and returns); writing still works. Once it is
// back, the read works and the upload held back by the outage goes through
// without being asked.
func TestServerDown(t *testing.T) {
	harness.RequireFUSE(t)
	srv := startServer(t, serverOpts{Root: t.TempDir()})
	b := srv.h().Bucket(t, harness.DefaultBucket)
	prefix := harness.UniquePrefix(t)
	cold := harness.RandomBytes(71, 3<<20)
	b.Put(t, prefix+"cold", cold)
	m := harness.MountBucket(t, srv.h(), harness.MountOptions{Prefix: prefix, Args: []string{"--upload-delay=2s"}})
	if st, err := os.Stat(m.Path("cold")); err != nil || st.Size() != int64(len(cold)) {
		t.Fatalf("stat cold: %v (%v)", err, st)
	}
	// Closed just before the outage: their uploads come due while OSS is down.
	pending := harness.RandomBytes(72, 9<<20+5) // multipart
	small := []byte("small pending file")
	writeFiles(t, m.Dir, map[string][]byte{"pending": pending, "small": small})

	srv.kill()
	_, err := readWithin(t, m.Path("cold"), 3*time.Minute)
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("reading a file never fetched while OSS is down: got %v (%s), want EIO", err, errnoName(err))
	}
	// A new name cannot be checked against OSS: creating it may fail, but
	// with EIO, the errno of a storage failure.
	if err := os.WriteFile(m.Path("created-while-down"), small, 0o644); err != nil && !errors.Is(err, syscall.EIO) {
		t.Errorf("creating a file while OSS is down: got %v (%s), want success or EIO", err, errnoName(err))
	}
	// Let the uploads come due and fail against the dead server (a wait for
	// the failure to happen, not a timing assertion).
	time.Sleep(3 * time.Second)

	srv.restart(t)
	b = srv.h().Bucket(t, harness.DefaultBucket)
	got, err := readWithin(t, m.Path("cold"), 3*time.Minute)
	if err != nil || !bytes.Equal(got, cold) {
		t.Fatalf("reading cold once OSS is back: %v, %s", err, describeDiff(got, cold))
	}
	harness.WaitUntil(t, 3*time.Minute, "the uploads held back by the outage reach OSS", func() bool {
		p, ok1 := b.Get(t, m.Key("pending"))
		s, ok2 := b.Get(t, m.Key("small"))
		return ok1 && ok2 && bytes.Equal(p, pending) && bytes.Equal(s, small)
	})
	m.Unmount(t)
	noMultipartLeft(t, b, prefix)
}

// readWithin reads a file, failing the test if the read does not return
// within d: a read against a dead server must fail, not hang.
func readWithin(t *testing.T, p string, d time.Duration) ([]byte, error) {
	t.Helper()
	type result struct {
		data []byte
		err  error
	}
	res := make(chan result, 1)
	go func() {
		data, err := os.ReadFile(p)
		res <- result{data, err}
	}()
	select {
	case r := <-res:
		return r.data, r.err
	case <-time.After(d):
		t.Fatalf("read %s did not return within %v", p, d)
		return nil, nil
	}
}

// errnoName names the errno inside err, for messages.
func errnoName(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		return fmt.Sprintf("errno %d", int(e))
	}
	return "no errno"
}
