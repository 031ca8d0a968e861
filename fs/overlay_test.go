package fs

import (
	"testing"

	"github.com/ossmount/ossmount/fs/writeback"
)

func TestOverlay(t *testing.T) {
	put := func(k string) *writeback.Op { return &writeback.Op{Kind: writeback.Put, Key: k} }
	cp := func(src, dst string) *writeback.Op { return &writeback.Op{Kind: writeback.Copy, Src: src, Key: dst} }
	del := func(k string) *writeback.Op { return &writeback.Op{Kind: writeback.Delete, Key: k} }
	marker := func(k string) *writeback.Op { return &writeback.Op{Kind: writeback.Marker, Key: k} }
	move := func(src, dst string) *writeback.Op { return &writeback.Op{Kind: writeback.MoveDir, Src: src, Key: dst} }
	tests := []struct {
		name    string
		ops     []*writeback.Op
		key     string
		want    presence
		wantKey string
	}{
		{"nothing pending", nil, "p/a", undecided, "p/a"},
		{"upload", []*writeback.Op{put("p/a")}, "p/a", isFile, "p/a"},
		{"upload then delete", []*writeback.Op{put("p/a"), del("p/a")}, "p/a", noFile, "p/a"},
		{"copy reads its source", []*writeback.Op{cp("p/s", "p/a")}, "p/a", isFile, "p/s"},
		{"copy of a deleted source", []*writeback.Op{del("p/s"), cp("p/s", "p/a")}, "p/a", absent, "p/s"},
		{"marker", []*writeback.Op{marker("p/a/")}, "p/a", isDir, "p/a"},
		{"rmdir", []*writeback.Op{marker("p/a/"), del("p/a/")}, "p/a", absent, "p/a"},
		{"file deleted, directory made", []*writeback.Op{del("p/a"), marker("p/a/")}, "p/a", isDir, "p/a"},
		{"something created inside", []*writeback.Op{put("p/a/b/c")}, "p/a", isDir, "p/a"},
		{"created inside, then deleted", []*writeback.Op{cp("p/s", "p/a/b/f"), del("p/s"), del("p/a/b/f")}, "p/a/b", undecided, "p/a/b"},
		{"moved away", []*writeback.Op{move("p/a/", "p/b/")}, "p/a/x", absent, "p/a/x"},
		{"moved here reads the old name", []*writeback.Op{move("p/a/", "p/b/")}, "p/b/x", undecided, "p/a/x"},
		{"moved twice", []*writeback.Op{move("p/a/", "p/b/"), move("p/b/", "p/c/")}, "p/c/x", undecided, "p/a/x"},
		{"target of a move", []*writeback.Op{move("p/a/", "p/b/")}, "p/b", isDir, "p/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, key := overlay(tc.ops, tc.key)
			if got != tc.want || key != tc.wantKey {
				t.Fatalf("overlay(%q) = %v, %q; want %v, %q", tc.key, got, key, tc.want, tc.wantKey)
			}
		})
	}
}
