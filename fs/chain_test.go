package fs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/ossio"
	"github.com/ossmount/ossmount/ossio/ossserver"
)

// TestMoveOutOfMovedDir renames a directory, then a directory inside it
// out of it, before either move ran, with uploads and markers at assorted
// times: the entries carried twice must be found where the second move put
// them (found by TestDifferential: what an entry's ops wrote was looked
// for under the first move's target, as if the second had not moved it).
func TestMoveOutOfMovedDir(t *testing.T) {
	env := newTestEnv(t)
	for i, delay := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, time.Hour} {
		for j := 0; j < 10; j++ {
			t.Run(fmt.Sprint(delay, j), func(t *testing.T) {
				f, closeFS := env.newFS(t, fmt.Sprintf("mo%d-%d/", i, j), t.TempDir(), delay, 0)
				defer closeFS()
				ctx := context.Background()
				m := &model{files: map[string][]byte{}, dirs: map[string]bool{}}
				must := func(err error) {
					t.Helper()
					if err != nil {
						t.Fatal(err)
					}
				}
				for _, d := range [][2]string{{"", "d"}, {"d", "c"}, {"d/c", "e"}} {
					_, err := f.mkdir(ctx, d[0], d[1], 0o755)
					must(err)
					m.dirs[joinPath(d[0], d[1])] = true
				}
				for _, p := range []string{"d/c/b", "d/c/e/x", "d/a"} {
					dir, name := splitPath(p)
					h, _, err := f.create(ctx, dir, name, 0, 0o644)
					must(err)
					h.Write(ctx, []byte(p), 0)
					h.Flush(ctx)
					h.Release(ctx)
					m.files[p] = []byte(p)
				}
				if j%2 == 0 {
					must(f.fsyncDir(ctx, ""))
				}
				checkTree(t, f, m)
				must(f.rename(ctx, "d", "", "c", 0))
				m.moveTree("d", "c")
				checkTree(t, f, m)
				must(f.rename(ctx, "c/c", "", "d", 0))
				m.moveTree("c/c", "d")
				checkTree(t, f, m)
				time.Sleep(time.Duration(j) * time.Millisecond)
				checkTree(t, f, m)
				must(f.fsyncDir(ctx, ""))
				checkTree(t, f, m)
			})
		}
	}
}

// TestMoveTwiceAfterBarrier moves a directory into one made here, then
// that one (its marker still pending) elsewhere: the first directory's
// entries are in OSS under the second's old name until the second move
// runs, and must be listed from there (found by TestDifferential).
func TestMoveTwiceAfterBarrier(t *testing.T) {
	env := newTestEnv(t)
	for j := 0; j < 20; j++ {
		t.Run(fmt.Sprint(j), func(t *testing.T) {
			f, closeFS := env.newFS(t, fmt.Sprintf("mt%d/", j), t.TempDir(), time.Second, 0)
			defer closeFS()
			ctx := context.Background()
			m := &model{files: map[string][]byte{}, dirs: map[string]bool{}}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			mkdir := func(p string) {
				t.Helper()
				dir, name := splitPath(p)
				_, err := f.mkdir(ctx, dir, name, 0o755)
				must(err)
				m.dirs[p] = true
			}
			write := func(p string) {
				t.Helper()
				dir, name := splitPath(p)
				h, _, err := f.create(ctx, dir, name, 0, 0o644)
				must(err)
				h.Write(ctx, []byte(p), 0)
				h.Flush(ctx)
				h.Release(ctx)
				m.files[p] = []byte(p)
			}
			mkdir("b")
			mkdir("b/d")
			write("b/d/b")
			must(f.fsyncDir(ctx, ""))
			write("b/c")
			mkdir("b/a")
			must(f.rename(ctx, "b/d", "b/a", "b", 0))
			m.moveTree("b/d", "b/a/b")
			mkdir("b/b")
			time.Sleep(time.Duration(j) * time.Millisecond)
			must(f.fsyncDir(ctx, ""))
			checkTree(t, f, m)
			must(f.rename(ctx, "b/a", "b/b", "d", 0))
			m.moveTree("b/a", "b/b/d")
			for k := 0; k < 5; k++ {
				checkTree(t, f, m)
				time.Sleep(time.Duration(j) * time.Millisecond)
			}
			must(f.fsyncDir(ctx, ""))
			checkTree(t, f, m)
		})
	}
}

