package ossio

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// BenchmarkTransfer compares ossio's parallel UploadFile and Download of a
// 256 MiB file with one SDK PutObject and one SDK GetObject of the same
// file to the same in-process server, with default part size (8 MiB) and
// concurrency (8). It reports each side's MB/s and ossio/SDK ratios.
//
//	go test -run '^$' -bench Transfer -benchtime 3x ./ossio/
//
// OSSIO_BENCH_LATENCY=20ms adds a per-request delay on the server, closer
// to a remote endpoint.
func BenchmarkTransfer(b *testing.B) {
	const size = 256 * mib
	srv := startServer(b, 0)
	if d, err := time.ParseDuration(os.Getenv("OSSIO_BENCH_LATENCY")); err == nil {
		srv.SetFaults(d, 0)
	}
	c := newTestClient(b, srv.Endpoint, func(cfg *Config) {
		cfg.PartSize, cfg.Concurrency, cfg.PutThreshold = 0, 0, 0 // defaults
	})
	sdk, err := oss.New(srv.Endpoint, testAK, testSK)
	if err != nil {
		b.Fatal(err)
	}
	bucket, err := sdk.Bucket(testBucket)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	src, _ := writeRandomFile(b, dir, size, 1)
	dst := filepath.Join(dir, "dst")
	ctx := context.Background()

	var tUp, tDown, tPut, tGet time.Duration
	timed := func(d *time.Duration, f func() error) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*d += time.Since(start)
	}
	b.SetBytes(4 * size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		timed(&tUp, func() error { _, err := c.UploadFile(ctx, "bench/ossio", src, UploadOptions{}); return err })
		timed(&tDown, func() error {
			f, err := os.Create(dst)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = c.Download(ctx, "bench/ossio", f)
			return err
		})
		timed(&tPut, func() error { return bucket.PutObjectFromFile("bench/sdk", src) })
		timed(&tGet, func() error {
			f, err := os.Create(dst)
			if err != nil {
				return err
			}
			defer f.Close()
			r, err := bucket.GetObject("bench/sdk")
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := io.Copy(f, r)
			if err == nil && n != size {
				err = fmt.Errorf("SDK GET: %d bytes", n)
			}
			return err
		})
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / 1e6 / d.Seconds() }
	b.ReportMetric(mbps(tUp), "ossio_up_MB/s")
	b.ReportMetric(mbps(tPut), "sdk_put_MB/s")
	b.ReportMetric(mbps(tDown), "ossio_down_MB/s")
	b.ReportMetric(mbps(tGet), "sdk_get_MB/s")
	b.ReportMetric(tPut.Seconds()/tUp.Seconds(), "up_ratio")
	b.ReportMetric(tGet.Seconds()/tDown.Seconds(), "down_ratio")
}
