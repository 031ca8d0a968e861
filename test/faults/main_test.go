package faults

import (
	"os"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// TestMain doubles as the crash-loop workload: the test binary re-executes
// itself with workloadEnv set, so the workload is a separate process that
// the daemon's death cannot take down with the test.
func TestMain(m *testing.M) {
	if os.Getenv(workloadEnv) != "" {
		os.Exit(runWorkload())
	}
	harness.Main(m)
}
