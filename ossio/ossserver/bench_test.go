package ossserver

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// BenchmarkList10k lists a bucket of 10,000 keys in pages of 1000.
func BenchmarkList10k(b *testing.B) {
	t := &testing.T{}
	srv, err := Start(Config{AccessKeyID: testAK, AccessKeySecret: testSecret, Buckets: []string{testBucket}}, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.mu.Lock()
	bk := srv.buckets[testBucket]
	for i := range 10000 {
		bk.setObject(&object{Key: fmt.Sprintf("d%02d/k%05d", i%37, i), Type: typeNormal, ETag: `"X"`, Modified: now()})
	}
	srv.mu.Unlock()
	bucket := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	b.ResetTimer()
	for range b.N {
		marker := ""
		for {
			res, err := bucket.ListObjects(oss.MaxKeys(1000), oss.Marker(marker))
			if err != nil {
				b.Fatal(err)
			}
			if !res.IsTruncated {
				break
			}
			marker = res.NextMarker
		}
	}
}

// BenchmarkPutGet200MiB moves one 200 MiB object each way.
func BenchmarkPutGet200MiB(b *testing.B) {
	for _, be := range []string{"mem", "dir"} {
		b.Run(be, func(b *testing.B) {
			cfg := Config{AccessKeyID: testAK, AccessKeySecret: testSecret, Buckets: []string{testBucket}}
			if be == "dir" {
				cfg.Root = b.TempDir()
			}
			srv, err := Start(cfg, "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			t := &testing.T{}
			bucket := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
			data := pattern(200<<20, 1)
			b.SetBytes(int64(2 * len(data)))
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if err := bucket.PutObject("big", bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				put := time.Since(start)
				rc, err := bucket.GetObject("big")
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, rc)
				rc.Close()
				if n != int64(len(data)) {
					b.Fatalf("got %d bytes", n)
				}
				b.ReportMetric(float64(put.Milliseconds()), "put-ms")
			}
		})
	}
}
