package bench

import (
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
	"github.com/ossmount/ossmount/test/registry"
)

// BenchmarkRegistryPushPull pushes the same images with go-containerregistry
// to the same registry binary rooted (a) on a local directory and (b) on a
// mount with default flags, then pulls them twice from each (the second
// pull is the warm one), then once more from a fresh mount with an empty
// cache (cold). It reports time ratios mount/local, the OSS requests and
// bytes a push costs, and the daemon's peak RSS. Every pulled byte is
// hashed against the pushed digests.
func BenchmarkRegistryPushPull(b *testing.B) {
	harness.RequireFUSE(b)
	set := newImageSet(b)
	for i := 0; i < b.N; i++ {
		local := registry.Start(b, registry.Options{Root: b.TempDir()})
		localPush := set.push(b, local.Addr)
		localPull := set.pull(b, local.Addr)
		localWarm := set.pull(b, local.Addr)
		local.NoErrors(b)
		local.Stop(b)

		srv := harness.StartServer(b, harness.ServerOptions{})
		m := harness.MountBucket(b, srv, harness.MountOptions{})
		reg := registry.Start(b, registry.Options{Root: m.Dir})
		srv.ResetStats(b)
		mountPush := set.push(b, reg.Addr)
		// The push answered once its data was in OSS; what follows (upload
		// directories removed, markers) is part of its cost too.
		pushStats := registry.WaitQuiet(b, srv)
		srv.ResetStats(b)
		mountPull := set.pull(b, reg.Addr)
		mountWarm := set.pull(b, reg.Addr)
		warmStats := srv.Stats(b)
		reg.NoErrors(b)
		reg.Stop(b)
		rss := peakRSS(m.PID())
		m.Unmount(b)

		// Cold: a new mount of the same prefix with an empty cache directory.
		cold := harness.MountBucket(b, srv, harness.MountOptions{Prefix: m.Prefix})
		coldReg := registry.Start(b, registry.Options{Root: cold.Dir})
		srv.ResetStats(b)
		mountCold := set.pull(b, coldReg.Addr)
		coldStats := srv.Stats(b)
		coldReg.NoErrors(b)
		coldReg.Stop(b)
		rss = max(rss, peakRSS(cold.PID()))
		cold.Unmount(b)

		reqs, n := registry.Requests(pushStats)
		b.Logf("push of %d images (%d blobs, %d B): %d OSS requests (%s); received %d B, copied %d B",
			len(set.images), set.blobs, set.bytes, n, reqs, pushStats.BytesReceived, pushStats.BytesCopied)
		reqs, _ = registry.Requests(warmStats)
		b.Logf("two pulls after the push: OSS requests %s", reqs)
		reqs, _ = registry.Requests(coldStats)
		b.Logf("cold pull: OSS requests %s; sent %d B", reqs, coldStats.BytesSent)
		b.Logf("local: push %v, pull %v, warm pull %v; mount: push %v, pull %v, warm pull %v, cold pull %v",
			round(localPush), round(localPull), round(localWarm), round(mountPush), round(mountPull), round(mountWarm), round(mountCold))

		b.ReportMetric(mountPush.Seconds()/localPush.Seconds(), "push-ratio")
		b.ReportMetric(mountWarm.Seconds()/localWarm.Seconds(), "warm-pull-ratio")
		b.ReportMetric(mountPull.Seconds()/localPull.Seconds(), "first-pull-ratio")
		b.ReportMetric(mountCold.Seconds()/localPull.Seconds(), "cold-pull-ratio")
		b.ReportMetric(float64(n)/float64(set.blobs), "push-requests/blob")
		b.ReportMetric(float64(pushStats.BytesReceived)/float64(set.bytes), "push-bytes-ratio")
		b.ReportMetric(float64(pushStats.BytesCopied), "push-bytes-copied")
		b.ReportMetric(float64(total(warmStats)), "warm-pull-requests")
		b.ReportMetric(float64(coldStats.BytesSent)/float64(set.bytes), "cold-pull-bytes-ratio")
		if rss > 0 {
			b.ReportMetric(float64(rss)/(1<<20), "daemon-peak-RSS-MiB")
		}
	}
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
