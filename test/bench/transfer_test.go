// Package bench measures the mount against baselines run in the same
// process on the same server: the SDK's own parallel transfers. It reports
// ratios and request counts, never a bare time, and asserts nothing about
// speed (the machines are shared and noisy).
//
//	cd test && go test -run '^$' -bench . -benchtime 1x ./bench/
//	OSSMOUNT_BENCH_MIB=1024 ... for the 1 GiB figure of DESIGN.md
package bench

import (
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossmount/ossmount/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

func benchSize() int64 {
	mib, err := strconv.Atoi(os.Getenv("OSSMOUNT_BENCH_MIB"))
	if err != nil || mib <= 0 {
		mib = 256
	}
	return int64(mib) << 20
}

// BenchmarkSequentialTransfer writes a file through the mount until a
// directory fsync says it is in OSS, then reads it back cold through a
// fresh mount, and compares both with the SDK's parallel UploadFile and
// DownloadFile of the same bytes against the same server.
func BenchmarkSequentialTransfer(b *testing.B) {
	size := benchSize()
	src := filepath.Join(b.TempDir(), "src")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	srv := harness.StartServer(b, harness.ServerOptions{})
	bucket := srv.Bucket(b, harness.DefaultBucket)
	mb := float64(size) / 1e6
	for i := 0; i < b.N; i++ {
		// Baseline: the SDK's own parallel transfer, 8 MiB parts, 8 at once.
		start := time.Now()
		if err := bucket.UploadFile("sdk/"+strconv.Itoa(i), src, 8<<20, oss.Routines(8)); err != nil {
			b.Fatal(err)
		}
		sdkUp := time.Since(start)
		dst := filepath.Join(b.TempDir(), "sdk-down")
		start = time.Now()
		if err := bucket.DownloadFile("sdk/"+strconv.Itoa(i), dst, 8<<20, oss.Routines(8)); err != nil {
			b.Fatal(err)
		}
		sdkDown := time.Since(start)

		m := harness.MountBucket(b, srv, harness.MountOptions{Args: []string{"--upload-delay=0s"}})
		srv.ResetStats(b)
		start = time.Now()
		copyFile(b, src, m.Path("f"))
		harness.FsyncDir(b, m.Dir)
		mountUp := time.Since(start)
		upStats := srv.Stats(b)
		m.Unmount(b)

		cold := harness.MountBucket(b, srv, harness.MountOptions{Prefix: m.Prefix})
		srv.ResetStats(b)
		start = time.Now()
		n := readAll(b, cold.Path("f"))
		mountDown := time.Since(start)
		downStats := srv.Stats(b)
		if n != size {
			b.Fatalf("read %d bytes back, want %d", n, size)
		}
		rss := peakRSS(cold.PID())
		cold.Unmount(b)

		b.ReportMetric(mb/sdkUp.Seconds(), "sdk-up-MB/s")
		b.ReportMetric(mb/mountUp.Seconds(), "mount-up-MB/s")
		b.ReportMetric(sdkUp.Seconds()/mountUp.Seconds(), "up-ratio")
		b.ReportMetric(mb/sdkDown.Seconds(), "sdk-down-MB/s")
		b.ReportMetric(mb/mountDown.Seconds(), "mount-down-MB/s")
		b.ReportMetric(sdkDown.Seconds()/mountDown.Seconds(), "down-ratio")
		b.ReportMetric(float64(upStats.BytesReceived)/float64(size), "up-bytes-ratio")
		b.ReportMetric(float64(downStats.BytesSent)/float64(size), "down-bytes-ratio")
		b.ReportMetric(float64(total(upStats)), "up-requests")
		b.ReportMetric(float64(total(downStats)), "down-requests")
		if rss > 0 {
			b.ReportMetric(float64(rss)/(1<<20), "daemon-peak-RSS-MiB")
		}
	}
}

func copyFile(b *testing.B, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyBuffer(out, in, make([]byte, 1<<20)); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

func readAll(b *testing.B, p string) int64 {
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// peakRSS is the daemon's high-water resident set (VmHWM), in bytes. It
// counts the pages of Badger's memory-mapped tables the daemon touched
// (page cache the kernel reclaims at will); anonRSS counts memory alone.
func peakRSS(pid int) int64 { return procStatus(pid, "VmHWM:") }

// anonRSS is the daemon's anonymous resident memory now (RssAnon), in bytes.
func anonRSS(pid int) int64 { return procStatus(pid, "RssAnon:") }

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func total(st harness.Stats) int64 {
	var n int64
	for _, v := range st.Requests {
		n += v
	}
	return n
}
