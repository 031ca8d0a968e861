package bench

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

const (
	listingEntries = 10000
	listingWorkers = 32
	listingSize    = 100 // bytes per object
)

// BenchmarkListing puts 10,000 objects under one directory through the SDK,
// then runs the equivalent of `ls -l` on it through a fresh mount (ReadDir,
// then Lstat of every entry) and counts the OSS requests: one LIST page
// per 1000 entries and no HEAD are the target. It then remounts with the
// same cache directory, well within the stat TTL, and repeats: the target
// is no request at all. The requests the remount makes while starting are
// reported apart.
func BenchmarkListing(b *testing.B) {
	harness.RequireFUSE(b)
	srv := harness.StartServer(b, harness.ServerOptions{})
	bucket := srv.Bucket(b, harness.DefaultBucket)
	for i := 0; i < b.N; i++ {
		prefix := harness.UniquePrefix(b)
		putMany(b, bucket, prefix+"many/")

		m := harness.MountBucket(b, srv, harness.MountOptions{Prefix: prefix})
		srv.ResetStats(b)
		lsLong(b, m.Path("many"))
		cold := srv.Stats(b)
		rss := peakRSS(m.PID())
		m.Unmount(b)

		srv.ResetStats(b)
		again := harness.MountBucket(b, srv, harness.MountOptions{Prefix: prefix, CacheDir: m.CacheDir})
		startup := srv.Stats(b)
		srv.ResetStats(b)
		lsLong(b, again.Path("many"))
		warm := srv.Stats(b)
		rss = max(rss, peakRSS(again.PID()))
		again.Unmount(b)

		b.Logf("cold ls -l of %d entries: %s", listingEntries, cold)
		b.Logf("remount start: %s; ls -l after it: %s", startup, warm)
		b.ReportMetric(float64(cold.Count("ListObjects", "ListObjectsV2")), "cold-LISTs")
		b.ReportMetric(float64(cold.Count("HeadObject", "GetObjectMeta")), "cold-HEADs")
		b.ReportMetric(float64(total(cold)), "cold-requests")
		b.ReportMetric(float64(total(startup)), "remount-start-requests")
		b.ReportMetric(float64(total(warm)), "remount-ls-requests")
		if rss > 0 {
			b.ReportMetric(float64(rss)/(1<<20), "daemon-peak-RSS-MiB")
		}
	}
}

// putMany writes listingEntries objects of listingSize bytes under dir (a
// key prefix ending in "/"), listingWorkers at a time.
func putMany(b *testing.B, bucket *harness.Bucket, dir string) {
	b.Helper()
	putKeys(b, bucket, listingEntries, func(i int) string { return fmt.Sprintf("%sf%05d", dir, i) })
}

// putKeys writes n objects of listingSize bytes, object i at key(i),
// listingWorkers at a time.
func putKeys(b *testing.B, bucket *harness.Bucket, n int, key func(i int) string) {
	b.Helper()
	data := bytes.Repeat([]byte("x"), listingSize)
	keys := make(chan string)
	errs := make(chan error, listingWorkers)
	var wg sync.WaitGroup
	for w := 0; w < listingWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				if err := bucket.PutObject(k, bytes.NewReader(data)); err != nil {
					errs <- fmt.Errorf("put %q: %w", k, err)
					for range keys {
					}
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		keys <- key(i)
	}
	close(keys)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// lsLong is what `ls -l dir` asks of the file system: the entries, then
// the attributes of each. It fails unless it sees every object at its size.
func lsLong(b *testing.B, dir string) {
	b.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatalf("readdir %s: %v", dir, err)
	}
	if len(entries) != listingEntries {
		b.Fatalf("readdir %s: %d entries, want %d", dir, len(entries), listingEntries)
	}
	for _, e := range entries {
		fi, err := os.Lstat(dir + "/" + e.Name())
		if err != nil {
			b.Fatalf("lstat: %v", err)
		}
		if !fi.Mode().IsRegular() || fi.Size() != listingSize {
			b.Fatalf("%s: mode %v size %d, want a regular file of %d bytes", e.Name(), fi.Mode(), fi.Size(), listingSize)
		}
	}
}
