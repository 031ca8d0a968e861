// Package harness runs ossmount end to end for the tests in this module: it
// builds the binary once per test binary, starts `ossmount server` and
// mounts as child processes (a FUSE server and I/O on its own mount in one Go
// process can deadlock, golang/go#21014), reads the server's /_stats, lists
// the bucket through the Alibaba SDK, and unmounts everything in t.Cleanup
// so that nothing stays mounted when a test fails.
//
// Tests that need FUSE call [RequireFUSE] (MountBucket does it for them):
// without /dev/fuse or the right to mount they skip, except under CI=true
// where they fail.
package harness
