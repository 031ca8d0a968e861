package registry

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// QuietPeriod is how long the OSS server's counters must stay unchanged for
// the mount to count as idle. It exceeds the mount's default upload delay
// (1s) so that a closed file's delayed upload cannot slip past it.
const QuietPeriod = 3 * time.Second

// WaitQuiet waits until the server's counters stop changing for
// QuietPeriod, and returns them: the mount has finished the background work
// a push caused. The 5-minute limit only guards against a hang.
func WaitQuiet(t testing.TB, srv *harness.Server) harness.Stats {
	t.Helper()
	last := srv.Stats(t)
	since := time.Now()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Since(since) < QuietPeriod {
		if time.Now().After(deadline) {
			t.Fatalf("OSS traffic did not stop within 5 minutes: %s", last)
		}
		time.Sleep(200 * time.Millisecond)
		cur := srv.Stats(t)
		if !reflect.DeepEqual(cur, last) {
			last, since = cur, time.Now()
		}
	}
	return last
}

// Requests renders the non-zero request counters sorted by API name,
// e.g. "PutObject=3 DeleteObject=2", and their total.
func Requests(st harness.Stats) (string, int64) {
	names := make([]string, 0, len(st.Requests))
	var total int64
	for k, v := range st.Requests {
		if v != 0 {
			names = append(names, k)
			total += v
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%d", k, st.Requests[k])
	}
	return strings.Join(parts, " "), total
}
