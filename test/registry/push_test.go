package registry

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ossmount/ossmount/test/harness"
)

// pushMethod is how one blob reaches the registry.
type pushMethod int

const (
	monolithicPUT pushMethod = iota // POST, then one PUT with all the bytes
	singlePATCH                     // go-containerregistry: POST, one PATCH, empty PUT
	chunkedPATCH                    // POST, several PATCHes, empty PUT
)

func (m pushMethod) String() string {
	return [...]string{"PUT", "PATCH", "chunked"}[m]
}

// blobCase is one blob pushed on its own, with the OSS traffic it caused.
type blobCase struct {
	name   string
	size   int
	method pushMethod
	chunks int           // chunkedPATCH only
	pause  time.Duration // between chunks: a slow client
}

// TestPushPull pushes blobs of 0 bytes to 256 MiB one at a time, in one
// request and in chunks, then images, a two-platform index, a
// cross-repository mount and a retag, and pulls everything back by tag, by
// digest and by byte range, hashing every pulled byte. Around each push it
// reads the OSS server's counters: a blob sent in one request must be
// uploaded once (bytes received ≤ 1.02 × its size, nothing copied
// server-side); the requests per blob are logged.
func TestPushPull(t *testing.T) {
	e := newRegEnv(t, harness.MountOptions{})
	const repoBig, repoOther, repoMulti = "push/big", "push/other", "push/multi"

	cases := []blobCase{
		{name: "0B", size: 0, method: monolithicPUT},
		{name: "1KiB", size: 1 << 10, method: singlePATCH},
		{name: "5MiB", size: 5 << 20, method: monolithicPUT},
		{name: "64MiB", size: 64 << 20, method: singlePATCH},
		{name: "256MiB", size: 256 << 20, method: monolithicPUT},
		{name: "12MiB/3", size: 12 << 20, method: chunkedPATCH, chunks: 3},
		// Longer than the mount's upload delay between chunks: the partial
		// upload file is closed long enough to be scheduled for upload.
		{name: "3MiB/2-slow", size: 3 << 20, method: chunkedPATCH, chunks: 2, pause: 2 * time.Second},
	}
	layers := make([][]byte, len(cases))
	var pushed, received int64
	for i, bc := range cases {
		layers[i] = harness.RandomBytes(uint64(100+i), bc.size)
		e.srv.ResetStats(t)
		var dgst string
		var err error
		switch bc.method {
		case monolithicPUT:
			dgst, err = e.c.PushMonolithic(repoBig, layers[i])
		case singlePATCH:
			l := layer(uint64(100+i), bc.size)
			dgst = digestOf(t, l)
			err = remote.WriteLayer(repo(t, e.reg, repoBig), l)
		case chunkedPATCH:
			dgst, err = e.c.PushChunked(repoBig, layers[i], bc.chunks, bc.pause)
		}
		if err != nil {
			t.Fatalf("push blob %s (%s): %v", bc.name, bc.method, err)
		}
		if dgst != Digest(layers[i]) {
			t.Fatalf("blob %s: pushed as %s, want %s", bc.name, dgst, Digest(layers[i]))
		}
		st := WaitQuiet(t, e.srv)
		reqs, n := Requests(st)
		t.Logf("blob %-11s %-7s: %3d OSS requests (%s); received %d B (%.4f×), copied %d B",
			bc.name, bc.method, n, reqs, st.BytesReceived, ratio(st.BytesReceived, int64(bc.size)), st.BytesCopied)
		pushed += int64(bc.size)
		received += st.BytesReceived
		if bc.method == chunkedPATCH {
			continue // reported, not bounded: a slow client's parts may be uploaded twice
		}
		if st.BytesCopied != 0 {
			t.Errorf("blob %s sent in one %s: %d bytes copied server-side, want 0 (%s)", bc.name, bc.method, st.BytesCopied, st)
		}
		// Small blobs are dominated by the 71-byte link file written with
		// them; the 1.02 bound is for the blob's own bytes.
		if bc.size >= 1<<20 && float64(st.BytesReceived) > 1.02*float64(bc.size) {
			t.Errorf("blob %s sent in one %s: OSS received %d bytes for %d pushed (%.4f×, want ≤ 1.02×)",
				bc.name, bc.method, st.BytesReceived, bc.size, ratio(st.BytesReceived, int64(bc.size)))
		}
	}

	// An image of all those blobs: only its config and manifest are new.
	var big []int
	for i := range cases {
		big = append(big, i)
	}
	imgBig := image(t, "", staticLayers(layers, big...)...)
	e.srv.ResetStats(t)
	pushImage(t, e.reg, repoBig+":v1", imgBig)
	st := WaitQuiet(t, e.srv)
	reqs, n := Requests(st)
	mf, _ := imgBig.RawManifest()
	cfg, _ := imgBig.RawConfigFile()
	t.Logf("image config+manifest (%d B): %d OSS requests (%s); received %d B", len(mf)+len(cfg), n, reqs, st.BytesReceived)
	pushed += int64(len(mf) + len(cfg))
	received += st.BytesReceived

	// A cross-repository mount writes a link, never the blob again.
	e.srv.ResetStats(t)
	if err := e.c.Mount(repoOther, repoBig, Digest(layers[3])); err != nil {
		t.Fatalf("mount blob into %s: %v", repoOther, err)
	}
	st = WaitQuiet(t, e.srv)
	reqs, n = Requests(st)
	t.Logf("cross-repository mount of the 64 MiB blob: %d OSS requests (%s); received %d B, copied %d B", n, reqs, st.BytesReceived, st.BytesCopied)
	if st.BytesReceived > 4096 || st.BytesCopied != 0 {
		t.Errorf("a cross-repository mount moved blob bytes: %s", st)
	}
	imgOther := image(t, "", layer(200, 2<<20), staticLayers(layers, 3)[0])
	pushImage(t, e.reg, repoOther+":latest", imgOther)

	// Two platforms in one index.
	e.srv.ResetStats(t)
	idx := index(t, map[string]v1Image{
		"linux/amd64": image(t, "linux/amd64", layer(300, 1<<20)),
		"linux/arm64": image(t, "linux/arm64", layer(301, 1<<20), layer(302, 3<<10)),
	})
	pushIndex(t, e.reg, repoMulti+":latest", idx)
	st = WaitQuiet(t, e.srv)
	reqs, n = Requests(st)
	t.Logf("two-platform index (3 layers, 2 configs, 3 manifests): %d OSS requests (%s); received %d B", n, reqs, st.BytesReceived)

	// Retag: the tag's current/link is overwritten.
	imgA := image(t, "", layer(400, 4<<10))
	imgB := image(t, "", layer(401, 8<<10))
	pushImage(t, e.reg, repoBig+":latest", imgA)
	pushImage(t, e.reg, repoBig+":latest", imgB)

	t.Logf("all single blobs and the big image: OSS received %d B for %d B pushed (%.4f×)", received, pushed, ratio(received, pushed))
	if float64(received) > 1.02*float64(pushed) {
		t.Errorf("OSS received %d bytes for %d pushed (%.4f×, want ≤ 1.02×)", received, pushed, ratio(received, pushed))
	}

	// Pull everything back, by tag and by digest.
	verifyImage(t, e.reg, repoBig+":v1", imgBig)
	verifyImage(t, e.reg, repoBig+"@"+digestOf(t, imgBig), imgBig)
	verifyImage(t, e.reg, repoOther+":latest", imgOther)
	verifyIndex(t, e.reg, repoMulti+":latest", idx)
	verifyIndex(t, e.reg, repoMulti+"@"+digestOf(t, idx), idx)
	verifyImage(t, e.reg, repoBig+":latest", imgB)
	verifyImage(t, e.reg, repoBig+"@"+digestOf(t, imgA), imgA)
	for i, bc := range cases {
		got, err := e.c.GetBlob(repoBig, Digest(layers[i]))
		if err != nil {
			t.Fatalf("GET blob %s: %v", bc.name, err)
		}
		if !bytes.Equal(got, layers[i]) {
			t.Fatalf("GET blob %s: %d bytes with digest %s, want %d bytes %s", bc.name, len(got), Digest(got), bc.size, Digest(layers[i]))
		}
	}

	e.reg.NoErrors(t)

	// Range GETs, across the mount's 8 MiB part boundaries and at the ends.
	ranges := []struct {
		blob       int
		first, end int // inclusive first, exclusive end
		header     string
	}{
		{3, 0, 1, "bytes=0-0"},
		{3, 1000, 2000, "bytes=1000-1999"},
		{3, 8<<20 - 10, 8<<20 + 10, fmt.Sprintf("bytes=%d-%d", 8<<20-10, 8<<20+9)},
		{3, 64<<20 - 100, 64 << 20, "bytes=-100"},
		{3, 64<<20 - 1, 64 << 20, fmt.Sprintf("bytes=%d-", 64<<20-1)},
		{4, 100 << 20, 180 << 20, fmt.Sprintf("bytes=%d-%d", 100<<20, 180<<20-1)},
		{4, 256<<20 - 5000, 256 << 20, fmt.Sprintf("bytes=%d-", 256<<20-5000)},
		{5, 4<<20 - 1, 4<<20 + 1, fmt.Sprintf("bytes=%d-%d", 4<<20-1, 4<<20)},
	}
	for _, r := range ranges {
		got, cr, err := e.c.GetBlobRange(repoBig, Digest(layers[r.blob]), r.header)
		if err != nil {
			t.Fatalf("blob %s %s: %v", cases[r.blob].name, r.header, err)
		}
		want := layers[r.blob][r.first:r.end]
		if !bytes.Equal(got, want) {
			t.Fatalf("blob %s %s: %d bytes (digest %s), want %d bytes (digest %s)", cases[r.blob].name, r.header, len(got), Digest(got), len(want), Digest(want))
		}
		if wantCR := fmt.Sprintf("bytes %d-%d/%d", r.first, r.end-1, len(layers[r.blob])); cr != wantCR {
			t.Errorf("blob %s %s: Content-Range %q, want %q", cases[r.blob].name, r.header, cr, wantCR)
		}
	}
	e.reg.NoErrors(t)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
