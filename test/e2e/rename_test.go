package e2e

import (
	"bytes"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// TestRenameBeforeUpload: a file renamed before its upload is uploaded once,
// under its final key, and never copied server-side.
func TestRenameBeforeUpload(t *testing.T) {
	e := newEnv(t, "--upload-delay=30s")
	mustMkdirAll(t, e.m.Path("a"))
	mustMkdirAll(t, e.m.Path("b"))
	data := harness.RandomBytes(10, 20<<20+3) // several multipart parts
	harness.WriteFileSync(t, e.m.Path("a", "f"), data)
	e.srv.ResetStats(t)
	mustRename(t, e.m.Path("a", "f"), e.m.Path("b", "f"))
	harness.FsyncDir(t, e.m.Path("b"))
	st := e.srv.Stats(t)
	if n := st.Count("CopyObject", "UploadPartCopy"); n != 0 || st.BytesCopied != 0 {
		t.Errorf("server-side copies for a file renamed before its upload: %s", st)
	}
	if st.BytesReceived != int64(len(data)) {
		t.Errorf("server received %d bytes for a %d-byte file: it must be uploaded exactly once; %s", st.BytesReceived, len(data), st)
	}
	e.wantObject(t, "b/f", data)
	e.wantNoObject(t, "a/f")
	wantFile(t, e.m.Path("b", "f"), data)
}

// TestRenameAfterUpload: a file already in OSS is moved there (copy, then
// delete of the old key) once a directory fsync asks for it.
func TestRenameAfterUpload(t *testing.T) {
	// Latency keeps the background move in flight while the file is read.
	e := newEnvWith(t, harness.ServerOptions{Latency: 100 * time.Millisecond}, "--upload-delay=0s")
	mustMkdirAll(t, e.m.Path("a"))
	mustMkdirAll(t, e.m.Path("b"))
	data := harness.RandomBytes(11, 5<<20)
	mustWrite(t, e.m.Path("a", "f"), data)
	harness.WaitUntil(t, 2*time.Minute, "a/f is uploaded", func() bool {
		got, ok := e.b.Get(t, e.m.Key("a/f"))
		return ok && bytes.Equal(got, data)
	})
	e.srv.ResetStats(t)
	mustRename(t, e.m.Path("a", "f"), e.m.Path("b", "f"))
	if got, err := os.ReadFile(e.m.Path("b", "f")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("reading b/f right after the rename: %v (%s)", err, diffBytes(got, data))
	}
	harness.FsyncDir(t, e.m.Path("a")) // any directory: the barrier covers every earlier rename
	e.wantObject(t, "b/f", data)
	e.wantNoObject(t, "a/f")
	if st := e.srv.Stats(t); st.BytesReceived != 0 {
		t.Errorf("moving an uploaded file sent its bytes again (%d bytes) instead of copying server-side: %s", st.BytesReceived, st)
	}
}

// TestRenameDirectory: a directory rename moves every key under it.
func TestRenameDirectory(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		uploaded bool // wait for the content to be in OSS before renaming
	}{
		{name: "uploaded", args: []string{"--upload-delay=0s"}, uploaded: true},
		{name: "not yet uploaded", args: []string{"--upload-delay=30s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Latency keeps the background move in flight while the files are read.
			e := newEnvWith(t, harness.ServerOptions{Latency: 100 * time.Millisecond}, tc.args...)
			files := map[string][]byte{
				"x":     []byte("x"),
				"e/y":   harness.RandomBytes(12, 9<<20),
				"e/f/z": []byte("zzz"),
			}
			mustMkdirAll(t, e.m.Path("d", "e", "f"))
			mustMkdirAll(t, e.m.Path("d", "empty"))
			mustMkdirAll(t, e.m.Path("dest"))
			for rel, data := range files {
				mustWrite(t, e.m.Path("d", rel), data)
			}
			if tc.uploaded {
				for _, dir := range []string{"", "d", "d/e", "d/e/f"} {
					harness.FsyncDir(t, e.m.Path(dir))
				}
				for rel, data := range files {
					e.wantObject(t, "d/"+rel, data)
				}
			}
			mustRename(t, e.m.Path("d"), e.m.Path("dest", "d2"))
			for rel, data := range files {
				wantFile(t, e.m.Path("dest", "d2", rel), data)
			}
			harness.FsyncDir(t, e.m.Dir)
			if keys := e.b.Keys(t, e.m.Key("d/")); len(keys) != 0 {
				t.Errorf("keys left under the old directory: %q", keys)
			}
			for rel, data := range files {
				e.wantObject(t, "dest/d2/"+rel, data)
			}
			var got []string
			for _, k := range e.b.Keys(t, e.m.Key("dest/d2/")) {
				got = append(got, strings.TrimPrefix(k, e.m.Key("dest/d2/")))
			}
			want := []string{"e/f/z", "e/y", "x"}
			have := map[string]bool{}
			for _, k := range got {
				have[k] = true
			}
			for _, k := range want {
				if !have[k] {
					t.Errorf("key dest/d2/%s missing; keys: %q", k, got)
				}
			}
			for _, k := range got {
				// Markers (the directory's own, now "", and "empty/") may stay.
				if k != "" && !strings.HasSuffix(k, "/") && !contains(want, k) {
					t.Errorf("unexpected key dest/d2/%s", k)
				}
			}
			sort.Strings(got)
			if !contains(got, "empty/") {
				t.Errorf("the empty directory's marker did not move: keys %q", got)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRenameRemoteObject renames a file the mount knows only from OSS (put
// there through the SDK): the new name reads the same bytes at once, while
// the server-side move is still in flight, and a directory fsync completes it.
func TestRenameRemoteObject(t *testing.T) {
	// Latency keeps the background copy in flight while the file is read.
	e := newEnvWith(t, harness.ServerOptions{Latency: 200 * time.Millisecond})
	data := harness.RandomBytes(13, 3<<20)
	e.b.Put(t, e.m.Key("a/f"), data)
	mustMkdirAll(t, e.m.Path("b"))
	wantSize(t, e.m.Path("a", "f"), int64(len(data)))
	mustRename(t, e.m.Path("a", "f"), e.m.Path("b", "f"))
	wantFile(t, e.m.Path("b", "f"), data)
	harness.FsyncDir(t, e.m.Path("b"))
	e.wantObject(t, "b/f", data)
	e.wantNoObject(t, "a/f")
	wantFile(t, e.m.Path("b", "f"), data)
}
