package fs

import (
	"context"
	"fmt"
	"testing"
	"time"

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
				s := newSeq(t, f)
				s.mkdir("d")
				s.mkdir("d/c")
				s.mkdir("d/c/e")
				s.write("d/c/b", 0o644)
				s.write("d/c/e/x", 0o644)
				s.write("d/a", 0o644)
				if j%2 == 0 {
					s.sync()
				}
				s.check()
				s.rename("d", "c")
				s.check()
				s.rename("c/c", "d")
				s.check()
				time.Sleep(time.Duration(j) * time.Millisecond)
				s.check()
				s.sync()
				s.check()
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
			s := newSeq(t, f)
			s.mkdir("b")
			s.mkdir("b/d")
			s.write("b/d/b", 0o644)
			s.sync()
			s.write("b/c", 0o644)
			s.mkdir("b/a")
			s.rename("b/d", "b/a/b")
			s.mkdir("b/b")
			time.Sleep(time.Duration(j) * time.Millisecond)
			s.sync()
			s.check()
			s.rename("b/a", "b/b/d")
			for k := 0; k < 5; k++ {
				s.check()
				time.Sleep(time.Duration(j) * time.Millisecond)
			}
			s.sync()
			s.check()
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
	s := newSeq(t, f)
	s.mkdir("d")
	s.mkdir("d/b")
	s.sync()
	s.rename("d", "e")
	s.mkdir("d") // fresh; its marker waits
	s.mkdir("a")
	s.write("a/x", 0o601)
	s.must(f.fsyncDir(s.ctx, "a"))
	s.rename("a", "d/b")
	s.must(f.fsyncDir(s.ctx, "d/b"))
	s.sync() // d's marker
	s.listDir("d/b")
	s.wantMode("d/b/x", 0o601)
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
			s := newSeq(t, f)
			s.mkdir("c")
			s.mkdir("d")
			s.mkdir("d/b")
			s.mkdir("a")
			s.write("a/a", 0o644)
			s.write("a/b", 0o644)
			s.sync()
			s.chmod("a", 0o630)
			s.chmod("a", 0o663)
			s.rename("a", "d/b/a")
			s.mkdir("a")
			s.chmod("a", 0o653)
			s.rename("a", "c/d")
			time.Sleep(time.Duration(j) * 20 * time.Millisecond)
			s.sync()
			s.mkdir("a")
			s.write("a/d", 0o644)
			for k := 0; k < 5; k++ {
				s.check()
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
	s := newSeq(t, f)
	for _, d := range []string{"a", "a/d", "a/d/b", "c", "c/c"} {
		s.mkdir(d)
	}
	s.write("a/d/b/x", 0o644)
	s.write("c/c/b", 0o644)
	s.sync()
	time.Sleep(300 * time.Millisecond) // everything retires into the cache
	s.unlink("c/c/b")                  // its delete takes a while
	s.rename("a/d", "c/c")
	s.check()
	s.sync()
	s.check()
}

// TestMoveOutOfDirMovedOverFreshDir renames a directory over an empty one
// made here, then a file out of it, before either move ran: the file must
// not come back in its old place (found by TestDifferential, seed
// 1796410935765179759).
func TestMoveOutOfDirMovedOverFreshDir(t *testing.T) {
	env := newTestEnv(t)
	for i, delay := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, time.Hour} {
		for j := 0; j < 6; j++ {
			t.Run(fmt.Sprint(delay, j), func(t *testing.T) {
				f, closeFS := env.newFS(t, fmt.Sprintf("mof%d-%d/", i, j), t.TempDir(), delay, 0)
				defer closeFS()
				s := newSeq(t, f)
				s.mkdir("b")
				s.mkdir("c")
				s.mkdir("d")
				s.write("c/a", 0o644)
				s.mkdir("c/d")
				s.write("c/d/a", 0o644)
				if j%2 == 0 {
					s.sync()
				}
				s.rename("c/d", "a")
				s.write("c/d", 0o644)
				s.mkdir("b/a")
				s.rename("c", "b/a")
				s.rename("b/a/d", "d/c")
				s.check()
				time.Sleep(time.Duration(j) * 3 * time.Millisecond)
				s.check()
				s.sync()
				checkBucket(t, env.client, fmt.Sprintf("mof%d-%d/", i, j), s.m)
				s.check()
			})
		}
	}
}

