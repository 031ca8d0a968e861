package harness

import (
	"os"
	"os/exec"
	"testing"
)

// RequireFUSE skips the test when this machine cannot mount FUSE file
// systems: no /dev/fuse, or neither root (go-fuse mounts directly as root)
// nor a fusermount helper. Under CI=true it fails instead, so that a CI
// machine without FUSE cannot pass by skipping everything.
func RequireFUSE(t testing.TB) {
	t.Helper()
	reason := fuseUnavailable()
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("FUSE is required under CI=true: %s", reason)
	}
	t.Skipf("skipping: FUSE unavailable: %s", reason)
}

func fuseUnavailable() string {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return "cannot open /dev/fuse: " + err.Error()
	}
	f.Close()
	if os.Geteuid() == 0 {
		return ""
	}
	for _, helper := range []string{"fusermount3", "fusermount"} {
		if _, err := exec.LookPath(helper); err == nil {
			return ""
		}
	}
	return "not root and no fusermount3/fusermount on PATH"
}
