package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"pgregory.net/rapid"

	"github.com/ossmount/ossmount/metacache"
	"github.com/ossmount/ossmount/ossio"
	"github.com/ossmount/ossmount/ossio/ossserver"
)

// testEnv is an in-process OSS server, a client and the means to build
// filesystems over one bucket prefix.
type testEnv struct {
	srv    *ossserver.Running
	client *ossio.Client
}

func newTestEnv(t testing.TB) *testEnv {
	srv, err := ossserver.Start(ossserver.Config{AccessKeyID: "ak", AccessKeySecret: "sk", Buckets: []string{"bkt"}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client, err := ossio.New(ossio.Config{Endpoint: srv.Endpoint, AccessKeyID: "ak", AccessKeySecret: "sk", Bucket: "bkt",
		PartSize: 128 << 10, PutThreshold: 256 << 10, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{srv: srv, client: client}
}

// newFS builds a filesystem over prefix with its own cache dir; close it
// with the returned function.
func (e *testEnv) newFS(t testing.TB, prefix, cacheDir string, delay time.Duration, cacheSize int64) (*FS, func()) {
	cache, err := metacache.Open(filepath.Join(cacheDir, "meta"), metacache.Options{StatTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(Options{Client: e.client, Cache: cache, Prefix: prefix, CacheDir: cacheDir, UploadDelay: delay, Workers: 4, Umask: 0o022,
		StatTTL: time.Hour, CacheSize: cacheSize, Logger: testLogger})
	if err != nil {
		t.Fatal(err)
	}
	return f, func() { f.Close(); cache.Close() }
}

var testLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel()}))

// testLogLevel is warn, or debug with OSSMOUNT_TEST_DEBUG set (by hand).
func testLogLevel() slog.Level {
	if os.Getenv("OSSMOUNT_TEST_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// fataler is what both *testing.T and *rapid.T offer.
type fataler interface {
	Fatalf(format string, args ...any)
}

// histFataler reports the history of a run with its failure.
type histFataler struct {
	rt   *rapid.T
	hist *[]string
}

func (h *histFataler) Fatalf(format string, args ...any) {
	h.rt.Fatalf("%s\nafter:\n  %s", fmt.Sprintf(format, args...), strings.Join(*h.hist, "\n  "))
}

// model is what the tree must look like: files by path with their bytes,
// and directories.
type model struct {
	files map[string][]byte
	dirs  map[string]bool
}

func (m *model) exists(p string) bool { return p == "" || m.dirs[p] || m.files[p] != nil }

func (m *model) children(dir string) []string {
	var out []string
	for p := range m.files {
		if d, n := splitPath(p); d == dir {
			out = append(out, n)
		}
	}
	for p := range m.dirs {
		if d, n := splitPath(p); d == dir && p != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (m *model) moveTree(src, dst string) {
	for p, b := range m.files {
		if rest, ok := strings.CutPrefix(p, src+"/"); ok {
			delete(m.files, p)
			m.files[dst+"/"+rest] = b
		}
	}
	for p := range m.dirs {
		if rest, ok := strings.CutPrefix(p, src+"/"); ok {
			delete(m.dirs, p)
			m.dirs[dst+"/"+rest] = true
		}
	}
	delete(m.dirs, src)
	m.dirs[dst] = true
}

var (
	genName = rapid.SampledFrom([]string{"a", "b", "c"})
	genPath = rapid.Custom(func(t *rapid.T) string {
		n := rapid.IntRange(1, 3).Draw(t, "depth")
		parts := make([]string, n)
		for i := range parts {
			parts[i] = genName.Draw(t, "name")
		}
		return strings.Join(parts, "/")
	})
)

func writeFile(t *rapid.T, f *FS, p string, data []byte, appendTo bool) {
	ctx := context.Background()
	var h *handle
	var err error
	var off int64
	if appendTo {
		h, _, err = f.open(ctx, p, os.O_RDWR)
		if err == nil {
			f.mu.Lock()
			off = h.fl.size
			f.mu.Unlock()
		}
	} else {
		dir, name := splitPath(p)
		h, _, err = f.create(ctx, dir, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	}
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	if _, errno := h.Write(ctx, data, off); errno != 0 {
		t.Fatalf("write %s: %v", p, errno)
	}
	if errno := h.Flush(ctx); errno != 0 {
		t.Fatalf("close %s: %v", p, errno)
	}
	h.Release(ctx)
}

func readFile(t fataler, f *FS, p string) []byte {
	ctx := context.Background()
	h, _, err := f.open(ctx, p, os.O_RDONLY)
	if err != nil {
		t.Fatalf("open %s for reading: %v", p, err)
	}
	defer h.Release(ctx)
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		res, errno := h.Read(ctx, buf, int64(len(out)))
		if errno != 0 {
			t.Fatalf("read %s: %v", p, errno)
		}
		b, _ := res.Bytes(buf)
		if len(b) == 0 {
			return out
		}
		out = append(out, b...)
	}
}

// checkTree compares every directory listing and file of f with m.
func checkTree(t fataler, f *FS, m *model) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	ctx := context.Background()
	dirs := []string{""}
	for d := range m.dirs {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		entries, err := f.readdir(ctx, d)
		if err != nil {
			t.Fatalf("readdir %q: %v", d, err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name)
			p := joinPath(d, e.Name)
			if e.IsDir != m.dirs[p] {
				f.mu.Lock()
				fmt.Print(f.ix.dump())
				f.mu.Unlock()
				for _, op := range f.q.Snapshot() {
					fmt.Printf("  op %d %s %s %s\n", op.Seq, op.Kind, op.Src, op.Key)
				}
				t.Fatalf("%s: IsDir %v, want %v", p, e.IsDir, m.dirs[p])
			}
		}
		if want := m.children(d); strings.Join(got, ",") != strings.Join(want, ",") {
			for _, op := range f.q.Snapshot() {
				fmt.Printf("  op %d %s %s %s\n", op.Seq, op.Kind, op.Src, op.Key)
			}
			f.mu.Lock()
			fmt.Print(f.ix.dump())
			f.mu.Unlock()
			es, st := f.cache.Listing(d)
			fmt.Printf("cache listing %q: %v %v\n", d, es, st)
			t.Fatalf("readdir %q = %v, want %v", d, got, want)
		}
	}
	for p, want := range m.files {
		e, err := f.stat(ctx, p)
		if err != nil || e.IsDir || e.Size != int64(len(want)) {
			f.mu.Lock()
			fmt.Print(f.ix.dump())
			f.mu.Unlock()
			for _, op := range f.q.Snapshot() {
				fmt.Printf("  op %d %s %s %s\n", op.Seq, op.Kind, op.Src, op.Key)
			}
			t.Fatalf("stat %s = %+v, %v; want a file of %d bytes", p, e, err, len(want))
		}
		if got := readFile(t, f, p); !bytes.Equal(got, want) {
			t.Fatalf("%s holds %q, want %q", p, got, want)
		}
	}
}

// checkBucket compares the keys and bytes under prefix with m: exactly its
// files, a marker for each empty directory, and no marker for a directory
// that does not exist (a non-empty one may keep the marker it got while empty).
func checkBucket(t fataler, c *ossio.Client, prefix string, m *model) {
	ctx := context.Background()
	var got []string
	err := c.List(ctx, prefix, "", func(p ossio.Page) error {
		for _, o := range p.Objects {
			k := strings.TrimPrefix(o.Key, prefix)
			if d, ok := strings.CutSuffix(k, "/"); ok && m.dirs[d] && len(m.children(d)) > 0 {
				continue // optional
			}
			got = append(got, k)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var want []string
	for p := range m.files {
		want = append(want, p)
	}
	for p := range m.dirs {
		if len(m.children(p)) == 0 {
			want = append(want, p+"/")
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("bucket keys\n got %v\nwant %v", got, want)
	}
	for p, b := range m.files {
		rc, err := c.GetRange(ctx, prefix+p, 0, -1)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(data, b) {
			t.Fatalf("object %s = %q (%v), want %q", p, data, err, b)
		}
	}
}

// TestModel drives the filesystem core (no kernel) with random operations
// and checks it against a model after each, then checks that OSS ends up
// holding exactly the model, and that a fresh mount with an empty cache
// sees it.
func TestModel(t *testing.T) {
	env := newTestEnv(t)
	round := 0
	rapid.Check(t, func(rt *rapid.T) {
		round++
		prefix := "m" + strings.Repeat("x", round%3) + "/" + time.Now().Format("150405.000000") + "/"
		delay := rapid.SampledFrom([]time.Duration{0, 20 * time.Millisecond, time.Hour}).Draw(rt, "delay")
		cacheSize := rapid.SampledFrom([]int64{0, 40, 1 << 20}).Draw(rt, "cacheSize")
		cacheDir := t.TempDir()
		f, closeFS := env.newFS(t, prefix, cacheDir, delay, cacheSize)
		m := &model{files: map[string][]byte{}, dirs: map[string]bool{}}
		ctx := context.Background()
		var hist []string // what was done, for a failure report even when timing made it flaky
		note := func(format string, args ...any) { hist = append(hist, fmt.Sprintf(format, args...)) }
		check := &histFataler{rt: rt, hist: &hist}
		rt.Repeat(map[string]func(*rapid.T){
			"write": func(rt *rapid.T) {
				p := genPath.Draw(rt, "path")
				dir, _ := splitPath(p)
				if dir != "" && !m.dirs[dir] || m.dirs[p] {
					rt.Skip("parent missing or a directory there")
				}
				data := []byte(rapid.StringN(0, 20, -1).Draw(rt, "data"))
				app := m.files[p] != nil && rapid.Bool().Draw(rt, "append")
				note("write %s %q append=%v", p, data, app)
				writeFile(rt, f, p, data, app)
				if app {
					m.files[p] = append(append([]byte{}, m.files[p]...), data...)
				} else {
					m.files[p] = data
				}
			},
			"mkdir": func(rt *rapid.T) {
				p := genPath.Draw(rt, "path")
				dir, name := splitPath(p)
				if dir != "" && !m.dirs[dir] {
					rt.Skip("parent missing")
				}
				note("mkdir %s", p)
				_, err := f.mkdir(ctx, dir, name, 0o755)
				switch {
				case m.exists(p):
					if !errors.Is(err, errExist) {
						rt.Fatalf("mkdir existing %s: %v", p, err)
					}
				default:
					if err != nil {
						rt.Fatalf("mkdir %s: %v", p, err)
					}
					m.dirs[p] = true
				}
			},
			"unlink": func(rt *rapid.T) {
				p := genPath.Draw(rt, "path")
				if m.files[p] == nil {
					rt.Skip("no file")
				}
				note("unlink %s", p)
				if err := f.unlink(ctx, p); err != nil {
					rt.Fatalf("unlink %s: %v", p, err)
				}
				delete(m.files, p)
			},
			"rmdir": func(rt *rapid.T) {
				p := genPath.Draw(rt, "path")
				if !m.dirs[p] {
					rt.Skip("no dir")
				}
				note("rmdir %s", p)
				err := f.rmdir(ctx, p)
				if len(m.children(p)) > 0 {
					if !errors.Is(err, errNotEmpty) {
						rt.Fatalf("rmdir non-empty %s: %v", p, err)
					}
					return
				}
				if err != nil {
					rt.Fatalf("rmdir %s: %v", p, err)
				}
				delete(m.dirs, p)
			},
			"rename": func(rt *rapid.T) {
				src, dst := genPath.Draw(rt, "src"), genPath.Draw(rt, "dst")
				dstDir, dstName := splitPath(dst)
				if !m.exists(src) || !(dstDir == "" || m.dirs[dstDir]) {
					rt.Skip("source or target parent missing")
				}
				note("rename %s %s", src, dst)
				err := f.rename(ctx, src, dstDir, dstName, 0)
				var want error
				switch {
				case src == dst:
				case m.dirs[src] && strings.HasPrefix(dst+"/", src+"/"):
					want = errInvalid
				case m.dirs[src] && m.files[dst] != nil:
					want = errNotDir
				case m.dirs[src] && m.dirs[dst] && len(m.children(dst)) > 0:
					want = errNotEmpty
				case m.files[src] != nil && m.dirs[dst]:
					want = errIsDir
				}
				if !errors.Is(err, want) || (want == nil && err != nil) {
					rt.Fatalf("rename %s %s = %v, want %v", src, dst, err, want)
				}
				if err != nil || src == dst {
					return
				}
				if m.files[src] != nil {
					m.files[dst] = m.files[src]
					delete(m.files, src)
				} else {
					delete(m.dirs, dst)
					m.moveTree(src, dst)
				}
			},
			"restart": func(rt *rapid.T) {
				// Stop without flushing, as a crash would (ops in flight are
				// cut off), and start again from the journal in the same cache dir.
				note("restart")
				closeFS()
				f, closeFS = env.newFS(t, prefix, cacheDir, delay, cacheSize)
			},
			"fsyncdir": func(rt *rapid.T) {
				note("fsyncdir")
				if err := f.fsyncDir(ctx, ""); err != nil {
					rt.Fatalf("fsync dir: %v", err)
				}
			},
			"": func(rt *rapid.T) { checkTree(check, f, m) },
		})
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := f.Flush(dctx); err != nil {
			rt.Fatalf("flush: %v", err)
		}
		closeFS()
		note("flush; check the bucket")
		checkBucket(check, env.client, prefix, m)
		fresh, closeFresh := env.newFS(t, prefix, t.TempDir(), 0, 0)
		defer closeFresh()
		note("fresh mount")
		checkTree(check, fresh, m)
	})
}

// seq drives a filesystem step by step and keeps its model in step: the
// deterministic tests' shared vocabulary. Any error fails the test.
type seq struct {
	t   testing.TB
	f   *FS
	m   *model
	ctx context.Context
}

func newSeq(t testing.TB, f *FS) *seq {
	return &seq{t: t, f: f, m: &model{files: map[string][]byte{}, dirs: map[string]bool{}}, ctx: context.Background()}
}

func (s *seq) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *seq) mkdir(p string) {
	s.t.Helper()
	dir, name := splitPath(p)
	_, err := s.f.mkdir(s.ctx, dir, name, 0o755)
	s.must(err)
	s.m.dirs[p] = true
}

// write creates p (mode perm) holding its own path.
func (s *seq) write(p string, perm uint32) {
	s.t.Helper()
	dir, name := splitPath(p)
	h, _, err := s.f.create(s.ctx, dir, name, 0, perm)
	s.must(err)
	h.Write(s.ctx, []byte(p), 0)
	h.Flush(s.ctx)
	h.Release(s.ctx)
	s.m.files[p] = []byte(p)
}

func (s *seq) chmod(p string, mode uint32) {
	s.t.Helper()
	_, err := s.f.setattr(s.ctx, p, nil, &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_MODE, Mode: mode}})
	s.must(err)
}

// rename moves src to dst, over a file or an empty directory.
func (s *seq) rename(src, dst string) {
	s.t.Helper()
	ddir, dname := splitPath(dst)
	s.must(s.f.rename(s.ctx, src, ddir, dname, 0))
	if b, ok := s.m.files[src]; ok {
		delete(s.m.files, src)
		s.m.files[dst] = b
		return
	}
	delete(s.m.dirs, dst)
	s.m.moveTree(src, dst)
}

func (s *seq) unlink(p string) {
	s.t.Helper()
	s.must(s.f.unlink(s.ctx, p))
	delete(s.m.files, p)
}

// sync flushes every pending op of the tree.
func (s *seq) sync() {
	s.t.Helper()
	s.must(s.f.fsyncDir(s.ctx, ""))
}

func (s *seq) check() {
	s.t.Helper()
	checkTree(s.t, s.f, s.m)
}

// wantMode fails unless p's permission bits are mode.
func (s *seq) wantMode(p string, mode uint32) {
	s.t.Helper()
	e, err := s.f.stat(s.ctx, p)
	s.must(err)
	if e.Mode&0o7777 != mode {
		s.t.Fatalf("%s has mode %o, want %o", p, e.Mode&0o7777, mode)
	}
}

// listDir reads p's listing, as ls does before a stat.
func (s *seq) listDir(p string) {
	s.t.Helper()
	_, err := s.f.readdir(s.ctx, p)
	s.must(err)
}

func (s *seq) setattr(p string, in *fuse.SetAttrIn) {
	s.t.Helper()
	_, err := s.f.setattr(s.ctx, p, nil, in)
	s.must(err)
}
