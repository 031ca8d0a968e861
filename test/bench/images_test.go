package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
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

// Shape of the image set every registry benchmark pushes: a few images,
// each one big layer (several of the mount's 8 MiB parts) and a few small
// ones, all random so that nothing compresses or deduplicates.
const (
	imageCount    = 3
	bigLayerBytes = 32 << 20
)

var smallLayerBytes = []int{4 << 10, 64 << 10, 1 << 20}

// imageSet is the images of one benchmark run and what pushing them means.
type imageSet struct {
	repos  []string // repository:tag of each image
	images []v1.Image
	blobs  int   // layers and configs
	bytes  int64 // layers, configs and manifests
}

// newImageSet builds the images in memory; seed keeps runs reproducible.
func newImageSet(b *testing.B) *imageSet {
	b.Helper()
	s := &imageSet{}
	for i := 0; i < imageCount; i++ {
		sizes := append([]int{bigLayerBytes}, smallLayerBytes...)
		var layers []v1.Layer
		for j, n := range sizes {
			layers = append(layers, static.NewLayer(harness.RandomBytes(uint64(1000*i+j+1), n), types.OCIUncompressedLayer))
			s.bytes += int64(n)
		}
		img, err := mutate.AppendLayers(empty.Image, layers...)
		if err != nil {
			b.Fatal(err)
		}
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
		mf, err := img.RawManifest()
		if err != nil {
			b.Fatal(err)
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			b.Fatal(err)
		}
		s.bytes += int64(len(mf) + len(cfg))
		s.blobs += len(layers) + 1
		s.images = append(s.images, img)
		s.repos = append(s.repos, fmt.Sprintf("bench/app%d:v1", i))
	}
	return s
}

func (s *imageSet) ref(b *testing.B, addr string, i int) name.Reference {
	b.Helper()
	r, err := name.ParseReference(addr+"/"+s.repos[i], name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// push writes every image to the registry at addr (host:port), one image
// after the other as a CI job pushing its images would; go-containerregistry
// uploads each image's blobs in parallel. It returns the time taken.
func (s *imageSet) push(b *testing.B, addr string) time.Duration {
	b.Helper()
	start := time.Now()
	for i, img := range s.images {
		if err := remote.Write(s.ref(b, addr, i), img); err != nil {
			b.Fatalf("push %s to %s: %v", s.repos[i], addr, err)
		}
	}
	return time.Since(start)
}

// pull reads every image back from the registry at addr, its layers in
// parallel as docker pull does, and fails unless every byte hashes to the
// pushed digests. It returns the time taken.
func (s *imageSet) pull(b *testing.B, addr string) time.Duration {
	b.Helper()
	start := time.Now()
	for i, want := range s.images {
		if err := pullImage(s.ref(b, addr, i), want); err != nil {
			b.Fatalf("pull %s from %s: %v", s.repos[i], addr, err)
		}
	}
	return time.Since(start)
}

func pullImage(ref name.Reference, want v1.Image) error {
	got, err := remote.Image(ref)
	if err != nil {
		return err
	}
	gm, err := got.RawManifest()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	wm, _ := want.RawManifest()
	if !bytes.Equal(gm, wm) {
		return fmt.Errorf("manifest differs from the pushed one")
	}
	gc, err := got.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	wc, _ := want.RawConfigFile()
	if !bytes.Equal(gc, wc) {
		return fmt.Errorf("config differs from the pushed one")
	}
	layers, err := want.Layers()
	if err != nil {
		return err
	}
	errs := make([]error, len(layers))
	var wg sync.WaitGroup
	for i, l := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pullLayer(ref.Context(), l)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func pullLayer(repo name.Repository, want v1.Layer) error {
	d, err := want.Digest()
	if err != nil {
		return err
	}
	size, _ := want.Size()
	l, err := remote.Layer(repo.Digest(d.String()))
	if err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("layer %s: read after %d bytes: %w", d, n, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d.String() || n != size {
		return fmt.Errorf("layer %s: pulled %d bytes hashing to %s, want %d bytes", d, n, got, size)
	}
	return nil
}
