package e2e

import (
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// slowServer answers every request after this delay, so that an upload
// takes several round trips' worth of it while local operations take none.
const slowServer = 500 * time.Millisecond

// TestRenameDoesNotWaitForOSS: with a slow server and a large file not yet
// uploaded, a cross-directory rename returns before the object exists, a
// second rename made while the first file's upload runs is not held up by it,
// and a directory fsync then puts the object under its final key.
func TestRenameDoesNotWaitForOSS(t *testing.T) {
	e := newEnvWith(t, harness.ServerOptions{Latency: slowServer}, "--upload-delay=30s")
	for _, d := range []string{"src1", "dst1", "src2", "dst2", "other"} {
		mustMkdirAll(t, e.m.Path(d))
	}
	big := harness.RandomBytes(20, 64<<20)
	harness.WriteFileSync(t, e.m.Path("src1", "big"), big)
	harness.WriteFileSync(t, e.m.Path("src2", "small"), []byte("small"))
	e.srv.ResetStats(t)

	mustRename(t, e.m.Path("src1", "big"), e.m.Path("dst1", "big"))
	if e.b.Exists(t, e.m.Key("dst1/big")) {
		t.Fatalf("dst1/big was already in the bucket when rename returned: the rename waited for the upload")
	}
	if st := e.srv.Stats(t); st.Count("PutObject", "UploadPart", "CompleteMultipartUpload") != 0 {
		t.Errorf("rename uploaded before returning: %s", st)
	}

	// The barrier starts the big upload; wait until it is really in flight.
	e.srv.ResetStats(t)
	fsynced := make(chan struct{})
	go func() {
		defer close(fsynced)
		// Any directory: every earlier rename must be carried out. Not one the
		// second rename touches: the kernel locks a directory during its fsync.
		harness.FsyncDir(t, e.m.Path("other"))
	}()
	harness.WaitUntil(t, 2*time.Minute, "the upload of dst1/big starts", func() bool {
		return e.srv.Stats(t).Count("InitiateMultipartUpload", "PutObject", "UploadPart") > 0
	})

	// The second cross-directory rename, while the first file's upload runs.
	mustRename(t, e.m.Path("src2", "small"), e.m.Path("dst2", "small"))
	select {
	case <-fsynced:
		t.Errorf("the directory fsync finished before a rename made during it returned: the rename was held up by the upload")
	default:
	}
	if e.b.Exists(t, e.m.Key("dst1/big")) {
		t.Errorf("dst1/big was in the bucket before a rename issued during its upload returned: that rename waited for it")
	}
	wantFile(t, e.m.Path("dst2", "small"), []byte("small"))

	<-fsynced
	e.wantObject(t, "dst1/big", big)
	e.wantNoObject(t, "src1/big")
	harness.FsyncDir(t, e.m.Path("dst2"))
	e.wantObject(t, "dst2/small", []byte("small"))
	e.wantNoObject(t, "src2/small")
}

// TestRenameDuringUpload renames a large file whose upload under the old key
// is already running: the rename returns before the object exists under the
// new key, and a directory fsync leaves exactly the new key with the bytes.
func TestRenameDuringUpload(t *testing.T) {
	e := newEnvWith(t, harness.ServerOptions{Latency: slowServer}, "--upload-delay=0s")
	mustMkdirAll(t, e.m.Path("a"))
	mustMkdirAll(t, e.m.Path("b"))
	big := harness.RandomBytes(21, 64<<20)
	e.srv.ResetStats(t)
	harness.WriteFileSync(t, e.m.Path("a", "big"), big)
	harness.WaitUntil(t, 2*time.Minute, "the upload of a/big starts", func() bool {
		return e.srv.Stats(t).Count("InitiateMultipartUpload", "PutObject", "UploadPart") > 0
	})
	mustRename(t, e.m.Path("a", "big"), e.m.Path("b", "big"))
	if e.b.Exists(t, e.m.Key("b/big")) {
		t.Fatalf("b/big was in the bucket when rename returned: the rename waited for OSS")
	}
	wantFile(t, e.m.Path("b", "big"), big)
	harness.FsyncDir(t, e.m.Path("b"))
	e.wantObject(t, "b/big", big)
	e.wantNoObject(t, "a/big")
}
