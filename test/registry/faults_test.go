package registry

import (
	"fmt"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ossmount/ossmount/test/harness"
)

// TestPushPullUnderFaults: with one OSS request in ten answered 500/503 or
// cut mid-body, and added latency, pushes and pulls of 20 images through a
// registry on the mount succeed with every digest right: the mount's retries
// absorb the faults, and nothing truncated or partial reaches the registry.
func TestPushPullUnderFaults(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{FaultRate: 0.1, Latency: 5 * time.Millisecond})
	m := harness.MountBucket(t, srv, harness.MountOptions{})
	reg := Start(t, Options{Root: m.Dir})
	imgs := map[string]v1.Image{}
	for i := range 20 {
		ref := fmt.Sprintf("faulty/app%d:v1", i%4)
		if i >= 4 {
			ref = fmt.Sprintf("faulty/app%d:v%d", i%4, i)
		}
		img := image(t, "", layer(uint64(900+i), 64<<10+i*4096), layer(uint64(950+i), 1<<10))
		pushImage(t, reg, ref, img)
		verifyImage(t, reg, ref, img)
		imgs[ref] = img
	}
	var n int64
	for _, v := range srv.Stats(t).Requests {
		n += v
	}
	t.Logf("20 images pushed and pulled through %d OSS requests at a 10%% fault rate", n)
	// A cold second registry process on a fresh mount of the same prefix
	// reads everything back from OSS, faults and all.
	reg.NoErrors(t)
	reg.Stop(t)
	m.Unmount(t)
	fresh := harness.MountBucket(t, srv, harness.MountOptions{Prefix: m.Prefix})
	reg2 := Start(t, Options{Root: fresh.Dir})
	for ref, img := range imgs {
		verifyImage(t, reg2, ref, img)
	}
	reg2.NoErrors(t)
}
