// Package e2e tests ossmount end to end: the real binary mounted over
// `ossmount server`, exercised through the kernel, checked through the
// Alibaba SDK and the server's request counters.
package e2e

import (
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
