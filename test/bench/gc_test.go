package bench

import (
	"fmt"
	"sort"
	"strings"
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
	"github.com/ossmount/ossmount/test/registry"
)

// Shape of the registry BenchmarkGarbageCollect collects: 2,000 layers in
// 50 repositories, half of them in an image and half uploaded but never
// referenced (what an interrupted push leaves).
const (
	gcRepos      = 50
	gcReferenced = 20 // layers of each repository's image
	gcOrphans    = 20 // unreferenced layers of each repository
	gcLayerBytes = 512
)

// BenchmarkGarbageCollect runs `registry garbage-collect` over the same
// registry content (a) on a local directory and (b) on a mount, at 0 and
// 10 ms of server latency. It reports the time ratio mount/local and the
// OSS requests the collection cost, and fails unless exactly the
// unreferenced blobs are gone from the bucket afterwards.
func BenchmarkGarbageCollect(b *testing.B) {
	harness.RequireFUSE(b)
	content := newGCContent(b)
	for _, latency := range []time.Duration{0, 10 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", latency), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				local := registry.Start(b, registry.Options{Root: b.TempDir()})
				content.push(b, local.Addr)
				local.NoErrors(b)
				local.Stop(b)
				start := time.Now()
				local.GarbageCollect(b)
				localGC := time.Since(start)

				srv := harness.StartServer(b, harness.ServerOptions{Latency: latency})
				m := harness.MountBucket(b, srv, harness.MountOptions{})
				reg := registry.Start(b, registry.Options{Root: m.Dir})
				start = time.Now()
				content.push(b, reg.Addr)
				pushTime := time.Since(start)
				reg.NoErrors(b)
				reg.Stop(b)
				registry.WaitQuiet(b, srv)
				srv.ResetStats(b)
				start = time.Now()
				reg.GarbageCollect(b)
				mountGC := time.Since(start)
				gcStats := registry.WaitQuiet(b, srv) // the deletes reach OSS after the command
				rss := peakRSS(m.PID())
				m.Unmount(b)
				content.check(b, srv.Bucket(b, m.Bucket).Keys(b, m.Prefix+blobsDir), m.Prefix+blobsDir)

				reqs, n := registry.Requests(gcStats)
				b.Logf("garbage-collect of %d blobs in %d repositories (%d unreferenced), latency %v: local %v, mount %v (%.2fx); %d OSS requests (%s); push of the content through the mount took %v; daemon peak RSS %d MiB",
					content.blobs(), gcRepos, gcRepos*gcOrphans, latency, localGC.Round(time.Millisecond), mountGC.Round(time.Millisecond),
					float64(mountGC)/float64(localGC), n, reqs, pushTime.Round(time.Millisecond), rss>>20)
				b.ReportMetric(float64(mountGC)/float64(localGC), "mount/local")
				b.ReportMetric(float64(n), "requests")
			}
		})
	}
}

const blobsDir = "docker/registry/v2/blobs/"

// gcContent is the registry content: an image per repository, and layers
// uploaded to it that no manifest names.
type gcContent struct {
	images     []v1.Image
	orphans    [][]v1.Layer
	referenced map[string]bool // digests of every blob an image refers to, manifests included
	orphaned   map[string]bool
}

func newGCContent(b *testing.B) *gcContent {
	b.Helper()
	c := &gcContent{referenced: map[string]bool{}, orphaned: map[string]bool{}}
	layer := func(seed int) v1.Layer {
		return static.NewLayer(harness.RandomBytes(uint64(seed), gcLayerBytes), types.OCIUncompressedLayer)
	}
	digest := func(h v1.Hash, err error) string {
		if err != nil {
			b.Fatal(err)
		}
		return h.String()
	}
	for r := 0; r < gcRepos; r++ {
		var layers []v1.Layer
		for j := 0; j < gcReferenced; j++ {
			l := layer(1_000_000 + r*1000 + j)
			layers = append(layers, l)
			c.referenced[digest(l.Digest())] = true
		}
		img, err := mutate.AppendLayers(empty.Image, layers...)
		if err != nil {
			b.Fatal(err)
		}
		c.images = append(c.images, img)
		c.referenced[digest(img.Digest())] = true
		c.referenced[digest(img.ConfigName())] = true
		var orphans []v1.Layer
		for j := 0; j < gcOrphans; j++ {
			l := layer(2_000_000 + r*1000 + j)
			orphans = append(orphans, l)
			c.orphaned[digest(l.Digest())] = true
		}
		c.orphans = append(c.orphans, orphans)
	}
	return c
}

func (c *gcContent) blobs() int { return len(c.referenced) + len(c.orphaned) }

// push uploads everything to the registry at addr, 8 repositories at once.
func (c *gcContent) push(b *testing.B, addr string) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, gcRepos)
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				repo, err := name.NewRepository(fmt.Sprintf("%s/gc/repo%02d", addr, r), name.Insecure)
				if err != nil {
					errs <- err
					continue
				}
				if err := remote.Write(repo.Tag("latest"), c.images[r]); err != nil {
					errs <- fmt.Errorf("push image %d: %w", r, err)
					continue
				}
				for _, l := range c.orphans[r] {
					if err := remote.WriteLayer(repo, l); err != nil {
						errs <- fmt.Errorf("push layer to repo %d: %w", r, err)
						break
					}
				}
			}
		}()
	}
	for r := 0; r < gcRepos; r++ {
		next <- r
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// check fails unless the blob data keys under blobs are exactly the
// referenced blobs.
func (c *gcContent) check(b *testing.B, keys []string, blobs string) {
	b.Helper()
	var extra, missing []string
	have := map[string]bool{}
	for _, k := range keys {
		rel, ok := strings.CutSuffix(strings.TrimPrefix(k, blobs), "/data")
		if !ok {
			continue
		}
		parts := strings.Split(rel, "/") // sha256/xx/<hex>
		if len(parts) != 3 {
			continue
		}
		d := parts[0] + ":" + parts[2]
		have[d] = true
		if !c.referenced[d] {
			extra = append(extra, d)
		}
	}
	for d := range c.referenced {
		if !have[d] {
			missing = append(missing, d)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 || len(missing) > 0 {
		b.Fatalf("after garbage-collect the bucket holds %d blobs no image refers to (first: %v) and lacks %d that images refer to (first: %v)",
			len(extra), first(extra), len(missing), first(missing))
	}
}

func first(s []string) []string { return s[:min(len(s), 3)] }
