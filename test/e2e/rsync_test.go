package e2e

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// TestAttrsBeforeRename follows rsync's pattern: write a temporary file,
// set its mode and times, rename it into place. Some files are renamed
// while their upload is still queued, some after it ran: OSS must end up
// with every file's mode and mtime under its final name, whatever the
// timing.
func TestAttrsBeforeRename(t *testing.T) {
	e := newEnv(t, "--upload-delay=50ms")
	const n = 120
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < n; i++ {
		tmp := e.m.Path(fmt.Sprintf(".f%d.tmp", i))
		if err := os.WriteFile(tmp, []byte(fmt.Sprint(i)), 0o600); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			time.Sleep(80 * time.Millisecond) // let this one's upload run first
		}
		if err := os.Chmod(tmp, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, e.m.Path(fmt.Sprintf("f%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	e.m.Unmount(t) // waits for every upload
	lost := 0
	for i := 0; i < n; i++ {
		h := e.b.Meta(t, e.m.Key(fmt.Sprintf("f%d", i)))
		wantMtime := fmt.Sprint(mtime.Add(time.Duration(i) * time.Second).UnixNano())
		if mode := h.Get("X-Oss-Meta-Mode"); mode != "100640" || h.Get("X-Oss-Meta-Mtime") != wantMtime {
			if lost < 5 {
				t.Errorf("f%d: x-oss-meta-mode %q, mtime %q; want 100640, %s", i, mode, h.Get("X-Oss-Meta-Mtime"), wantMtime)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d files lost their mode or mtime in OSS", lost, n)
	}
}

// TestColdLsShowsAttrs: after an rsync-like copy (modes, an owner, old
// mtimes, a chmod'ed directory), `ls -l` from a mount with an empty cache
// shows what was set, as a lookup of each file would, with no HEAD: the
// attributes come with the directory's listing (its marker's table).
func TestColdLsShowsAttrs(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	prefix := harness.UniquePrefix(t)
	m := harness.MountBucket(t, srv, harness.MountOptions{Prefix: prefix, CacheDir: t.TempDir()})
	old := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	type want struct {
		mode os.FileMode
		uid  uint32
	}
	wants := map[string]want{}
	if err := os.MkdirAll(m.Path("tree/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		p := m.Path(fmt.Sprintf("tree/f%02d", i))
		if err := os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		w := want{mode: 0o644}
		switch i % 3 {
		case 0:
			w.mode = os.FileMode(0o600 + i%8*0o10)
			if err := os.Chmod(p, w.mode); err != nil {
				t.Fatal(err)
			}
		case 1:
			w.uid = uint32(1000 + i)
			if err := os.Chown(p, int(w.uid), 100); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(p, old, old.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
		wants[fmt.Sprintf("f%02d", i)] = w
	}
	if err := os.Chmod(m.Path("tree/sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	wants["sub"] = want{mode: os.ModeDir | 0o700}
	m.Unmount(t) // waits for every upload and table

	m2 := harness.MountBucket(t, srv, harness.MountOptions{Prefix: prefix, CacheDir: t.TempDir()})
	srv.ResetStats(t)
	entries, err := os.ReadDir(m2.Path("tree"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(wants) {
		t.Fatalf("tree lists %d entries, want %d", len(entries), len(wants))
	}
	for _, en := range entries {
		fi, err := os.Lstat(m2.Path("tree/" + en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		w := wants[en.Name()]
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != w.mode {
			t.Errorf("%s: mode %v after a cold remount, want %v", en.Name(), fi.Mode(), w.mode)
		}
		if w.uid != 0 && st.Uid != w.uid {
			t.Errorf("%s: uid %d after a cold remount, want %d", en.Name(), st.Uid, w.uid)
		}
		var i int
		if _, err := fmt.Sscanf(en.Name(), "f%02d", &i); err == nil && !fi.ModTime().Equal(old.Add(time.Duration(i)*time.Hour)) {
			t.Errorf("%s: mtime %v after a cold remount, want %v", en.Name(), fi.ModTime(), old.Add(time.Duration(i)*time.Hour))
		}
	}
	st := srv.Stats(t)
	t.Logf("cold ls -l of %d entries with attributes: %s", len(entries), st)
	if n := st.Count(headCalls...); n != 0 {
		t.Errorf("cold ls -l made %d HEAD requests, want none: %s", n, st)
	}
	if n := st.Count("GetObject"); n != 1 {
		t.Errorf("cold ls -l made %d GETs, want 1 (the table): %s", n, st)
	}
}
