package registry

import (
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// TestMain removes the built ossmount and registry binaries afterwards.
func TestMain(m *testing.M) { harness.Main(m) }
