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
	ctx := context.Background()
	m := &model{files: map[string][]byte{}, dirs: map[string]bool{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.mkdir(ctx, "", "b", 0o755)
	must(err)
	m.dirs["b"] = true
	h, _, err := f.create(ctx, "b", "b", 0, 0o644)
	must(err)
	h.Write(ctx, []byte("3"), 0)
	h.Flush(ctx)
	h.Release(ctx)
	m.files["b/b"] = []byte("3")
	for i := 0; i < 5; i++ {
		must(f.fsyncDir(ctx, ""))
	}
	checkTree(t, f, m)
	f.mu.Lock()
	t.Log(f.ix.dump())
	f.mu.Unlock()
	if err := f.rmdir(ctx, "b"); err == nil {
		t.Fatal("rmdir of a non-empty dir")
	}
	_, err = f.mkdir(ctx, "b", "a", 0o755)
	must(err)
	m.dirs["b/a"] = true
	checkTree(t, f, m)
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
	ctx := context.Background()
	m := &model{files: map[string][]byte{}, dirs: map[string]bool{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(dir, name string) {
		t.Helper()
		_, err := f.mkdir(ctx, dir, name, 0o755)
		must(err)
		m.dirs[joinPath(dir, name)] = true
	}
	mkdir("", "b")
	h, _, err := f.create(ctx, "b", "a", 0, 0o644)
	must(err)
	h.Write(ctx, []byte("1"), 0)
	h.Flush(ctx)
	h.Release(ctx)
	mkdir("", "d")
	must(f.fsyncDir(ctx, ""))
	mkdir("d", "c")
	mkdir("d/c", "d")
	must(f.rename(ctx, "b", "d/c/d", "b", 0))
	delete(m.dirs, "b")
	m.dirs["d/c/d/b"] = true
	m.files["d/c/d/b/a"] = []byte("1")
	must(f.fsyncDir(ctx, "d/c/d")) // the move and d/c/d's marker; not d/c's
	checkTree(t, f, m)
	must(f.rename(ctx, "d/c/d", "d/c", "e", 0))
	m.moveTree("d/c/d", "d/c/e")
	checkTree(t, f, m)
	must(f.fsyncDir(ctx, ""))
	checkTree(t, f, m)
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
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range [][2]string{{"", "d"}, {"", "c"}, {"c", "d"}} {
		_, err := f.mkdir(ctx, d[0], d[1], 0o755)
		must(err)
	}
	h, _, err := f.create(ctx, "d", "b", 0, 0o601)
	must(err)
	h.Write(ctx, []byte("data"), 0)
	h.Flush(ctx)
	h.Release(ctx)
	must(f.rename(ctx, "d", "c/d", "d", 0))
	must(f.rename(ctx, "c/d", "", "d", 0))
	must(f.fsyncDir(ctx, ""))
	if _, err := f.readdir(ctx, "d/d"); err != nil {
		t.Fatal(err)
	}
	e, err := f.stat(ctx, "d/d/b")
	must(err)
	if e.Mode&0o7777 != 0o601 {
		t.Fatalf("d/d/b has mode %o after both moves ran, want 601", e.Mode&0o7777)
	}
}
