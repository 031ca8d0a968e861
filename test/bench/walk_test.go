package bench

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// BenchmarkWalk puts a registry-shaped tree straight into the bucket
// (OSSMOUNT_WALK_OBJECTS objects, default 100,000, ten to a directory:
// blobs/sha256/xx/<digest>/data plus nine siblings), then walks it cold
// through a fresh mount as `du` does (every directory listed, every entry
// stat'ed), again on the same mount, and again after a remount with the
// same cache directory within the stat TTL (OSSMOUNT_WALK_ARGS adds mount
// flags), at 0 and 10 ms of server latency. It reports the requests of
// each walk and its time against the same walk of the same tree on the
// local disk: the targets are at most 1.2 LISTs per 1,000 objects and no
// HEAD cold, and no request at all warm or after the remount.
func BenchmarkWalk(b *testing.B) {
	harness.RequireFUSE(b)
	objects := 100000
	if v, err := strconv.Atoi(os.Getenv("OSSMOUNT_WALK_OBJECTS")); err == nil && v > 0 {
		objects = v
	}
	// The same tree on the local disk, walked the same way: the baseline.
	local := b.TempDir()
	for i := 0; i < objects; i++ {
		p := filepath.Join(local, treeKey(i))
		if i%10 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	du(b, local)
	localTime := time.Since(start)
	for _, latency := range []time.Duration{0, 10 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", latency), func(b *testing.B) { walk(b, objects, latency, localTime) })
	}
}

func walk(b *testing.B, objects int, latency, localTime time.Duration) {
	srv := harness.StartServer(b, harness.ServerOptions{Latency: latency})
	bucket := srv.Bucket(b, harness.DefaultBucket)
	for i := 0; i < b.N; i++ {
		prefix := harness.UniquePrefix(b)
		start := time.Now()
		putTree(b, bucket, prefix, objects)
		b.Logf("put %d objects in %v", objects, time.Since(start).Round(time.Second))

		// OSSMOUNT_WALK_ARGS: e.g. "--kernel-files=20000".
		args := append([]string{"--stat-ttl=1h"}, strings.Fields(os.Getenv("OSSMOUNT_WALK_ARGS"))...)
		life := time.Hour // a million-object walk outlasts the default 10 minutes
		m := harness.MountBucket(b, srv, harness.MountOptions{Prefix: prefix, Args: args, Timeout: life})
		srv.ResetStats(b)
		start = time.Now()
		files, dirs := du(b, m.Dir)
		coldTime := time.Since(start)
		anon := anonRSS(m.PID())
		cold := srv.Stats(b)
		if files != objects {
			b.Fatalf("the walk found %d files, want %d", files, objects)
		}
		srv.ResetStats(b)
		start = time.Now()
		du(b, m.Dir)
		warmTime := time.Since(start)
		warm := srv.Stats(b)
		rss, anon := peakRSS(m.PID()), max(anon, anonRSS(m.PID()))
		m.Unmount(b)

		again := harness.MountBucket(b, srv, harness.MountOptions{Prefix: prefix, CacheDir: m.CacheDir, Args: args, Timeout: life})
		srv.ResetStats(b)
		start = time.Now()
		du(b, again.Dir)
		remountTime := time.Since(start)
		remount := srv.Stats(b)
		rss, anon = max(rss, peakRSS(again.PID())), max(anon, anonRSS(again.PID()))
		again.Unmount(b)

		cacheBytes := dirSize(b, m.CacheDir)
		ratio := func(d time.Duration) float64 { return float64(d) / float64(localTime) }
		b.Logf("%d objects in %d directories, server latency %v; the local directory's walk %v", objects, dirs, latency, localTime.Round(time.Millisecond))
		b.Logf("cold walk %v (%.1fx local): %s; cache dir %d MiB", coldTime.Round(time.Millisecond), ratio(coldTime), cold, cacheBytes>>20)
		b.Logf("warm walk %v (%.1fx): %s; after a remount %v (%.1fx): %s", warmTime.Round(time.Millisecond), ratio(warmTime), warm,
			remountTime.Round(time.Millisecond), ratio(remountTime), remount)
		lists := cold.Count("ListObjects", "ListObjectsV2")
		b.ReportMetric(float64(lists), "cold-LISTs")
		b.ReportMetric(float64(lists)/(float64(objects)/1000), "cold-LISTs-per-1000-objects")
		b.ReportMetric(float64(cold.Count("HeadObject", "GetObjectMeta")), "cold-HEADs")
		b.ReportMetric(float64(total(warm)), "warm-requests")
		b.ReportMetric(float64(total(remount)), "remount-requests")
		b.ReportMetric(ratio(coldTime), "cold/local")
		b.ReportMetric(ratio(warmTime), "warm/local")
		b.ReportMetric(float64(cacheBytes)/(1<<20), "cache-dir-MiB")
		if rss > 0 {
			b.ReportMetric(float64(rss)/(1<<20), "daemon-peak-RSS-MiB")
			b.ReportMetric(float64(anon)/(1<<20), "daemon-anon-RSS-after-walks-MiB")
		}
	}
}

// putTree writes objects small objects under prefix, ten to a directory,
// in directories spread over 256 "xx" parents as a registry's blobs are.
func putTree(b *testing.B, bucket *harness.Bucket, prefix string, objects int) {
	b.Helper()
	putKeys(b, bucket, objects, func(i int) string { return prefix + treeKey(i) })
}

// treeKey is the i-th object's path in the tree.
func treeKey(i int) string {
	d := i / 10
	return fmt.Sprintf("blobs/sha256/%02x/%064x/f%d", d%256, d, i%10)
}

// du walks root as du does and counts its files and directories.
func du(b *testing.B, root string) (files, dirs int) {
	b.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, err := os.Lstat(p); err != nil {
			return err
		}
		if d.IsDir() {
			dirs++
		} else {
			files++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return files, dirs
}

// dirSize is the bytes of the files under dir.
func dirSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
