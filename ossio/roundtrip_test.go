package ossio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// roundTripSizes covers empty, tiny, every part boundary ±1 around the
// 1 MiB parts of the test client, a few MiB at random, and (unless -short)
// one large object.
func roundTripSizes(large bool, seed uint64) []int64 {
	sizes := []int64{0, 1, 2, 1000, mib - 1, mib, mib + 1, 2*mib - 1, 2 * mib, 2*mib + 1, 3*mib + 17}
	rng := rand.New(rand.NewPCG(seed, 1))
	for range 3 {
		sizes = append(sizes, rng.Int64N(8*mib)+1)
	}
	if large {
		sizes = append(sizes, 200*mib+rng.Int64N(mib))
	}
	return sizes
}

// roundTrip uploads a random file of size, then checks Head, Download and
// a few GetRange reads against it byte for byte.
func roundTrip(t *testing.T, c *Client, dir string, size int64, seed uint64) {
	ctx := ctxT(t)
	src, crc := writeRandomFile(t, dir, size, seed)
	defer os.Remove(src)
	key := fmt.Sprintf("rt/%d/obj-%d", seed, size)
	started := false
	o, err := c.UploadFile(ctx, key, src, UploadOptions{
		Meta:    map[string]string{"mode": "0644"},
		OnStart: func(string) { started = true },
	})
	if err != nil {
		t.Fatalf("UploadFile %d: %v", size, err)
	}
	if multipart := size > c.cfg.PutThreshold; started != multipart {
		t.Errorf("size %d: OnStart called %v, want %v", size, started, multipart)
	}
	if o.Size != size || !o.HasCRC || o.CRC64 != crc {
		t.Errorf("UploadFile returned %+v, want size %d crc %d", o, size, crc)
	}
	h, err := c.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if h.Size != size || h.CRC64 != crc || h.Meta["mode"] != "0644" || h.ETag != o.ETag {
		t.Errorf("Head %+v, want size %d crc %d mode 0644 etag %s", h, size, crc, o.ETag)
	}

	dst := filepath.Join(dir, "dl")
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Download(ctx, key, f); err != nil {
		t.Fatalf("Download %d: %v", size, err)
	}
	f.Close()
	got, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := got.Stat(); st.Size() != size {
		t.Errorf("downloaded %d bytes, want %d", st.Size(), size)
	}
	sameContent(t, "Download", got, src, 0, size)
	got.Close()
	os.Remove(dst)

	rng := rand.New(rand.NewPCG(seed, uint64(size)))
	ranges := [][2]int64{{0, -1}, {0, size}}
	if size > 0 {
		off := rng.Int64N(size)
		ranges = append(ranges, [2]int64{off, -1}, [2]int64{off, rng.Int64N(size-off) + 1}, [2]int64{size - 1, 1000})
	}
	for _, rg := range ranges {
		r, err := c.GetRange(ctx, key, rg[0], rg[1])
		if err != nil {
			t.Fatalf("GetRange(%d, %d) of %d: %v", rg[0], rg[1], size, err)
		}
		n := size - rg[0]
		if rg[1] >= 0 {
			n = min(n, rg[1])
		}
		sameContent(t, fmt.Sprintf("GetRange(%d, %d) of %d", rg[0], rg[1], size), r, src, rg[0], n)
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	srv := startServer(t, 0)
	signers := []struct {
		name   string
		region string
	}{{"V1", ""}, {"V4", "cn-hangzhou"}}
	for i, sg := range signers {
		t.Run(sg.name, func(t *testing.T) {
			c := newTestClient(t, srv.Endpoint, func(cfg *Config) { cfg.Region = sg.region })
			dir := t.TempDir()
			// The large object goes once, with V1.
			for _, size := range roundTripSizes(i == 0 && !testing.Short(), uint64(i)) {
				t.Run(fmt.Sprint(size), func(t *testing.T) { roundTrip(t, c, dir, size, uint64(i)) })
			}
			if s := c.Stats(); s["UploadPart"].Calls == 0 || s["GetObject"].BytesDown == 0 || s["PutObject"].BytesUp == 0 {
				t.Errorf("stats do not show the traffic: %+v", s)
			}
		})
	}
}

// TestPutReaders checks Put from readers that can and cannot seek.
func TestPutReaders(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, nil)
	ctx := ctxT(t)
	data := randomBytes(300_000, 3)
	readers := map[string]io.Reader{
		"seeker":   bytes.NewReader(data),
		"plain":    io.MultiReader(bytes.NewReader(data)),
		"position": io.NewSectionReader(bytes.NewReader(append([]byte("skip"), data...)), 4, int64(len(data))),
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			o, err := c.Put(ctx, "put/"+name, r, int64(len(data)), map[string]string{"Who": name})
			if err != nil {
				t.Fatal(err)
			}
			if o.Size != int64(len(data)) || !o.HasCRC || o.ETag == "" {
				t.Errorf("Put returned %+v", o)
			}
			rc, err := c.GetRange(ctx, "put/"+name, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes (err %v), want %d equal bytes", len(got), err, len(data))
			}
			h, err := c.Head(ctx, "put/"+name)
			if err != nil || h.Meta["who"] != name {
				t.Errorf("Head meta %v (err %v), want who=%s", h.Meta, err, name)
			}
		})
	}
}

// TestPutUnseekableNotRetried: a large body that can be read only once is
// sent once; after a failure the error says why there was no retry.
func TestPutUnseekableNotRetried(t *testing.T) {
	srv := startServer(t, 1) // every request fails with 500 or 503
	c := newTestClient(t, srv.Endpoint, nil)
	data := randomBytes(maxBuffered+1, 4)
	_, err := c.Put(ctxT(t), "once", io.MultiReader(bytes.NewReader(data)), int64(len(data)), nil)
	if !errors.Is(err, errNoRewind) || IsRetryable(err) {
		t.Fatalf("got %v, want errNoRewind, not retryable", err)
	}
	if n := c.Stats()["PutObject"].Calls; n != 2 {
		t.Errorf("%d attempts, want 2 (the second refusing to resend)", n)
	}
}
