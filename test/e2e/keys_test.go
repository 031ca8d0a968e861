package e2e

import (
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// keysTree is a registry-like tree with names that need escaping in URLs.
var keysTree = []string{
	"docker/registry/v2/blobs/sha256/ab/ab0123456789/data",
	"docker/registry/v2/repositories/library/alpine/_layers/sha256/ab0123456789/link",
	"docker/registry/v2/repositories/library/alpine/_uploads/0f1e-2d3c/startedat",
	"names/with space",
	"names/plus+and%percent",
	"names/question?hash#amp&eq=",
	"names/ünïcödé-名前",
	"names/.hidden",
	"top",
}

// TestKeysArePaths: the bucket's keys are exactly the paths of the files
// under the mount (directories that hold something need no marker), seen
// through the SDK after a directory fsync and after an unmount.
func TestKeysArePaths(t *testing.T) {
	for _, how := range []string{"directory fsync", "unmount"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, "--upload-delay=30s")
			want := map[string]bool{}
			for i, rel := range keysTree {
				mustMkdirAll(t, e.m.Path(path.Dir(rel)))
				mustWrite(t, e.m.Path(rel), []byte(fmt.Sprintf("content %d of %s", i, rel)))
				want[e.m.Key(rel)] = true
			}
			if how == "unmount" {
				e.m.Unmount(t)
			} else {
				fsyncTree(t, e.m.Dir)
			}
			got := e.b.Keys(t, e.m.Prefix)
			var missing, extra []string
			for k := range want {
				if !slices.Contains(got, k) {
					missing = append(missing, k)
				}
			}
			for _, k := range got {
				if !want[k] {
					extra = append(extra, k)
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 || len(extra) > 0 {
				t.Fatalf("bucket keys differ from the mount's paths:\nmissing %q\nextra %q", missing, extra)
			}
			for i, rel := range keysTree {
				e.wantObject(t, rel, []byte(fmt.Sprintf("content %d of %s", i, rel)))
			}
		})
	}
}

// fsyncTree fsyncs every directory under root, deepest first.
func fsyncTree(t *testing.T, root string) {
	t.Helper()
	var dirs []string
	var walk func(string)
	walk = func(d string) {
		dirs = append(dirs, d)
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatalf("readdir %s: %v", d, err)
		}
		for _, en := range entries {
			if en.IsDir() {
				walk(d + "/" + en.Name())
			}
		}
	}
	walk(root)
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for _, d := range dirs {
		harness.FsyncDir(t, d)
	}
}
