package e2e

import (
	"bytes"
	"os"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

func TestSmoke(t *testing.T) {
	srv := harness.StartServer(t, harness.ServerOptions{})
	m := harness.MountBucket(t, srv, harness.MountOptions{})
	want := []byte("hello")
	harness.WriteFileSync(t, m.Path("a"), want)
	got, err := os.ReadFile(m.Path("a"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back: %q, %v", got, err)
	}
	harness.FsyncDir(t, m.Dir)
	b := srv.Bucket(t, m.Bucket)
	if data, ok := b.Get(t, m.Key("a")); !ok || !bytes.Equal(data, want) {
		t.Fatalf("object %s: %q ok=%v; keys %v", m.Key("a"), data, ok, b.Keys(t, ""))
	}
}
