package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestAttrsBeforeRename follows rsync's pattern: write a temporary file,
// set its mode and times, rename it into place. Some files are renamed
// while their upload is still queued, some after it ran: OSS must end up
// with every file's mode and mtime under its final name, whatever the
// timing.
func TestAttrsBeforeRename(t *testing.T) {
	e := newEnv(t, "--upload-delay=50ms")
	const n = 120
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < n; i++ {
		tmp := e.m.Path(fmt.Sprintf(".f%d.tmp", i))
		if err := os.WriteFile(tmp, []byte(fmt.Sprint(i)), 0o600); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			time.Sleep(80 * time.Millisecond) // let this one's upload run first
		}
		if err := os.Chmod(tmp, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, e.m.Path(fmt.Sprintf("f%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	e.m.Unmount(t) // waits for every upload
	lost := 0
	for i := 0; i < n; i++ {
		h := e.b.Meta(t, e.m.Key(fmt.Sprintf("f%d", i)))
		wantMtime := fmt.Sprint(mtime.Add(time.Duration(i) * time.Second).UnixNano())
		if mode := h.Get("X-Oss-Meta-Mode"); mode != "100640" || h.Get("X-Oss-Meta-Mtime") != wantMtime {
			if lost < 5 {
				t.Errorf("f%d: x-oss-meta-mode %q, mtime %q; want 100640, %s", i, mode, h.Get("X-Oss-Meta-Mtime"), wantMtime)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d files lost their mode or mtime in OSS", lost, n)
	}
}
