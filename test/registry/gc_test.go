package registry

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ossmount/ossmount/test/harness"
)

// TestGarbageCollect deletes a manifest through the registry API, runs
// `registry garbage-collect` on the mount, and checks in the bucket that
// exactly the unreferenced blobs are gone while the rest still pulls.
func TestGarbageCollect(t *testing.T) {
	e := newRegEnv(t, harness.MountOptions{})
	shared := layer(600, 2<<20)
	imgA := image(t, "", shared, layer(601, 3<<20), layer(602, 1<<10))
	imgB := image(t, "", shared, layer(603, 1<<20))
	pushImage(t, e.reg, "gc/app:a", imgA)
	pushImage(t, e.reg, "gc/app:b", imgB)
	orphan := layer(604, 512<<10) // uploaded, never in a manifest
	if err := remote.WriteLayer(repo(t, e.reg, "gc/app"), orphan); err != nil {
		t.Fatalf("push orphan layer: %v", err)
	}

	if err := e.c.DeleteManifest("gc/app", digestOf(t, imgA)); err != nil {
		t.Fatalf("delete manifest A: %v", err)
	}
	e.reg.NoErrors(t)
	// GC is not safe while the registry serves pushes (upstream's rule).
	e.reg.Stop(t)
	out := e.reg.GarbageCollect(t)
	t.Logf("garbage-collect output (tail):\n%s", harness.Tail(out, 8))
	e.reg.Restart(t)

	gone := map[string]string{"orphan layer": digestOf(t, orphan), "manifest A": digestOf(t, imgA), "config A": configDigest(t, imgA)}
	kept := map[string]string{"shared layer": digestOf(t, shared), "manifest B": digestOf(t, imgB), "config B": configDigest(t, imgB)}
	la, _ := imgA.Layers()
	gone["layer A1"], gone["layer A2"] = digestOf(t, la[1]), digestOf(t, la[2])
	lb, _ := imgB.Layers()
	kept["layer B1"] = digestOf(t, lb[1])

	verifyImage(t, e.reg, "gc/app:b", imgB)
	verifyImage(t, e.reg, "gc/app@"+digestOf(t, imgB), imgB)
	if code, err := e.c.ManifestStatus("gc/app", digestOf(t, imgA)); err != nil || code != http.StatusNotFound {
		t.Errorf("HEAD deleted manifest A: %d %v, want 404", code, err)
	}
	if code, err := e.c.ManifestStatus("gc/app", "a"); err != nil || code != http.StatusNotFound {
		t.Errorf("HEAD tag a of the deleted manifest: %d %v, want 404", code, err)
	}
	for what, d := range gone {
		if code, err := e.c.BlobStatus("gc/app", d); err != nil || code != http.StatusNotFound {
			t.Errorf("HEAD %s %s after GC: %d %v, want 404", what, d, code, err)
		}
	}

	// Unmounting waits for the deletes to reach OSS; then ask the bucket.
	e.reg.NoErrors(t)
	e.reg.Stop(t)
	e.m.Unmount(t)
	keys := e.b.Keys(t, e.m.Prefix)
	has := map[string]bool{}
	for _, k := range keys {
		has[k] = true
	}
	for what, d := range gone {
		k := e.m.Key(blobPath(d))
		if has[k] {
			t.Errorf("%s: %s still in the bucket after GC", what, k)
		}
		for _, key := range keys {
			if strings.HasPrefix(key, strings.TrimSuffix(k, "data")) && key != k {
				t.Errorf("%s: %s left in the bucket after GC", what, key)
			}
		}
	}
	for what, d := range kept {
		if k := e.m.Key(blobPath(d)); !has[k] {
			t.Errorf("%s: %s missing from the bucket after GC", what, k)
		}
	}
}

func configDigest(t testing.TB, img v1Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}
