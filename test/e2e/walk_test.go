package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// TestWalkListsFlat walks (as find and du do: every directory listed,
// every entry stat'ed) a registry-shaped tree of 2,000 blobs in 2,000
// directories, put straight into the bucket. A cold walk must cost about
// one LIST per 1,000 objects, not one per directory, and no HEAD; a second
// walk on the same mount none at all.
func TestWalkListsFlat(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	bucket := srv.Bucket(t, harness.DefaultBucket)
	prefix := harness.UniquePrefix(t)
	var want []string
	for x := 0; x < 40; x++ {
		for d := 0; d < 50; d++ {
			want = append(want, fmt.Sprintf("docker/registry/v2/blobs/sha256/%02x/%02x%062d/data", x, x, d))
		}
	}
	var wg sync.WaitGroup
	keys := make(chan string)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				bucket.Put(t, prefix+k, []byte("blob"))
			}
		}()
	}
	for _, k := range want {
		keys <- k
	}
	close(keys)
	wg.Wait()

	m := harness.MountBucket(t, srv, harness.MountOptions{Prefix: prefix})
	walk := func() []string {
		var got []string
		err := filepath.WalkDir(m.Dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if _, err := os.Lstat(p); err != nil {
				return err
			}
			if !d.IsDir() {
				rel, _ := filepath.Rel(m.Dir, p)
				got = append(got, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		return got
	}
	srv.ResetStats(t)
	got := walk()
	cold := srv.Stats(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the walk found %d files, want %d", len(got), len(want))
	}
	srv.ResetStats(t)
	walk()
	warm := srv.Stats(t)
	t.Logf("cold walk of %d objects in %d directories: %s; again: %s", len(want), len(want)+46, cold, warm)
	lists := cold.Count("ListObjects", "ListObjectsV2")
	if limit := int64(len(want))*12/10/1000 + 4; lists > limit {
		t.Errorf("a cold walk made %d LISTs, want at most %d (about one per 1,000 objects)", lists, limit)
	}
	if heads := cold.Count("HeadObject", "GetObjectMeta"); heads != 0 {
		t.Errorf("a cold walk made %d HEADs, want none", heads)
	}
	var again int64
	for _, n := range warm.Requests {
		again += n
	}
	if again != 0 {
		t.Errorf("a second walk made %d requests, want none: %s", again, warm)
	}
}
