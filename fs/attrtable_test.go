package fs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/metacache"
	"github.com/ossmount/ossmount/ossio"
	"github.com/ossmount/ossmount/ossio/ossserver"
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

// TestTableRowsDoNotOutliveTheirEntries: what a table says of a name stops
// holding once the entry it described changed or went, even where the
// ETag it names is still right (found by TestDifferential).
func TestTableRowsDoNotOutliveTheirEntries(t *testing.T) {
	env := newTestEnv(t)
	old := time.Unix(1_600_000_233, 0)
	utimes := &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_MTIME, Mtime: uint64(old.Unix())}}
	for _, tc := range []struct {
		name   string
		change func(s *seq) // on d/x, a file whose mtime utimes set, and d/y, a directory chmod'ed 617
	}{
		{"truncate to the same size", func(s *seq) {
			s.setattr("d/x", &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_SIZE, Size: uint64(len("d/x"))}})
			s.rename("d/y", "y2")
		}},
		{"remove and make again", func(s *seq) {
			s.unlink("d/x")
			s.write("d/x", 0o644) // the same bytes: the same ETag
			s.must(s.f.rmdir(s.ctx, "d/y"))
			delete(s.m.dirs, "d/y")
			s.mkdir("d/y")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "trg-" + strings.ReplaceAll(tc.name, " ", "-") + "/"
			f, closeFS := env.newFS(t, prefix, t.TempDir(), 0, 0)
			s := newSeq(t, f)
			s.mkdir("d")
			s.write("d/x", 0o644)
			s.setattr("d/x", utimes)
			s.mkdir("d/y")
			s.chmod("d/y", 0o617)
			s.sync()
			time.Sleep(20 * time.Millisecond) // the table's rewrite after the upload
			s.must(f.Flush(s.ctx))
			tc.change(s)
			s.must(f.Flush(s.ctx))
			closeFS()

			g, closeG := env.newFS(t, prefix, t.TempDir(), 0, 0)
			defer closeG()
			entries, err := g.readdir(s.ctx, "d")
			s.must(err)
			for _, e := range entries {
				if e.MtimeSet || e.Mtime.Equal(old) {
					t.Errorf("d/%s: a cold listing shows the mtime utimes gave what was there before", e.Name)
				}
				if e.IsDir && e.Mode&0o7777 == 0o617 {
					t.Errorf("d/%s: a cold listing shows the mode chmod gave what was there before", e.Name)
				}
			}
		})
	}
}

// TestTableRowAfterRenameDuringUpload renames a chmod'ed file while its
// upload runs (the rename then copies the object): its row must name the
// copy's ETag, or a cold listing shows the defaults (found by
// TestDifferential with --upload-delay=0s: the upload's ETag was recorded
// under the file's old name, and the copy's dropped).
func TestTableRowAfterRenameDuringUpload(t *testing.T) {
	srv, err := ossserver.Start(ossserver.Config{AccessKeyID: "ak", AccessKeySecret: "sk", Buckets: []string{"bkt"}, Latency: 5 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := ossio.New(ossio.Config{Endpoint: srv.Endpoint, AccessKeyID: "ak", AccessKeySecret: "sk", Bucket: "bkt", RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{srv: srv, client: client}
	for j := 0; j < 8; j++ {
		prefix := fmt.Sprintf("trr%d/", j)
		f, closeFS := env.newFS(t, prefix, t.TempDir(), 0, 0)
		s := newSeq(t, f)
		s.mkdir("c")
		s.sync()
		s.write("a", 0o644)
		s.chmod("a", 0o657)
		time.Sleep(time.Duration(j) * time.Millisecond) // the upload runs
		s.rename("a", "c/a")
		s.must(f.Flush(s.ctx))
		closeFS()

		g, closeG := env.newFS(t, prefix, t.TempDir(), 0, 0)
		entries, err := g.readdir(s.ctx, "c")
		s.must(err)
		closeG()
		if len(entries) != 1 || entries[0].Mode&0o7777 != 0o657 {
			t.Fatalf("round %d: a cold listing of c shows %+v; want a with mode 657", j, entries)
		}
	}
}

// TestTableWrittenWhileItsDirMoves renames a directory just as its
// attribute table is being computed: the table must still be computed,
// from where the directory is now, and not written empty (found by
// TestDifferential with --upload-delay=0s).
func TestTableWrittenWhileItsDirMoves(t *testing.T) {
	env := newTestEnv(t)
	f, closeFS := env.newFS(t, "twm/", t.TempDir(), 0, 0)
	s := newSeq(t, f)
	s.mkdir("d")
	s.mkdir("d/a")
	s.write("d/a/x", 0o644)
	s.sync()
	s.must(f.Flush(s.ctx))
	moved := false
	testHookMarkerPath = func(p string) {
		if p == "d/a" && !moved {
			moved = true
			s.must(f.rename(s.ctx, "d", "", "e", 0))
		}
	}
	defer func() { testHookMarkerPath = nil }()
	s.chmod("d/a/x", 0o600) // its upload, then d/a's table
	s.must(f.Flush(s.ctx))
	if !moved {
		t.Fatal("d/a's table was never written")
	}
	closeFS()

	g, closeG := env.newFS(t, "twm/", t.TempDir(), 0, 0)
	defer closeG()
	entries, err := g.readdir(s.ctx, "e/a")
	s.must(err)
	if len(entries) != 1 || entries[0].Mode&0o7777 != 0o600 {
		t.Fatalf("a cold listing of e/a shows %+v; want x with mode 600", entries)
	}
}