// TestMovedIntoRemadeDir moves a directory into one made again where an
// old one was renamed away, before the new one's marker ran: when the
// marker runs, the old directory's cache is forgotten but not what the
// moved directory brought (the mode of a file in it was lost; found by
// TestDifferential).
func TestMovedIntoRemadeDir(t *testing.T) {
	env := newTestEnv(t)
	f, closeFS := env.newFS(t, "mir/", t.TempDir(), time.Hour, 0)
	defer closeFS()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(p string) {
		t.Helper()
		dir, name := splitPath(p)
		_, err := f.mkdir(ctx, dir, name, 0o755)
		must(err)
	}
	mkdir("d")
	mkdir("d/b")
	must(f.fsyncDir(ctx, ""))
	must(f.rename(ctx, "d", "", "e", 0))
	mkdir("d") // fresh; its marker waits
	mkdir("a")
	h, _, err := f.create(ctx, "a", "x", 0, 0o601)
	must(err)
	h.Write(ctx, []byte("x"), 0)
	h.Flush(ctx)
	h.Release(ctx)
	must(f.fsyncDir(ctx, "a"))
	must(f.rename(ctx, "a", "d", "b", 0))
	must(f.fsyncDir(ctx, "d/b"))
	must(f.fsyncDir(ctx, "")) // d's marker
	if _, err := f.readdir(ctx, "d/b"); err != nil {
		t.Fatal(err)
	}
	e, err := f.stat(ctx, "d/b/x")
	must(err)
	if e.Mode&0o7777 != 0o601 {
		t.Fatalf("d/b/x has mode %o, want 601", e.Mode&0o7777)
	}
}

