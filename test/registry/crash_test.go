package registry

import (
	"bytes"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// TestKillAfterPush: a push the registry acknowledged is in OSS. The mount
// is killed with SIGKILL right after the last push returns, its cache
// directory (journal and staging files) is thrown away, and a fresh mount
// of the same prefix with an empty cache serves every image bit-exact.
//
// The first mount delays uploads of closed files by a minute, so that
// nothing reaches OSS by the background schedule during the test: what is
// there got there because the registry's directory fsync demanded it.
func TestKillAfterPush(t *testing.T) {
	e := newRegEnv(t, harness.MountOptions{Foreground: true, Args: []string{"--upload-delay=1m"}})

	imgA := image(t, "", layer(500, 1<<10), layer(501, 5<<20), layer(502, 64<<20))
	pushImage(t, e.reg, "crash/app:a", imgA)
	pushImage(t, e.reg, "crash/app:v1", imgA)

	chunked := harness.RandomBytes(503, 6<<20+7)
	if _, err := e.c.PushChunked("crash/app", chunked, 3, 0); err != nil {
		t.Fatalf("chunked upload: %v", err)
	}
	imgC := image(t, "", staticLayers([][]byte{chunked}, 0)...)
	single := harness.RandomBytes(504, 3<<20)
	if _, err := e.c.PushMonolithic("crash/solo", single); err != nil {
		t.Fatalf("monolithic upload: %v", err)
	}
	idx := index(t, map[string]v1Image{
		"linux/amd64": image(t, "linux/amd64", layer(505, 1<<20)),
		"linux/arm64": image(t, "linux/arm64", layer(506, 2<<20)),
	})
	pushIndex(t, e.reg, "crash/multi:latest", idx)
	pushImage(t, e.reg, "crash/app:c", imgC)
	pushImage(t, e.reg, "crash/app:v1", imgC) // retag, the last push

	e.reg.NoErrors(t)
	e.m.Kill(t)
	e.reg.Stop(t)

	// Same prefix, new empty cache directory: only OSS remains.
	m2 := harness.MountBucket(t, e.srv, harness.MountOptions{Prefix: e.m.Prefix})
	reg2 := Start(t, Options{Root: m2.Dir})
	verifyImage(t, reg2, "crash/app:a", imgA)
	verifyImage(t, reg2, "crash/app@"+digestOf(t, imgA), imgA)
	verifyImage(t, reg2, "crash/app:c", imgC)
	verifyImage(t, reg2, "crash/app:v1", imgC)
	verifyIndex(t, reg2, "crash/multi:latest", idx)
	got, err := NewClient(reg2).GetBlob("crash/solo", Digest(single))
	if err != nil {
		t.Fatalf("blob pushed alone: %v", err)
	}
	if !bytes.Equal(got, single) {
		t.Fatalf("blob pushed alone: %d bytes %s, want %d bytes %s", len(got), Digest(got), len(single), Digest(single))
	}
	reg2.NoErrors(t)
}
