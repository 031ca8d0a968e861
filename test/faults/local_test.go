package faults

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// smallTmpfs mounts a tmpfs of the given size (mount option, e.g. "20m")
// and unmounts it in t.Cleanup, after anything registered later.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a %s tmpfs: %v", size, err)
		}
		t.Skipf("skipping: cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// TestCacheDirFull: on a 20 MiB cache dir, a write that does not fit fails
// with ENOSPC; files closed before are intact and reach OSS with a
// directory fsync; once the big file is deleted, writes work again.
func TestCacheDirFull(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	b := srv.Bucket(t, harness.DefaultBucket)
	cache := filepath.Join(smallTmpfs(t, "20m"), "cache")
	m := harness.MountBucket(t, srv, harness.MountOptions{CacheDir: cache, Args: []string{"--upload-delay=1h"}})

	before := map[string][]byte{"d/a": harness.RandomBytes(81, 1<<20), "d/b": harness.RandomBytes(82, 2<<20+3)}
	writeFiles(t, m.Dir, before)

	// Bigger than the whole tmpfs: somewhere it must fail, with ENOSPC.
	f, err := os.Create(m.Path("d", "huge"))
	if err != nil {
		t.Fatalf("create huge: %v", err)
	}
	chunk := harness.RandomBytes(83, 1<<20)
	var werr error
	written := 0
	for i := 0; i < 40 && werr == nil; i++ {
		var n int
		n, werr = f.Write(chunk)
		written += n
	}
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("writing 40 MiB into a 20 MiB cache dir: got %v (%s) after %d bytes, want ENOSPC", werr, errnoName(werr), written)
	}
	t.Logf("the write failed with ENOSPC after %d bytes (close: %v)", written, cerr)

	for rel, want := range before {
		got, err := os.ReadFile(m.Path(rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after ENOSPC: %v, %s", rel, err, describeDiff(got, want))
		}
	}
	if err := os.Remove(m.Path("d", "huge")); err != nil {
		t.Fatalf("remove huge: %v", err)
	}
	harness.FsyncDir(t, m.Path("d"))
	for rel, want := range before {
		if got, ok := b.Get(t, m.Key(rel)); !ok || !bytes.Equal(got, want) {
			t.Errorf("object %s after the directory fsync: present %v, %s", rel, ok, describeDiff(got, want))
		}
	}
	if b.Exists(t, m.Key("d/huge")) {
		t.Errorf("the deleted file that did not fit is in OSS")
	}

	// Space is back: a 5 MiB file fits again.
	after := harness.RandomBytes(84, 5<<20)
	if err := os.WriteFile(m.Path("d", "after"), after, 0o644); err != nil {
		t.Fatalf("write after freeing space: %v (%s)", err, errnoName(err))
	}
	harness.FsyncDir(t, m.Path("d"))
	if got, ok := b.Get(t, m.Key("d/after")); !ok || !bytes.Equal(got, after) {
		t.Errorf("object d/after: present %v, %s", ok, describeDiff(got, after))
	}
	m.Unmount(t)
}

// TestCacheDirInUse: a second mount with the cache dir of a live mount is
// refused with one line naming the cache dir, in both modes, and mounts
// nothing; the first mount keeps working.
func TestCacheDirInUse(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	m := harness.MountBucket(t, srv, harness.MountOptions{})
	for _, mode := range []string{"background", "foreground"} {
		t.Run(mode, func(t *testing.T) {
			mp := t.TempDir()
			cleanupMount(t, mp, m.CacheDir)
			var extra []string
			if mode == "foreground" {
				extra = []string{"-f"}
			}
			res := launch(t, credEnv(harness.AccessKeySecret), mountArgs(srv.Endpoint, m.CacheDir, harness.UniquePrefix(t), mp, extra...)...)
			msg := strings.TrimSpace(res.Stderr)
			t.Logf("exit %d: %s", res.ExitCode, msg)
			if res.ExitCode == 0 {
				t.Errorf("second mount with a busy cache dir exited 0")
			}
			if msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("stderr is not one line:\n%s", res.Stderr)
			}
			if !strings.Contains(msg, m.CacheDir) {
				t.Errorf("the message does not name the cache dir %s: %q", m.CacheDir, msg)
			}
			if harness.IsMounted(mp) {
				t.Errorf("%s got mounted", mp)
			}
			if pid := harness.FindDaemon(mp, m.CacheDir); pid != 0 {
				t.Errorf("an ossmount process (pid %d) is left for %s", pid, mp)
			}
		})
	}
	if err := os.WriteFile(m.Path("still-works"), []byte("yes"), 0o644); err != nil {
		t.Fatalf("the first mount after the refused ones: %v", err)
	}
	m.Unmount(t)
}
