package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ossmount/ossmount/test/harness"
)

// regEnv is one test's OSS server, mount, registry on the mount, and the
// bucket seen through the SDK.
type regEnv struct {
	srv *harness.Server
	m   *harness.Mount
	reg *Registry
	c   *Client
	b   *harness.Bucket
}

// newRegEnv starts a server, mounts a fresh prefix with opts and starts a
// registry whose root directory is the mountpoint itself, so that keys are
// PREFIX/docker/registry/v2/... as with distribution's OSS driver.
func newRegEnv(t *testing.T, opts harness.MountOptions) *regEnv {
	t.Helper()
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	m := harness.MountBucket(t, srv, opts)
	reg := Start(t, Options{Root: m.Dir})
	return &regEnv{srv: srv, m: m, reg: reg, c: NewClient(reg), b: srv.Bucket(t, m.Bucket)}
}

// ref parses "repo:tag" or "repo@digest" on registry r.
func ref(t testing.TB, r *Registry, s string) name.Reference {
	t.Helper()
	rf, err := name.ParseReference(r.Addr+"/"+s, name.Insecure)
	if err != nil {
		t.Fatalf("parse reference %q: %v", s, err)
	}
	return rf
}

func repo(t testing.TB, r *Registry, s string) name.Repository {
	t.Helper()
	rp, err := name.NewRepository(r.Addr+"/"+s, name.Insecure)
	if err != nil {
		t.Fatalf("parse repository %q: %v", s, err)
	}
	return rp
}

// layer is a blob of size reproducible random bytes, pushed as is (no
// compression: its digest is the sha256 of exactly those bytes).
func layer(seed uint64, size int) v1.Layer {
	return static.NewLayer(harness.RandomBytes(seed, size), types.OCIUncompressedLayer)
}

// layerBytes returns a static layer's bytes.
func layerBytes(t testing.TB, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// image builds an OCI image of the given layers; platform ("linux/amd64")
// may be empty.
func image(t testing.TB, platform string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	if platform != "" {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, _ = strings.Cut(platform, "/")
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

// index builds an OCI index of one image per platform.
func index(t testing.TB, imgs map[string]v1.Image) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for p, img := range imgs {
		os, arch, _ := strings.Cut(p, "/")
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

func pushImage(t testing.TB, r *Registry, s string, img v1.Image) {
	t.Helper()
	if err := remote.Write(ref(t, r, s), img); err != nil {
		t.Fatalf("push %s: %v", s, err)
	}
}

func pushIndex(t testing.TB, r *Registry, s string, idx v1.ImageIndex) {
	t.Helper()
	if err := remote.WriteIndex(ref(t, r, s), idx); err != nil {
		t.Fatalf("push index %s: %v", s, err)
	}
}

func digestOf(t testing.TB, x interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// sha is the OCI digest of everything r yields, and its length.
func sha(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, err
}

// verifyImage pulls s ("repo:tag" or "repo@digest") and checks that the
// manifest, the config and every layer are bit-exact copies of want: each
// pulled blob is hashed here and compared with want's digests.
func verifyImage(t testing.TB, r *Registry, s string, want v1.Image) {
	t.Helper()
	got, err := remote.Image(ref(t, r, s))
	if err != nil {
		t.Fatalf("pull %s: %v", s, err)
	}
	if err := sameImage(got, want); err != nil {
		t.Fatalf("pull %s: %v", s, err)
	}
}

func sameImage(got, want v1.Image) error {
	gm, err := got.RawManifest()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	wm, err := want.RawManifest()
	if err != nil {
		return err
	}
	if !bytes.Equal(gm, wm) {
		return fmt.Errorf("manifest differs:\n got %s\nwant %s", gm, wm)
	}
	gc, err := got.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	wc, err := want.RawConfigFile()
	if err != nil {
		return err
	}
	if !bytes.Equal(gc, wc) {
		return fmt.Errorf("config differs:\n got %s\nwant %s", gc, wc)
	}
	gl, err := got.Layers()
	if err != nil {
		return err
	}
	wl, err := want.Layers()
	if err != nil {
		return err
	}
	if len(gl) != len(wl) {
		return fmt.Errorf("%d layers, want %d", len(gl), len(wl))
	}
	for i := range gl {
		wd, _ := wl[i].Digest()
		ws, _ := wl[i].Size()
		rc, err := gl[i].Compressed()
		if err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, wd, err)
		}
		d, n, err := sha(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d (%s): read after %d bytes: %w", i, wd, n, err)
		}
		if d != wd.String() || n != ws {
			return fmt.Errorf("layer %d: pulled %d bytes with digest %s, want %d bytes %s", i, n, d, ws, wd)
		}
	}
	return nil
}

// verifyIndex pulls an index and every platform's image, bit-exact.
func verifyIndex(t testing.TB, r *Registry, s string, want v1.ImageIndex) {
	t.Helper()
	if err := checkIndex(r, ref(t, r, s), want); err != nil {
		t.Fatalf("pull index %s: %v", s, err)
	}
}

func checkIndex(r *Registry, rf name.Reference, want v1.ImageIndex) error {
	got, err := remote.Index(rf)
	if err != nil {
		return err
	}
	gm, err := got.RawManifest()
	if err != nil {
		return err
	}
	wm, err := want.RawManifest()
	if err != nil {
		return err
	}
	if !bytes.Equal(gm, wm) {
		return fmt.Errorf("index manifest differs:\n got %s\nwant %s", gm, wm)
	}
	im, err := want.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		wi, err := want.Image(d.Digest)
		if err != nil {
			return err
		}
		gi, err := got.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("platform %s: %w", d.Platform, err)
		}
		if err := sameImage(gi, wi); err != nil {
			return fmt.Errorf("platform %s: %w", d.Platform, err)
		}
	}
	return nil
}

// pollImage pulls s until it is a bit-exact copy of want (another mount
// needs its stat TTL to notice a change); it returns how long that took.
// The limit only guards against a hang: the time is reported, not asserted.
func pollImage(t testing.TB, r *Registry, s string, want v1.Image, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < limit {
		got, err := remote.Image(ref(t, r, s))
		if err == nil {
			err = sameImage(got, want)
		}
		if err == nil {
			return time.Since(start)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("pull %s never returned the pushed image within %v; last error: %v", s, limit, last)
	return 0
}

// blobPath is a blob's data file under a registry root.
func blobPath(dgst string) string {
	hexPart := strings.TrimPrefix(dgst, "sha256:")
	return "docker/registry/v2/blobs/sha256/" + hexPart[:2] + "/" + hexPart + "/data"
}

// v1Image shortens map types in tests.
type v1Image = v1.Image

// staticLayers wraps the chosen byte slices as layers, in order.
func staticLayers(data [][]byte, idx ...int) []v1.Layer {
	out := make([]v1.Layer, len(idx))
	for i, j := range idx {
		out[i] = static.NewLayer(data[j], types.OCIUncompressedLayer)
	}
	return out
}

// v1Layer shortens signatures in tests.
type v1Layer = v1.Layer
