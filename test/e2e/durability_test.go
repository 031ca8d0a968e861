package e2e

import (
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// TestKill9Durability: what close or fsync returned for survives a kill -9
// of the daemon; the next mount with the same cache directory uploads it,
// renames included, under the final keys.
func TestKill9Durability(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	b := srv.Bucket(t, harness.DefaultBucket)
	cache := t.TempDir()
	m := harness.MountBucket(t, srv, harness.MountOptions{CacheDir: cache, Foreground: true, Args: []string{"--upload-delay=30s"}})
	files := map[string][]byte{
		"closed":      []byte("closed only"),
		"fsynced":     harness.RandomBytes(40, 9<<20),
		"d/renamed":   []byte("renamed after close"),
		"d/e/created": []byte("nested"),
	}
	mustMkdirAll(t, m.Path("d", "e"))
	mustWrite(t, m.Path("closed"), files["closed"])
	harness.WriteFileSync(t, m.Path("fsynced"), files["fsynced"])
	mustWrite(t, m.Path("d", "tmp"), files["d/renamed"])
	mustRename(t, m.Path("d", "tmp"), m.Path("d", "renamed"))
	mustWrite(t, m.Path("d", "e", "created"), files["d/e/created"])
	m.Kill(t)

	m2 := harness.MountBucket(t, srv, harness.MountOptions{CacheDir: cache, Prefix: m.Prefix})
	for rel, data := range files {
		wantFile(t, m2.Path(rel), data)
	}
	fsyncTree(t, m2.Dir)
	m2.Unmount(t)
	e := &env{srv: srv, m: m2, b: b}
	for rel, data := range files {
		e.wantObject(t, rel, data)
	}
	e.wantNoObject(t, "d/tmp")
}
