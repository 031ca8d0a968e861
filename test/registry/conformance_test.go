package registry

import (
	"os"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/distribution/v3/registry/storage/driver/testsuites"

	"github.com/ossmount/ossmount/test/harness"
)

// TestDriverConformance runs distribution's own storage driver suite
// against its filesystem driver rooted at an empty directory on the mount.
// The suite runs in this process; the FUSE server is the child ossmount.
// With -short it skips the 5 GiB stream and shrinks the concurrent tests.
func TestDriverConformance(t *testing.T) {
	srv := harness.StartServer(t, harness.ServerOptions{})
	m := harness.MountBucket(t, srv, harness.MountOptions{})
	root := m.Path("conformance")
	if err := os.Mkdir(root, 0o777); err != nil {
		t.Fatalf("mkdir %s: %v", root, err)
	}
	// A hung FUSE request would hang the suite: kill the mount instead, so
	// the suite fails with ENOTCONN and the log tail shows where it stuck.
	limit := 8 * time.Minute
	if !testing.Short() {
		limit = 40 * time.Minute
	}
	defer m.Watchdog(t, limit)()

	start := time.Now()
	testsuites.Driver(t, func() (storagedriver.StorageDriver, error) {
		return filesystem.FromParameters(map[string]any{"rootdirectory": root})
	}, false)
	t.Logf("driver suite on the mount took %v (short=%v)", time.Since(start).Round(time.Millisecond), testing.Short())

	left, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("read %s after the suite: %v", root, err)
	}
	if len(left) != 0 {
		t.Errorf("the suite left %d entries in its root, e.g. %q", len(left), left[0].Name())
	}
}
