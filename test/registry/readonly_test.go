package registry

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// TestReadOnlySecondMount: a second mount of the same prefix (own cache,
// -o ro, --stat-ttl 2s) with its own read-only registry serves what is
// pushed through the first mount once its stat TTL has passed. The second
// registry looks for the tag before the push, so that the second mount has
// cached its absence and must revalidate.
func TestReadOnlySecondMount(t *testing.T) {
	e := newRegEnv(t, harness.MountOptions{})
	ro := harness.MountBucket(t, e.srv, harness.MountOptions{Prefix: e.m.Prefix, Args: []string{"-o", "ro", "--stat-ttl", "2s"}})
	reader := Start(t, Options{Root: ro.Dir, ReadOnly: true})
	rc := NewClient(reader)

	// Something already there before the first pull through the second mount.
	img0 := image(t, "", layer(700, 1<<20))
	pushImage(t, e.reg, "ro/app:old", img0)
	verifyImage(t, reader, "ro/app:old", img0)
	if code, err := rc.ManifestStatus("ro/app", "v1"); err != nil || code != 404 {
		t.Fatalf("HEAD ro/app:v1 on the second registry before the push: %d %v, want 404", code, err)
	}

	img1 := image(t, "", layer(701, 3<<20), layer(702, 1<<10))
	pushImage(t, e.reg, "ro/app:v1", img1)
	took := pollImage(t, reader, "ro/app:v1", img1, 2*time.Minute)
	t.Logf("the second mount served the new tag %v after the push returned (stat TTL 2s)", took.Round(10*time.Millisecond))

	// Retag: the second mount must notice the overwritten current/link.
	img2 := image(t, "", layer(703, 2<<20))
	pushImage(t, e.reg, "ro/app:v1", img2)
	took = pollImage(t, reader, "ro/app:v1", img2, 2*time.Minute)
	t.Logf("the second mount served the retagged v1 %v after the push returned", took.Round(10*time.Millisecond))
	verifyImage(t, reader, "ro/app@"+digestOf(t, img1), img1)

	e.reg.NoErrors(t)
	reader.NoErrors(t)

	// The second mount refuses writes.
	err := os.WriteFile(ro.Path("should-not-exist"), []byte("x"), 0o644)
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("write on the -o ro mount: %v, want EROFS", err)
	}
}
