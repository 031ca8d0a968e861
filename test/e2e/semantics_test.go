package e2e

import (
	"bytes"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// TestSemantics walks the rows of DESIGN.md's semantics table through a real
// kernel mount, checking what the mount shows and what lands in the bucket.
func TestSemantics(t *testing.T) {
	tests := []struct {
		name string
		args []string // extra mount flags
		run  func(t *testing.T, e *env)
	}{
		{name: "create write read back", run: func(t *testing.T, e *env) {
			data := harness.RandomBytes(1, 3<<20+17)
			mustWrite(t, e.m.Path("f"), data)
			wantFile(t, e.m.Path("f"), data)
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "f", data)
		}},
		{name: "write at any offset", run: func(t *testing.T, e *env) {
			f, err := os.Create(e.m.Path("sparse"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("tail"), 1<<20); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("head"), 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want := make([]byte, 1<<20+4)
			copy(want, "head")
			copy(want[1<<20:], "tail")
			wantFile(t, e.m.Path("sparse"), want)
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "sparse", want)
		}},
		{name: "reopen append O_APPEND", run: func(t *testing.T, e *env) {
			mustWrite(t, e.m.Path("log"), []byte("one\n"))
			appendTo(t, e.m.Path("log"), []byte("two\n"), true)
			appendTo(t, e.m.Path("log"), []byte("three\n"), true)
			wantFile(t, e.m.Path("log"), []byte("one\ntwo\nthree\n"))
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "log", []byte("one\ntwo\nthree\n"))
		}},
		{name: "reopen append lseek end", run: func(t *testing.T, e *env) {
			mustWrite(t, e.m.Path("log"), []byte("one\n"))
			appendTo(t, e.m.Path("log"), []byte("two\n"), false)
			wantFile(t, e.m.Path("log"), []byte("one\ntwo\n"))
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "log", []byte("one\ntwo\n"))
		}},
		{name: "append to an object only in OSS", run: func(t *testing.T, e *env) {
			// Written behind the mount's back: the mount must fetch it first.
			e.b.Put(t, e.m.Key("remote"), []byte("from oss\n"))
			appendTo(t, e.m.Path("remote"), []byte("appended\n"), true)
			wantFile(t, e.m.Path("remote"), []byte("from oss\nappended\n"))
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "remote", []byte("from oss\nappended\n"))
		}},
		{name: "ftruncate grow and shrink", run: func(t *testing.T, e *env) {
			mustWrite(t, e.m.Path("t"), []byte("0123456789"))
			f, err := os.OpenFile(e.m.Path("t"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(4); err != nil {
				t.Fatalf("ftruncate shrink: %v", err)
			}
			if err := f.Truncate(8); err != nil {
				t.Fatalf("ftruncate grow: %v", err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want := []byte("0123\x00\x00\x00\x00")
			wantSize(t, e.m.Path("t"), 8)
			wantFile(t, e.m.Path("t"), want)
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "t", want)
		}},
		{name: "truncate by path grow and shrink", run: func(t *testing.T, e *env) {
			mustWrite(t, e.m.Path("grow"), []byte("abc"))
			mustWrite(t, e.m.Path("shrink"), []byte("abcdefgh"))
			if err := os.Truncate(e.m.Path("grow"), 6); err != nil {
				t.Fatalf("truncate grow: %v", err)
			}
			if err := os.Truncate(e.m.Path("shrink"), 2); err != nil {
				t.Fatalf("truncate shrink: %v", err)
			}
			wantFile(t, e.m.Path("grow"), []byte("abc\x00\x00\x00"))
			wantFile(t, e.m.Path("shrink"), []byte("ab"))
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "grow", []byte("abc\x00\x00\x00"))
			e.wantObject(t, "shrink", []byte("ab"))
		}},
		{name: "truncate an uploaded object by path", run: func(t *testing.T, e *env) {
			e.b.Put(t, e.m.Key("remote"), []byte("0123456789"))
			if err := os.Truncate(e.m.Path("remote"), 3); err != nil {
				t.Fatalf("truncate: %v", err)
			}
			wantFile(t, e.m.Path("remote"), []byte("012"))
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "remote", []byte("012"))
		}},
		{name: "overwrite in place", run: func(t *testing.T, e *env) {
			data := harness.RandomBytes(2, 1<<20)
			mustWrite(t, e.m.Path("f"), data)
			f, err := os.OpenFile(e.m.Path("f"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			patch := bytes.Repeat([]byte{0xAB}, 4096)
			if _, err := f.WriteAt(patch, 500_000); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			copy(data[500_000:], patch)
			wantFile(t, e.m.Path("f"), data)
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "f", data)
		}},
		{name: "tmp then rename over an existing file", run: func(t *testing.T, e *env) {
			mustWrite(t, e.m.Path("link"), []byte("old"))
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "link", []byte("old"))
			harness.WriteFileSync(t, e.m.Path("link.tmp"), []byte("new"))
			mustRename(t, e.m.Path("link.tmp"), e.m.Path("link"))
			wantFile(t, e.m.Path("link"), []byte("new"))
			if _, err := os.Lstat(e.m.Path("link.tmp")); !os.IsNotExist(err) {
				t.Fatalf("link.tmp after rename: %v, want not exist", err)
			}
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "link", []byte("new"))
			e.wantNoObject(t, "link.tmp")
		}},
		{name: "rmdir non-empty is ENOTEMPTY", run: func(t *testing.T, e *env) {
			mustMkdirAll(t, e.m.Path("d"))
			mustWrite(t, e.m.Path("d", "f"), []byte("x"))
			wantErrno(t, "rmdir d", syscall.Rmdir(e.m.Path("d")), syscall.ENOTEMPTY)
			// A directory only implied by a key the mount has never seen.
			e.b.Put(t, e.m.Key("implied/sub/obj"), []byte("x"))
			wantErrno(t, "rmdir implied", syscall.Rmdir(e.m.Path("implied")), syscall.ENOTEMPTY)
			wantErrno(t, "rmdir implied/sub", syscall.Rmdir(e.m.Path("implied", "sub")), syscall.ENOTEMPTY)
			if err := os.Remove(e.m.Path("d", "f")); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Rmdir(e.m.Path("d")); err != nil {
				t.Fatalf("rmdir of the emptied d: %v", err)
			}
			harness.FsyncDir(t, e.m.Dir)
			if keys := e.b.Keys(t, e.m.Key("d/")); len(keys) != 0 {
				t.Fatalf("keys under d/ after rmdir: %q", keys)
			}
		}},
		{name: "unlink", run: func(t *testing.T, e *env) {
			mustWrite(t, e.m.Path("f"), []byte("x"))
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, "f", []byte("x"))
			if err := syscall.Unlink(e.m.Path("f")); err != nil {
				t.Fatalf("unlink: %v", err)
			}
			if _, err := os.Lstat(e.m.Path("f")); !os.IsNotExist(err) {
				t.Fatalf("lstat after unlink: %v, want not exist", err)
			}
			harness.FsyncDir(t, e.m.Dir)
			e.wantNoObject(t, "f")
		}},
		{name: "unlink before upload cancels it", args: []string{"--upload-delay=30s"}, run: func(t *testing.T, e *env) {
			e.srv.ResetStats(t)
			mustWrite(t, e.m.Path("f"), harness.RandomBytes(3, 1<<20))
			if err := syscall.Unlink(e.m.Path("f")); err != nil {
				t.Fatalf("unlink: %v", err)
			}
			harness.FsyncDir(t, e.m.Dir)
			st := e.srv.Stats(t)
			if n := st.Count("PutObject", "InitiateMultipartUpload", "UploadPart"); n != 0 {
				t.Errorf("a file unlinked before its upload was still sent: %s", st)
			}
			e.wantNoObject(t, "f")
		}},
		{name: "an empty directory keeps a marker", run: func(t *testing.T, e *env) {
			// mkdir -p d/e: d holds e, so only e needs a marker.
			mustMkdirAll(t, e.m.Path("d", "e"))
			harness.FsyncDir(t, e.m.Dir)
			harness.FsyncDir(t, e.m.Path("d"))
			if _, ok := e.b.Get(t, e.m.Key("d/")); ok {
				t.Errorf("marker for the non-empty directory d; keys: %q", e.b.Keys(t, e.m.Prefix))
			}
			for _, k := range []string{"d/e/"} {
				data, ok := e.b.Get(t, e.m.Key(k))
				if !ok {
					t.Fatalf("no marker %q; keys: %q", e.m.Key(k), e.b.Keys(t, e.m.Prefix))
				}
				if len(data) != 0 {
					t.Errorf("marker %q holds %d bytes, want 0", k, len(data))
				}
			}
			// Emptied by an rmdir, d gets its marker then, so it survives in OSS.
			mustMkdirAll(t, e.m.Path("d", "x"))
			if err := os.Remove(e.m.Path("d", "x")); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(e.m.Path("d", "e"), e.m.Path("e2")); err != nil {
				t.Fatal(err)
			}
			harness.FsyncDir(t, e.m.Dir)
			harness.FsyncDir(t, e.m.Path("d"))
			if _, ok := e.b.Get(t, e.m.Key("d/")); !ok {
				t.Fatalf("no marker for d after it was emptied; keys: %q", e.b.Keys(t, e.m.Prefix))
			}
			if err := os.Rename(e.m.Path("e2"), e.m.Path("d", "e")); err != nil {
				t.Fatal(err)
			}
			harness.FsyncDir(t, e.m.Dir)
			st, err := os.Stat(e.m.Path("d", "e"))
			if err != nil || !st.IsDir() {
				t.Fatalf("stat d/e: %v, %v", st, err)
			}
		}},
		{name: "chmod chown utimes visible in stat", run: func(t *testing.T, e *env) {
			p := e.m.Path("f")
			mustWrite(t, p, []byte("x"))
			mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
			if err := os.Chmod(p, 0o640); err != nil {
				t.Fatalf("chmod: %v", err)
			}
			if err := os.Chown(p, 1234, 5678); err != nil {
				t.Fatalf("chown: %v", err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatalf("utimes: %v", err)
			}
			wantAttrs(t, p, 0o640, 1234, 5678, mtime)
			mustMkdirAll(t, e.m.Path("d"))
			if err := os.Chmod(e.m.Path("d"), 0o700); err != nil {
				t.Fatalf("chmod dir: %v", err)
			}
			if st, err := os.Stat(e.m.Path("d")); err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("dir mode after chmod 700: %v, %v", st.Mode(), err)
			}
		}},
		{name: "chmod chown utimes kept in OSS", run: func(t *testing.T, e *env) {
			p := e.m.Path("f")
			mustWrite(t, p, []byte("x"))
			harness.FsyncDir(t, e.m.Dir)
			mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := os.Chmod(p, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(p, 4321, 8765); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			harness.FsyncDir(t, e.m.Dir)
			e.m.Unmount(t)
			// A fresh cache: the attributes can only come from the object.
			m2 := harness.MountBucket(t, e.srv, harness.MountOptions{Prefix: e.m.Prefix})
			wantAttrs(t, m2.Path("f"), 0o600, 4321, 8765, mtime)
			var meta []string
			for k := range e.b.Meta(t, e.m.Key("f")) {
				if strings.HasPrefix(strings.ToLower(k), "x-oss-meta-") {
					meta = append(meta, k+"="+e.b.Meta(t, e.m.Key("f")).Get(k))
				}
			}
			t.Logf("x-oss-meta headers of %q: %v", e.m.Key("f"), meta)
			if len(meta) == 0 {
				t.Errorf("object %q has no x-oss-meta-* headers", e.m.Key("f"))
			}
		}},
		{name: "statfs sane", run: func(t *testing.T, e *env) {
			var st syscall.Statfs_t
			if err := syscall.Statfs(e.m.Dir, &st); err != nil {
				t.Fatalf("statfs: %v", err)
			}
			const fuseSuperMagic = 0x65735546
			if st.Type != fuseSuperMagic {
				t.Errorf("f_type %#x, want FUSE %#x", st.Type, fuseSuperMagic)
			}
			if st.Bsize <= 0 || st.Blocks == 0 || st.Bfree > st.Blocks || st.Bavail > st.Blocks {
				t.Errorf("statfs sizes not sane: bsize %d blocks %d bfree %d bavail %d", st.Bsize, st.Blocks, st.Bfree, st.Bavail)
			}
			if st.Bavail == 0 {
				t.Errorf("statfs says no space available: programs that check free space refuse to write")
			}
			if st.Namelen != 255 {
				t.Errorf("f_namelen %d, want 255", st.Namelen)
			}
		}},
		{name: "name over 255 bytes is ENAMETOOLONG", run: func(t *testing.T, e *env) {
			long := strings.Repeat("n", 256)
			_, err := os.Create(e.m.Path(long))
			wantErrno(t, "create 256-byte name", err, syscall.ENAMETOOLONG)
			wantErrno(t, "mkdir 256-byte name", os.Mkdir(e.m.Path(long), 0o755), syscall.ENAMETOOLONG)
			mustWrite(t, e.m.Path("short"), []byte("x"))
			wantErrno(t, "rename to 256-byte name", os.Rename(e.m.Path("short"), e.m.Path(long)), syscall.ENAMETOOLONG)
			ok := strings.Repeat("n", 255)
			mustWrite(t, e.m.Path(ok), []byte("x"))
			harness.FsyncDir(t, e.m.Dir)
			e.wantObject(t, ok, []byte("x"))
		}},
		{name: "key over 1023 bytes is ENAMETOOLONG", run: func(t *testing.T, e *env) {
			// Nest 200-byte directories while their marker key still fits.
			rel := ""
			for len(e.m.Key(rel+strings.Repeat("d", 200)+"/")) <= 1023 {
				rel += strings.Repeat("d", 200) + "/"
				mustMkdirAll(t, e.m.Path(rel))
			}
			name := strings.Repeat("f", 1024-len(e.m.Key(rel))) // key exactly 1024 bytes
			_, err := os.Create(e.m.Path(rel, name))
			wantErrno(t, "create a file whose key is 1024 bytes", err, syscall.ENAMETOOLONG)
			wantErrno(t, "mkdir whose key is over 1023 bytes", os.Mkdir(e.m.Path(rel, name), 0o755), syscall.ENAMETOOLONG)
			fits := name[1:] // key exactly 1023 bytes
			mustWrite(t, e.m.Path(rel, fits), []byte("x"))
			harness.FsyncDir(t, e.m.Path(rel))
			e.wantObject(t, rel+fits, []byte("x"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newEnv(t, tc.args...))
		})
	}
}

// appendTo reopens a file and appends data, with O_APPEND or by seeking to
// the end of a plain O_WRONLY descriptor.
func appendTo(t *testing.T, path string, data []byte, oAppend bool) {
	t.Helper()
	flags := os.O_WRONLY
	if oAppend {
		flags |= os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		t.Fatalf("reopen %s: %v", path, err)
	}
	if !oAppend {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			t.Fatalf("lseek end: %v", err)
		}
	}
	if _, err := f.Write(data); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func wantSize(t *testing.T, path string, size int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != size {
		t.Fatalf("%s: size %d, want %d", path, st.Size(), size)
	}
}

func wantAttrs(t *testing.T, path string, perm os.FileMode, uid, gid uint32, mtime time.Time) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != perm {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), perm)
	}
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: owner %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("%s: mtime %v, want %v", path, fi.ModTime().UTC(), mtime)
	}
}