// TestTableWrittenThroughPendingMove writes a directory's attribute table
// while a rename of the directory waits to run: the table, read through
// the move's source, must still hold the file's row (found by
// TestDifferential: that listing showed the defaults, the row was lost,
// and a cold ls -l showed 644 for a 600 file).
func TestTableWrittenThroughPendingMove(t *testing.T) {
	env := newTestEnv(t)
	for j := 0; j < 10; j++ {
		t.Run(fmt.Sprint(j), func(t *testing.T) {
			prefix := fmt.Sprintf("tpm%d/", j)
			f, closeFS := env.newFS(t, prefix, t.TempDir(), time.Hour, 0)
			s := newSeq(t, f)
			s.mkdir("d")
			s.sync() // d's marker: d is not fresh any more
			s.write("d/x", 0o600)
			s.must(f.fsyncDir(s.ctx, "d"))                  // the upload; it queues d's table
			time.Sleep(time.Duration(j) * time.Millisecond) // x retires into the cache
			s.rename("d", "e")
			s.sync() // the table, read through the move's source, then the move
			f.Flush(s.ctx)
			closeFS()
			g, closeG := env.newFS(t, prefix, t.TempDir(), time.Hour, 0)
			defer closeG()
			entries, err := g.readdir(s.ctx, "e")
			s.must(err)
			if len(entries) != 1 || entries[0].Mode&0o7777 != 0o600 {
				t.Fatalf("a cold listing of e shows %+v; want x with mode 600", entries)
			}
		})
	}
}

// TestMovedDirKeepsSubdirModeOverFreshDir renames a directory holding a
// chmod'ed subdirectory over an empty directory made here: the
// subdirectory keeps its mode while the move waits and after it ran
// (found by TestDifferential: the new directory's marker wiped what the
// cache knew of the moved one's source; and with an upload pending in
// the subdirectory, its mode was looked up under its new name, where the
// cache knows nothing until the move runs).
func TestMovedDirKeepsSubdirModeOverFreshDir(t *testing.T) {
	env := newTestEnv(t)
	for i, delay := range []time.Duration{0, 5 * time.Millisecond, time.Second, time.Hour} {
		for j := 0; j < 4; j++ {
			t.Run(fmt.Sprint(delay, j), func(t *testing.T) {
				f, closeFS := env.newFS(t, fmt.Sprintf("msm%d-%d/", i, j), t.TempDir(), delay, 0)
				defer closeFS()
				s := newSeq(t, f)
				s.mkdir("c")
				s.mkdir("d")
				s.chmod("d", 0o661)
				s.mkdir("d/d")
				s.write("d/d/b", 0o644)
				s.mkdir("c/d")
				s.write("c/d/a", 0o644)
				s.chmod("c/d", 0o634)
				s.chmod("c/d", 0o674)
				if j%2 == 1 {
					s.sync()
				}
				s.rename("c/d", "d/d/a")
				s.must(f.fsyncDir(s.ctx, "d"))
				time.Sleep(time.Duration(j) * 5 * time.Millisecond)
				if i%2 == 1 {
					s.write("d/d/a/x", 0o644) // its upload pins d/d/a: an index entry with no attributes of its own
				}
				s.mkdir("a")
				s.rename("d/d", "a")
				s.wantMode("a/a", 0o674)
				s.check()
				s.sync()
				s.wantMode("a/a", 0o674)
			})
		}
	}
}