// TestMoveDirWithPendingAttrs renames a directory whose attribute markers
// are pending, makes one of the same name and renames that too before the
// first move ran: the second directory's place in OSS is not the first's
// (the first move rewrote it, and the second directory's marker then
// emptied the first's cached listing; found by TestDifferential).
func TestMoveDirWithPendingAttrs(t *testing.T) {
	env := newTestEnv(t)
	for j := 0; j < 6; j++ {
		t.Run(fmt.Sprint(j), func(t *testing.T) {
			f, closeFS := env.newFS(t, fmt.Sprintf("mpa%d/", j), t.TempDir(), 200*time.Millisecond, 0)
			defer closeFS()
			ctx := context.Background()
			m := &model{files: map[string][]byte{}, dirs: map[string]bool{}}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			mkdir := func(p string) {
				t.Helper()
				dir, name := splitPath(p)
				_, err := f.mkdir(ctx, dir, name, 0o755)
				must(err)
				m.dirs[p] = true
			}
			write := func(p string) {
				t.Helper()
				dir, name := splitPath(p)
				h, _, err := f.create(ctx, dir, name, 0, 0o644)
				must(err)
				h.Write(ctx, []byte(p), 0)
				h.Flush(ctx)
				h.Release(ctx)
				m.files[p] = []byte(p)
			}
			chmod := func(p string, mode uint32) {
				t.Helper()
				_, err := f.setattr(ctx, p, nil, &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_MODE, Mode: mode}})
				must(err)
			}
			mkdir("c")
			mkdir("d")
			mkdir("d/b")
			mkdir("a")
			write("a/a")
			write("a/b")
			must(f.fsyncDir(ctx, ""))
			chmod("a", 0o630)
			chmod("a", 0o663)
			must(f.rename(ctx, "a", "d/b", "a", 0))
			m.moveTree("a", "d/b/a")
			mkdir("a")
			chmod("a", 0o653)
			must(f.rename(ctx, "a", "c", "d", 0))
			m.moveTree("a", "c/d")
			time.Sleep(time.Duration(j) * 20 * time.Millisecond)
			must(f.fsyncDir(ctx, ""))
			mkdir("a")
			write("a/d")
			for k := 0; k < 5; k++ {
				checkTree(t, f, m)
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// TestDirEmptyWhileItsMoveRuns asks whether a directory just renamed is
// empty while the move carries its objects over (the server is slow): it
// never is. Looked up through the pending move's source, a listing taken
// after the move ran found nothing there, and rmdir removed a directory
// with files in it (found by TestDifferential with --upload-delay=0s).
func TestDirEmptyWhileItsMoveRuns(t *testing.T) {
	srv, err := ossserver.Start(ossserver.Config{AccessKeyID: "ak", AccessKeySecret: "sk", Buckets: []string{"bkt"}, Latency: 3 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := ossio.New(ossio.Config{Endpoint: srv.Endpoint, AccessKeyID: "ak", AccessKeySecret: "sk", Bucket: "bkt", RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{srv: srv, client: client}
	ctx := context.Background()
	for round := 0; round < 20; round++ {
		f, closeFS := env.newFS(t, fmt.Sprintf("dem%d/", round), t.TempDir(), 0, 0)
		for _, d := range []string{"c", "c/b"} {
			dir, name := splitPath(d)
			if _, err := f.mkdir(ctx, dir, name, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"a", "b", "c"} {
			h, _, err := f.create(ctx, "c/b", name, 0, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			h.Write(ctx, []byte(name), 0)
			h.Flush(ctx)
			h.Release(ctx)
		}
		if err := f.fsyncDir(ctx, ""); err != nil {
			t.Fatal(err)
		}
		// Let the files retire into the cache: the index no longer holds them.
		time.Sleep(50 * time.Millisecond)
		if err := f.rename(ctx, "c/b", "", "b", 0); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			empty, err := f.dirEmpty(ctx, "b")
			if err != nil {
				t.Fatal(err)
			}
			if empty {
				t.Fatalf("round %d, check %d: the renamed directory b looks empty", round, i)
			}
			time.Sleep(time.Millisecond)
		}
		closeFS()
	}
}

// TestRenameOverDirWithPendingRemoval renames a directory over an empty
// one whose last file is still being deleted from OSS: the moved
// directory's entry of the same name must not be hidden by the removed
// file's entry (found by TestDifferential under load).
func TestRenameOverDirWithPendingRemoval(t *testing.T) {
	srv, err := ossserver.Start(ossserver.Config{AccessKeyID: "ak", AccessKeySecret: "sk", Buckets: []string{"bkt"}, Latency: 100 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := ossio.New(ossio.Config{Endpoint: srv.Endpoint, AccessKeyID: "ak", AccessKeySecret: "sk", Bucket: "bkt", RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{srv: srv, client: client}
	f, closeFS := env.newFS(t, "rop/", t.TempDir(), 0, 0)
	defer closeFS()
	ctx := context.Background()
	m := &model{files: map[string][]byte{}, dirs: map[string]bool{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a", "a/d", "a/d/b", "c", "c/c"} {
		dir, name := splitPath(d)
		_, err := f.mkdir(ctx, dir, name, 0o755)
		must(err)
		m.dirs[d] = true
	}
	for _, p := range []string{"a/d/b/x", "c/c/b"} {
		dir, name := splitPath(p)
		h, _, err := f.create(ctx, dir, name, 0, 0o644)
		must(err)
		h.Write(ctx, []byte(p), 0)
		h.Flush(ctx)
		h.Release(ctx)
		m.files[p] = []byte(p)
	}
	must(f.fsyncDir(ctx, ""))
	time.Sleep(300 * time.Millisecond) // everything retires into the cache
	must(f.unlink(ctx, "c/c/b"))       // its delete takes a while
	delete(m.files, "c/c/b")
	must(f.rename(ctx, "a/d", "c", "c", 0))
	m.moveTree("a/d", "c/c")
	checkTree(t, f, m)
	must(f.fsyncDir(ctx, ""))
	checkTree(t, f, m)
}
