package harness

import (
	"math/rand/v2"
	"os"
	"testing"
)

// FsyncDir opens a directory and fsyncs it: on ossmount, a barrier that
// returns once earlier renames and the directory's entries are in OSS.
func FsyncDir(t testing.TB, dir string) {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatalf("open dir %s: %v", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync dir %s: %v", dir, err)
	}
}

// RandomBytes returns n reproducible pseudo-random bytes.
func RandomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// WriteFileSync writes a file and fsyncs it before closing.
func WriteFileSync(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		t.Fatalf("write %s: %v", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		t.Fatalf("fsync %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
}
