package ossio

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossio/ossserver"
)

// Helpers for tests against the in-process OSS-compatible server.

const (
	testAK     = "test-access-key"
	testSK     = "test-secret-key-do-not-log"
	testBucket = "ossio-test"
	mib        = 1 << 20
)

func startServer(t testing.TB, faultRate float64) *ossserver.Running {
	t.Helper()
	srv, err := ossserver.Start(ossserver.Config{
		AccessKeyID: testAK, AccessKeySecret: testSK, Buckets: []string{testBucket},
		FaultRate: faultRate, Seed: 42,
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// newTestClient returns a client with small parts and fast retries, so
// that multipart paths and backoff are cheap to exercise.
func newTestClient(t testing.TB, endpoint string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Endpoint: endpoint, AccessKeyID: testAK, AccessKeySecret: testSK, Bucket: testBucket,
		PartSize: mib, Concurrency: 4, RetryBase: time.Millisecond, RetryMax: 20 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeRandomFile writes size pseudo-random bytes (seeded) to a new file
// in dir and returns its path and CRC-64.
func writeRandomFile(t testing.TB, dir string, size int64, seed uint64) (string, uint64) {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("src-%d-%d", size, seed))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := crc64.New(crcTable)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 7})
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rng, size)); err != nil {
		t.Fatal(err)
	}
	return path, h.Sum64()
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 9})
	rng.Read(b)
	return b
}

// sameContent compares r with the bytes of path from off, n bytes.
func sameContent(t testing.TB, what string, r io.Reader, path string, off, n int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := io.NewSectionReader(f, off, n)
	a, b := make([]byte, 256<<10), make([]byte, 256<<10)
	var pos int64
	for {
		na, ea := io.ReadFull(r, a)
		nb, eb := io.ReadFull(want, b)
		if !bytes.Equal(a[:na], b[:nb]) {
			i := 0
			for i < min(na, nb) && a[i] == b[i] {
				i++
			}
			t.Fatalf("%s: first difference at byte %d (got %d bytes in this chunk, want %d; read err %v)", what, pos+int64(i), na, nb, ea)
		}
		pos += int64(na)
		if ea != nil || eb != nil {
			if (ea == nil) != (eb == nil) || (ea != io.EOF && ea != io.ErrUnexpectedEOF) {
				t.Fatalf("%s: at %d: got err %v, want err %v", what, pos, ea, eb)
			}
			return
		}
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
