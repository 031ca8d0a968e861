package e2e

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

const (
	listEntries = 2500
	listAPIs    = "ListObjects+ListObjectsV2"
)

var (
	listCalls = []string{"ListObjects", "ListObjectsV2"}
	headCalls = []string{"HeadObject", "GetObjectMeta"}
)

// TestListLargeDirectoryCold: `ls -l` (readdir, then lstat of every entry)
// of a 2,500-entry directory the mount has never seen costs at most 4 LISTs
// (one lookup of the directory, one per 1,000 entries) and no HEAD; sizes
// come from the listing.
func TestListLargeDirectoryCold(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	prefix := harness.UniquePrefix(t)
	b := srv.Bucket(t, harness.DefaultBucket)
	putMany(t, b, prefix+"big/", listEntries)
	cache := t.TempDir()
	m := harness.MountBucket(t, srv, harness.MountOptions{Prefix: prefix, CacheDir: cache})

	srv.ResetStats(t)
	lsL(t, m.Path("big"), listEntries)
	st := srv.Stats(t)
	t.Logf("cold ls -l of %d entries: %s", listEntries, st)
	if n := st.Count(listCalls...); n > 4 {
		t.Errorf("cold ls -l of %d entries: %d %s requests, want at most 4: %s", listEntries, n, listAPIs, st)
	}
	if n := st.Count(headCalls...); n != 0 {
		t.Errorf("cold ls -l of %d entries: %d HEAD requests, want none: %s", listEntries, n, st)
	}
	if n := st.Count("GetObject"); n != 0 {
		t.Errorf("cold ls -l read %d objects, want none: %s", n, st)
	}

	t.Run("warm", func(t *testing.T) {
		srv.ResetStats(t)
		lsL(t, m.Path("big"), listEntries)
		if st := srv.Stats(t); st.Count(append(listCalls, headCalls...)...) != 0 {
			t.Errorf("second ls -l within the stat TTL went to OSS: %s", st)
		}
	})
	t.Run("after restart", func(t *testing.T) {
		m.Unmount(t)
		m2 := harness.MountBucket(t, srv, harness.MountOptions{Prefix: prefix, CacheDir: cache})
		srv.ResetStats(t)
		lsL(t, m2.Path("big"), listEntries)
		if st := srv.Stats(t); st.Count(append(listCalls, headCalls...)...) != 0 {
			t.Errorf("ls -l after a restart with the same cache dir, within the stat TTL, went to OSS: %s", st)
		}
	})
}

// putMany creates n objects under prefix through the SDK, the i-th holding
// i%7 bytes, so the mount has never seen them.
func putMany(t *testing.T, b *harness.Bucket, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b.Put(t, fmt.Sprintf("%sentry-%05d", prefix, i), make([]byte, i%7))
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// lsL is `ls -l`: read the directory, then lstat every entry, checking the
// count and the sizes putMany gave them.
func lsL(t *testing.T, dir string, n int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("readdir %s: %v", dir, err)
	}
	if len(entries) != n {
		t.Fatalf("readdir %s: %d entries, want %d", dir, len(entries), n)
	}
	for _, en := range entries {
		fi, err := os.Lstat(dir + "/" + en.Name())
		if err != nil {
			t.Fatalf("lstat %s: %v", en.Name(), err)
		}
		var i int
		if _, err := fmt.Sscanf(en.Name(), "entry-%05d", &i); err != nil {
			t.Fatalf("unexpected entry %q", en.Name())
		}
		if fi.Size() != int64(i%7) || !fi.Mode().IsRegular() {
			t.Fatalf("lstat %s: size %d mode %v, want a %d-byte file", en.Name(), fi.Size(), fi.Mode(), i%7)
		}
	}
}
