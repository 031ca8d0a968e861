package e2e

import (
	"os"
	"sort"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/posixtest"

	"github.com/ossmount/ossmount/test/harness"
)

// posixExcluded are go-fuse posixtest cases needing what OSS cannot hold.
var posixExcluded = map[string]string{
	"Link":             "hard links: an object has exactly one key",
	"LinkUnlinkRename": "hard links: an object has exactly one key",
	"SymlinkReadlink":  "symbolic links: not representable as OSS objects",
	"SetattrSymlink":   "symbolic links: not representable as OSS objects",
	"OpenSymlinkRace":  "symbolic links: not representable as OSS objects",
	// OSS cannot hold locks, so the mount leaves record locks to the kernel,
	// whose POSIX semantics grant this case's second lock: both descriptors
	// belong to one process. The case expects go-fuse's loopback behaviour.
	"FcntlFlockLocksFile": "record locks: kept by the kernel, not OSS; same-process locks never conflict",
}

// TestPOSIX runs go-fuse's posixtest suite on the mount, each case in a
// fresh directory of one mount served by a child process.
func TestPOSIX(t *testing.T) {
	e := newEnv(t)
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if why, ok := posixExcluded[name]; ok {
				t.Skip(why)
			}
			dir := e.m.Path(name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatalf("mkdir %s: %v", dir, err)
			}
			stop := e.m.Watchdog(t, 3*time.Minute)
			defer stop()
			posixtest.All[name](t, dir)
		})
	}
	harness.FsyncDir(t, e.m.Dir)
}
