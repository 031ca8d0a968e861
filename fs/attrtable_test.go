package fs

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/metacache"
)

// TestColdListingCarriesAttrs sets modes, owners and mtimes, then lists
// the tree from a mount with an empty cache: the listing shows what a
// lookup of each entry shows (issue: ls -l after a remount reset them to
// defaults), with no request per entry; directories with no attributes of
// their own cost nothing more than their LIST.
func TestColdListingCarriesAttrs(t *testing.T) {
	env := newTestEnv(t)
	for _, delay := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run(fmt.Sprint(delay), func(t *testing.T) {
			prefix := fmt.Sprintf("cla%d/", delay)
			f, closeFS := env.newFS(t, prefix, t.TempDir(), delay, 0)
			s := newSeq(t, f)
			old := time.Unix(1_500_000_000, 0)
			s.mkdir("d")
			s.mkdir("d/sub")
			s.mkdir("plain")
			s.mkdir("plain/inner")
			s.write("plain/f", 0o644)
			s.write("d/secret", 0o600)
			s.write("d/plain", 0o644)
			s.write("d/old", 0o644)
			s.write("d/owned", 0o644)
			s.write("d/reverted", 0o600)
			s.write("d/replaced", 0o600)
			s.chmod("d/sub", 0o700)
			s.setattr("d/old", &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_MTIME, Mtime: uint64(old.Unix())}})
			s.setattr("d/owned", &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_UID | fuse.FATTR_GID, Owner: fuse.Owner{Uid: 1234, Gid: 99}}})
			s.sync()
			s.chmod("d/reverted", 0o644)
			s.sync()
			want := map[string]metacache.Entry{}
			for _, p := range []string{"d/secret", "d/plain", "d/old", "d/owned", "d/reverted", "d/sub", "plain/f", "plain/inner"} {
				e, err := f.stat(s.ctx, p)
				s.must(err)
				want[p] = e
			}
			time.Sleep(50 * time.Millisecond) // the tables' rewrites queued by the last uploads
			s.sync()
			closeFS()
			// Another client replaces one file: its row no longer holds.
			if _, err := env.client.Put(s.ctx, prefix+"d/replaced", bytes.NewReader([]byte("other bytes")), 11, nil); err != nil {
				t.Fatal(err)
			}

			before := env.client.Stats()
			g, closeG := env.newFS(t, prefix, t.TempDir(), delay, 0)
			defer closeG()
			for _, dir := range []string{"d", "plain"} {
				entries, err := g.readdir(s.ctx, dir)
				s.must(err)
				for _, e := range entries {
					p := joinPath(dir, e.Name)
					w, ok := want[p]
					if !ok {
						if e.Mode != 0 || e.HasOwner {
							t.Errorf("%s: listed with mode %o, owner %v/%d, want the defaults", p, e.Mode, e.HasOwner, e.UID)
						}
						continue
					}
					if e.Mode&0o7777 != w.Mode&0o7777 && !(e.Mode == 0 && !g.ownAttrs(w)) {
						t.Errorf("%s: listed with mode %o, a lookup said %o", p, e.Mode&0o7777, w.Mode&0o7777)
					}
					if g.ownAttrs(w) && (e.HasOwner != w.HasOwner || e.UID != w.UID || e.GID != w.GID) {
						t.Errorf("%s: listed with owner %d:%d, a lookup said %d:%d", p, e.UID, e.GID, w.UID, w.GID)
					}
					if w.MtimeSet && !e.Mtime.Equal(w.Mtime) {
						t.Errorf("%s: listed with mtime %v, utimes set %v", p, e.Mtime, w.Mtime)
					}
				}
			}
			after := env.client.Stats()
			gets := after["GetObject"].Calls - before["GetObject"].Calls
			heads := after["HeadObject"].Calls - before["HeadObject"].Calls
			lists := after["ListObjectsV2"].Calls - before["ListObjectsV2"].Calls + after["ListObjects"].Calls - before["ListObjects"].Calls
			t.Logf("cold listings of 2 directories: %d LIST, %d GET, %d HEAD", lists, gets, heads)
			if gets != 1 || heads != 0 {
				t.Errorf("cold listings cost %d GETs and %d HEADs; want 1 GET (d's table) and no HEAD", gets, heads)
			}
		})
	}
}
