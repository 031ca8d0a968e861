package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// env is one test's server, mount and direct view of the bucket.
type env struct {
	srv *harness.Server
	m   *harness.Mount
	b   *harness.Bucket
}

// newEnv starts a server and mounts a fresh prefix of its bucket with extra
// mount flags.
func newEnv(t *testing.T, args ...string) *env {
	t.Helper()
	return newEnvWith(t, harness.ServerOptions{}, args...)
}

// newEnvWith is newEnv with a server configured by opts.
func newEnvWith(t *testing.T, opts harness.ServerOptions, args ...string) *env {
	t.Helper()
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, opts)
	m := harness.MountBucket(t, srv, harness.MountOptions{Args: args})
	return &env{srv: srv, m: m, b: srv.Bucket(t, m.Bucket)}
}

// wantObject fails unless the object for rel holds exactly want.
func (e *env) wantObject(t *testing.T, rel string, want []byte) {
	t.Helper()
	got, ok := e.b.Get(t, e.m.Key(rel))
	if !ok {
		t.Fatalf("object %q missing; keys under the prefix: %q", e.m.Key(rel), e.b.Keys(t, e.m.Prefix))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("object %q: %s", e.m.Key(rel), diffBytes(got, want))
	}
}

// wantNoObject fails if the object for rel exists.
func (e *env) wantNoObject(t *testing.T, rel string) {
	t.Helper()
	if e.b.Exists(t, e.m.Key(rel)) {
		t.Fatalf("object %q exists, want none", e.m.Key(rel))
	}
}

// wantFile fails unless the file at path reads exactly want.
func wantFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %s", path, diffBytes(got, want))
	}
}

// diffBytes describes how got differs from want without dumping megabytes.
func diffBytes(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d bytes, want %d (head got %q want %q)", len(got), len(want), head(got), head(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: got %#x, want %#x", i, got[i], want[i])
		}
	}
	return "equal"
}

func head(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// wantErrno fails unless err carries the errno want.
func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v (%s)", what, err, want, want.Error())
	}
}

func mustMkdirAll(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", p, err)
	}
}

func mustWrite(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatalf("rename %s -> %s: %v", from, to, err)
	}
}
