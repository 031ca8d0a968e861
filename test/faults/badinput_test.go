package faults

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// TestBadCommandLines: a mount that cannot be right is refused before
// anything is mounted: one line on stderr naming the culprit, a non-zero
// exit, no process left, in both modes.
func TestBadCommandLines(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	live := harness.MountBucket(t, srv, harness.MountOptions{})
	tests := []struct {
		name    string
		env     []string                  // added after the right credentials
		opts    []string                  // extra flags
		mp      func(t *testing.T) string // the mountpoint; a fresh empty dir when nil
		mention string                    // the line must name it ("" : the mountpoint)
		mounts  int                       // mounts at mp afterwards
	}{
		{name: "unknown key id", env: []string{"OSS_ACCESS_KEY_ID=no-such-key-id"}, mention: "no-such-key-id"},
		{name: "unknown -o option", opts: []string{"-o", "allow_other,frobnicate=1"}, mention: "frobnicate"},
		{name: "non-empty mountpoint", mp: func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "keep-me"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{name: "mountpoint already mounted", mounts: 1, mp: func(*testing.T) string { return live.Dir }},
	}
	for _, mode := range []string{"background", "foreground"} {
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				mp := t.TempDir()
				if tc.mp != nil {
					mp = tc.mp(t)
				}
				cache := t.TempDir()
				if tc.mounts == 0 {
					cleanupMount(t, mp, cache)
				}
				opts := tc.opts
				if mode == "foreground" {
					opts = append([]string{"-f"}, opts...)
				}
				env := append(credEnv(harness.AccessKeySecret), tc.env...)
				res := launch(t, env, mountArgs(srv.Endpoint, cache, harness.UniquePrefix(t), mp, opts...)...)
				msg := strings.TrimSpace(res.Stderr)
				t.Logf("exit %d: %s", res.ExitCode, msg)
				mention := tc.mention
				if mention == "" {
					mention = mp
				}
				if res.ExitCode == 0 {
					t.Errorf("exit 0, want non-zero")
				}
				if msg == "" || strings.Contains(msg, "\n") {
					t.Errorf("stderr is not one line:\n%s", res.Stderr)
				}
				if !strings.Contains(msg, mention) {
					t.Errorf("stderr does not name %q: %q", mention, msg)
				}
				if strings.Contains(res.Stdout+res.Stderr, harness.AccessKeySecret) {
					t.Errorf("the output shows the secret")
				}
				if n := mountsAt(mp); n != tc.mounts {
					t.Errorf("%d mounts at %s afterwards, want %d", n, mp, tc.mounts)
				}
				if tc.mounts == 0 && harness.FindDaemon(mp, cache) != 0 {
					t.Errorf("an ossmount process is left serving %s", mp)
				}
			})
		}
	}
	if _, err := os.Stat(live.Dir); err != nil {
		t.Errorf("the live mount after the refused attempts: %v", err)
	}
	live.Unmount(t)
}

// mountsAt counts the lines of /proc/self/mountinfo whose mount point is dir.
func mountsAt(dir string) int {
	n := 0
	for _, m := range harness.Mounts() {
		if m == dir {
			n++
		}
	}
	return n
}

// TestOddKeys: keys put in the bucket behind the mount's back that cannot
// be paths (empty, "." or ".." components, a NUL byte) are skipped with a
// log line: the listing shows the valid keys only, nothing is mapped to
// another name, and the daemon keeps serving.
func TestOddKeys(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	b := srv.Bucket(t, harness.DefaultBucket)
	prefix := harness.UniquePrefix(t)
	valid := model{"good": []byte("good"), "dir/good2": []byte("good2"), "dir/sub/good3": []byte("good3")}
	for rel, data := range valid {
		b.Put(t, prefix+rel, data)
	}
	// Each odd key with the part that makes it odd: the log line must name
	// the key, or the listing prefix it was skipped under.
	odd := map[string]string{
		"a//b":       "a//",
		"./x":        "./",
		"../x":       "../",
		"dir/../y":   "dir/../",
		"dir/./z":    "dir/./",
		".":          ".",
		"..":         "..",
		"dir/sub/.":  "dir/sub/.",
		"nul\x00key": "nul\x00key",
	}
	for rel := range odd {
		err := b.PutObject(prefix+rel, bytes.NewReader([]byte("odd:"+rel)))
		if err != nil && strings.Contains(rel, "\x00") {
			// Some SDK or server refuses a NUL byte in a key: nothing to list then.
			t.Logf("cannot create a key with a NUL byte (%v); that case is skipped", err)
			delete(odd, rel)
			continue
		}
		if err != nil {
			t.Fatalf("put odd key %q: %v", rel, err)
		}
	}
	keys := b.Keys(t, prefix)
	if len(keys) != len(valid)+len(odd) {
		t.Fatalf("premise: the bucket holds %d keys under the prefix, want %d: %q", len(keys), len(valid)+len(odd), keys)
	}

	m := harness.MountBucket(t, srv, harness.MountOptions{Prefix: prefix})
	got, dirs, err := readTree(m.Dir)
	if err != nil {
		t.Fatalf("walk the mount: %v", err)
	}
	for p, data := range got {
		if bytes.HasPrefix(data, []byte("odd:")) {
			t.Errorf("%s shows the odd key %q under another name", p, strings.TrimPrefix(string(data), "odd:"))
		}
	}
	for rel, want := range valid {
		if g, ok := got[rel]; !ok || !bytes.Equal(g, want) {
			t.Errorf("valid key %s: present %v, %q", rel, ok, g)
		}
	}
	t.Logf("the mount shows files %q and directories %q", got.paths(), dirs)
	for _, p := range append(got.paths(), dirs...) {
		for _, c := range strings.Split(p, "/") {
			if c == "" || c == "." || c == ".." || strings.ContainsRune(c, 0) {
				t.Errorf("the mount shows a path with a %q component: %q", c, p)
			}
		}
	}
	if !harness.IsMounted(m.Dir) || harness.FindDaemon(m.Dir, m.CacheDir) == 0 {
		t.Fatalf("the daemon is gone after listing odd keys\n%s", harness.Tail(m.Log(), 20))
	}

	log := m.Log()
	for rel, part := range odd {
		if !skipLogged(log, prefix+rel, prefix+part) {
			t.Errorf("no log line about skipping the key %q (or its prefix %q); skip lines:\n%s", prefix+rel, prefix+part, grepLines(log, "skip"))
		}
	}
	m.Unmount(t)
}

// skipLogged reports whether a log line says that the key, or the prefix
// it was skipped under, was skipped. slog quotes values with odd bytes.
func skipLogged(log, key, part string) bool {
	forms := []string{key, part, strings.Trim(strconv.Quote(key), `"`), strings.Trim(strconv.Quote(part), `"`)}
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(strings.ToLower(line), "skip") {
			continue
		}
		for _, f := range forms {
			if strings.Contains(line, "="+f+" ") || strings.HasSuffix(line, "="+f) ||
				strings.Contains(line, `="`+f+`"`) {
				return true
			}
		}
	}
	return false
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
