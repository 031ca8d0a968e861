package fs

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestIndexSequence(t *testing.T) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond, time.Hour} {
		for _, size := range []int64{0, 40, 1 << 20} {
			t.Run(fmt.Sprint(delay, size), func(t *testing.T) { testIndexSequence(t, delay, size) })
		}
	}
}

func testIndexSequence(t *testing.T, delay time.Duration, size int64) {
	env := newTestEnv(t)
	f, closeFS := env.newFS(t, "seq/", t.TempDir(), delay, size)
	defer closeFS()
	s := newSeq(t, f)
	s.mkdir("b")
	s.write("b/b", 0o644)
	for i := 0; i < 5; i++ {
		s.sync()
	}
	s.check()
	if err := f.rmdir(s.ctx, "b"); err == nil {
		t.Fatal("rmdir of a non-empty dir")
	}
	s.mkdir("b/a")
	s.check()
}

func TestRestartKeepsDirs(t *testing.T) {
	for i := 0; i < 30; i++ {
		testRestartKeepsDirs(t, fmt.Sprintf("rk%d/", i), []time.Duration{0, 20 * time.Millisecond, time.Hour}[i%3])
	}
}

func testRestartKeepsDirs(t *testing.T, prefix string, delay time.Duration) {
	env := newTestEnv(t)
	dir := t.TempDir()
	f, closeFS := env.newFS(t, prefix, dir, delay, 0)
	ctx := context.Background()
	checkTree(t, f, &model{files: map[string][]byte{}, dirs: map[string]bool{}})
	if _, err := f.mkdir(ctx, "", "b", 0o755); err != nil {
		t.Fatal(err)
	}
	checkTree(t, f, &model{files: map[string][]byte{}, dirs: map[string]bool{"b": true}})
	closeFS()
	f, closeFS = env.newFS(t, prefix, dir, delay, 0)
	defer closeFS()
	checkTree(t, f, &model{files: map[string][]byte{}, dirs: map[string]bool{"b": true}})
	if _, err := f.mkdir(ctx, "", "c", 0o755); err != nil {
		t.Fatal(err)
	}
	checkTree(t, f, &model{files: map[string][]byte{}, dirs: map[string]bool{"b": true, "c": true}})
}

func TestRestartTwice(t *testing.T) {
	for i := 0; i < 20; i++ {
		env := newTestEnv(t)
		dir := t.TempDir()
		prefix := fmt.Sprintf("rt%d/", i)
		f, closeFS := env.newFS(t, prefix, dir, time.Hour, 0)
		ctx := context.Background()
		m := &model{files: map[string][]byte{}, dirs: map[string]bool{"b": true}}
		if _, err := f.mkdir(ctx, "", "b", 0o755); err != nil {
			t.Fatal(err)
		}
		checkTree(t, f, m)
		for j := 0; j < 2; j++ {
			closeFS()
			f, closeFS = env.newFS(t, prefix, dir, time.Hour, 0)
			checkTree(t, f, m)
		}
		if err := f.fsyncDir(ctx, ""); err != nil {
			t.Fatal(err)
		}
		checkTree(t, f, m)
		closeFS()
	}
}

// A directory made here whose own marker has run, inside one whose marker
// has not, answers from the cache: the entries that retired into it must
// still be listed, found and moved (found by TestDifferential).
func TestDirUnderFreshDir(t *testing.T) {
	env := newTestEnv(t)
	f, closeFS := env.newFS(t, "ufd/", t.TempDir(), time.Hour, 0)
	defer closeFS()
	s := newSeq(t, f)
	s.mkdir("b")
	s.write("b/a", 0o644)
	s.mkdir("d")
	s.sync()
	s.mkdir("d/c")
	s.mkdir("d/c/d")
	s.rename("b", "d/c/d/b")
	s.must(f.fsyncDir(s.ctx, "d/c/d")) // the move and d/c/d's marker; not d/c's
	s.check()
	s.rename("d/c/d", "d/c/e")
	s.check()
	s.sync()
	s.check()
}

// A directory renamed twice before either move ran keeps what its files
// learned once both moves and their uploads ran: the mode chmod gave a
// file is still listed (found by TestDifferential: the first move's entry
// had moved on, so its drop of stale cache was never cancelled and wiped
// the file's attributes when the directory retired).
func TestChainedDirMovesKeepAttrs(t *testing.T) {
	env := newTestEnv(t)
	f, closeFS := env.newFS(t, "cdm/", t.TempDir(), 0, 0)
	defer closeFS()
	s := newSeq(t, f)
	s.mkdir("d")
	s.mkdir("c")
	s.mkdir("c/d")
	s.write("d/b", 0o601)
	s.rename("d", "c/d/d")
	s.rename("c/d", "d")
	s.sync()
	s.listDir("d/d")
	s.wantMode("d/d/b", 0o601)
}
