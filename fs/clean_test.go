package fs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCleanCopiesStayWithinCacheSize: files already uploaded stay as local
// copies, least recently used out first, within CacheSize; an evicted file
// reads back from OSS.
func TestCleanCopiesStayWithinCacheSize(t *testing.T) {
	env := newTestEnv(t)
	const size, cap = 100 << 10, 350 << 10 // room for three clean copies
	cacheDir := t.TempDir()
	f, closeFS := env.newFS(t, "lru/", cacheDir, 0, cap)
	defer closeFS()
	ctx := context.Background()
	data := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size) }
	for i := range 6 {
		name := string(rune('a' + i))
		h, _, err := f.create(ctx, "", name, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(ctx, data(i), 0)
		h.Flush(ctx)
		h.Release(ctx)
		if err := f.fsyncDir(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := f.Flush(dctx); err != nil {
		t.Fatal(err)
	}
	var staged int64
	entries, _ := os.ReadDir(filepath.Join(cacheDir, "staging"))
	for _, e := range entries {
		if st, err := e.Info(); err == nil {
			staged += st.Size()
		}
	}
	if staged > cap || staged < 3*size {
		t.Fatalf("staging holds %d bytes in %d files; want the 3 newest files (%d bytes), at most %d", staged, len(entries), 3*size, cap)
	}
	f.mu.Lock()
	_, newest := f.files["f"]
	_, oldest := f.files["a"]
	f.mu.Unlock()
	if !newest || oldest {
		t.Fatalf("clean copies kept: newest %v (want true), oldest %v (want false)", newest, oldest)
	}
	for i := range 6 {
		if got := readFile(t, f, string(rune('a'+i))); !bytes.Equal(got, data(i)) {
			t.Fatalf("file %d reads back %d bytes, wrong", i, len(got))
		}
	}
}
