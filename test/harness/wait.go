package harness

import (
	"testing"
	"time"
)

// WaitUntil polls cond every 50ms until it holds, failing the test after
// timeout. The timeout is a safety net against hangs, never a measurement.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting until %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
