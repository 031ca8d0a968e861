package e2e

import (
	"os"
	"path"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// TestRemountEmptyCache: unmount waits for every pending upload, so a mount
// of the same prefix with an empty cache directory shows every file byte
// for byte, and every directory, from OSS alone.
func TestRemountEmptyCache(t *testing.T) {
	e := newEnv(t, "--upload-delay=30s") // everything still pending at unmount
	files := map[string][]byte{
		"empty":              {},
		"small":              []byte("small"),
		"a/b/c/deep":         harness.RandomBytes(30, 100_000),
		"a/multipart":        harness.RandomBytes(31, 20<<20+5),
		"a/appended":         []byte("one\ntwo\n"),
		"renamed/dst":        []byte("moved before upload"),
		"overwritten":        []byte("second version"),
		"dir with space/f g": []byte("spaces"),
	}
	dirs := []string{"a", "a/b", "a/b/c", "renamed", "emptydir", "dir with space"}
	for _, d := range dirs {
		mustMkdirAll(t, e.m.Path(d))
	}
	for rel, data := range files {
		switch rel {
		case "a/appended":
			mustWrite(t, e.m.Path(rel), []byte("one\n"))
			appendTo(t, e.m.Path(rel), []byte("two\n"), true)
		case "renamed/dst":
			mustWrite(t, e.m.Path("renamed", "src"), data)
			mustRename(t, e.m.Path("renamed", "src"), e.m.Path(rel))
		case "overwritten":
			mustWrite(t, e.m.Path(rel), []byte("first"))
			mustWrite(t, e.m.Path(rel), data)
		default:
			mustWrite(t, e.m.Path(rel), data)
		}
	}
	e.m.Unmount(t)

	m2 := harness.MountBucket(t, e.srv, harness.MountOptions{Prefix: e.m.Prefix})
	for rel, data := range files {
		wantFile(t, m2.Path(rel), data)
	}
	for _, d := range dirs {
		if st, err := os.Stat(m2.Path(d)); err != nil || !st.IsDir() {
			t.Errorf("directory %s after remount: %v", d, err)
		}
	}
	if _, err := os.Lstat(m2.Path("renamed", "src")); !os.IsNotExist(err) {
		t.Errorf("renamed/src after remount: %v, want not exist", err)
	}
	// Nothing else appeared.
	want := map[string]bool{}
	for rel := range files {
		want[rel] = true
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			want[d] = true
		}
	}
	for _, d := range dirs {
		want[d] = true
	}
	var walk func(rel string)
	walk = func(rel string) {
		entries, err := os.ReadDir(m2.Path(rel))
		if err != nil {
			t.Fatalf("readdir %q: %v", rel, err)
		}
		for _, en := range entries {
			p := path.Join(rel, en.Name())
			if !want[p] {
				t.Errorf("unexpected entry %q after remount", p)
			}
			if en.IsDir() {
				walk(p)
			}
		}
	}
	walk("")
}
