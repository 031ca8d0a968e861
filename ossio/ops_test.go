package ossio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"testing"
)

func TestCopy(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, func(cfg *Config) { cfg.CopyThreshold = 5 * mib; cfg.CopyPartSize = mib })
	ctx := ctxT(t)
	dir := t.TempDir()
	tests := []struct {
		name     string
		size     int64
		meta     map[string]string
		wantMeta map[string]string
		api      string // the copy API that must have been used
	}{
		{"small keep meta", 3*mib + 5, nil, map[string]string{"src": "1"}, "CopyObject"},
		{"small replace meta", 1000, map[string]string{"new": "2"}, map[string]string{"new": "2"}, "CopyObject"},
		{"at threshold", 5 * mib, nil, map[string]string{"src": "1"}, "CopyObject"},
		{"large keep meta", 12*mib + 3, nil, map[string]string{"src": "1"}, "UploadPartCopy"},
		{"large replace meta", 6 * mib, map[string]string{"new": "3"}, map[string]string{"new": "3"}, "UploadPartCopy"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, crc := writeRandomFile(t, dir, tt.size, uint64(100+i))
			srcKey, dstKey := fmt.Sprintf("cp/src %d", i), fmt.Sprintf("cp/dst/%d+x", i)
			if _, err := c.UploadFile(ctx, srcKey, src, UploadOptions{Meta: map[string]string{"src": "1"}}); err != nil {
				t.Fatal(err)
			}
			before := c.Stats()[tt.api].Calls
			o, err := c.Copy(ctx, srcKey, dstKey, tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			if c.Stats()[tt.api].Calls == before {
				t.Errorf("copy of %d bytes did not use %s: %+v", tt.size, tt.api, c.Stats())
			}
			h, err := c.Head(ctx, dstKey)
			if err != nil {
				t.Fatal(err)
			}
			if h.Size != tt.size || h.CRC64 != crc || o.CRC64 != crc || !maps.Equal(h.Meta, tt.wantMeta) || !maps.Equal(o.Meta, tt.wantMeta) {
				t.Errorf("copy: Head %+v, returned %+v; want size %d crc %d meta %v", h, o, tt.size, crc, tt.wantMeta)
			}
			r, err := c.GetRange(ctx, dstKey, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			sameContent(t, "copy", r, src, 0, tt.size)
			r.Close()
		})
	}
	if n := len(listUploads(t, c, "cp/")); n != 0 {
		t.Errorf("%d multipart uploads left behind", n)
	}
}

func TestSetMeta(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, nil)
	ctx := ctxT(t)
	data := randomBytes(5000, 1)
	o, err := c.Put(ctx, "meta/x", bytes.NewReader(data), int64(len(data)), map[string]string{"a": "1", "uid": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetMeta(ctx, "meta/x", map[string]string{"uid": "1000", "Mtime": "1700000000"}); err != nil {
		t.Fatal(err)
	}
	h, err := c.Head(ctx, "meta/x")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"uid": "1000", "mtime": "1700000000"}
	if !maps.Equal(h.Meta, want) || h.CRC64 != o.CRC64 || h.Size != o.Size {
		t.Errorf("after SetMeta: %+v, want meta %v and unchanged data", h, want)
	}
	if err := c.SetMeta(ctx, "meta/missing", want); !IsNotFound(err) {
		t.Errorf("SetMeta of a missing key: %v, want not found", err)
	}
}

// putMany stores keys with tiny bodies, in parallel.
func putMany(t *testing.T, c *Client, keys []string) {
	t.Helper()
	err := forEach(ctxT(t), len(keys), 8, func(ctx context.Context, i int) error {
		_, err := c.Put(ctx, keys[i], bytes.NewReader([]byte(keys[i])), int64(len(keys[i])), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func listAll(t *testing.T, c *Client, prefix, delim string) (objs, prefixes []string, pages int) {
	t.Helper()
	err := c.List(ctxT(t), prefix, delim, func(p Page) error {
		pages++
		for _, o := range p.Objects {
			objs = append(objs, o.Key)
		}
		prefixes = append(prefixes, p.Prefixes...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs, prefixes, pages
}

func TestDeleteMany(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, nil)
	var keys []string
	for i := range 2345 {
		keys = append(keys, fmt.Sprintf("del/%04d", i))
	}
	putMany(t, c, keys)
	putMany(t, c, []string{"keep/1"})
	if err := c.DeleteMany(ctxT(t), append(keys, "del/never-existed")); err != nil {
		t.Fatal(err)
	}
	if objs, _, _ := listAll(t, c, "del/", ""); len(objs) != 0 {
		t.Errorf("%d keys left after DeleteMany, e.g. %q", len(objs), objs[0])
	}
	if objs, _, _ := listAll(t, c, "keep/", ""); len(objs) != 1 {
		t.Errorf("DeleteMany removed a key it was not given")
	}
	if n := c.Stats()["DeleteMultipleObjects"].Calls; n != 3 {
		t.Errorf("%d DeleteMultipleObjects requests for 2346 keys, want 3", n)
	}
	if err := c.Delete(ctxT(t), "keep/1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctxT(t), "keep/1"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if _, err := c.Head(ctxT(t), "keep/1"); !IsNotFound(err) {
		t.Errorf("Head after Delete: %v, want not found", err)
	}
}

func TestListPagination(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, nil)
	var keys, dirs, top []string
	for d := range 25 {
		dir := fmt.Sprintf("l/d%02d/", d)
		dirs = append(dirs, dir)
		for f := range 100 {
			keys = append(keys, fmt.Sprintf("%sf%03d", dir, f))
		}
	}
	for _, name := range []string{"l/a b+c%d.txt", "l/f1", "l/f2", "l/zz\u00e9"} {
		top = append(top, name)
	}
	keys = append(keys, top...)
	keys = append(keys, "l/d00", "other/x") // a file next to the directory of the same name; a key outside
	top = append(top, "l/d00")
	putMany(t, c, keys)
	sort.Strings(top)

	objs, prefixes, pages := listAll(t, c, "l/", "")
	if len(objs) != len(keys)-1 || !sort.StringsAreSorted(objs) || pages != 3 {
		t.Errorf("flat listing: %d keys in %d pages (sorted %v), want %d in 3", len(objs), pages, sort.StringsAreSorted(objs), len(keys)-1)
	}
	if len(prefixes) != 0 {
		t.Errorf("flat listing gave prefixes %v", prefixes)
	}

	objs, prefixes, _ = listAll(t, c, "l/", "/")
	if !slices.Equal(objs, top) || !slices.Equal(prefixes, dirs) {
		t.Errorf("delimited listing: objects %q prefixes %q, want %q and %q", objs, prefixes, top, dirs)
	}

	// Small pages walk the same entries, prefixes counting toward max-keys.
	var gotObjs, gotPrefixes []string
	token, pages := "", 0
	for {
		p, err := c.ListPage(ctxT(t), "l/", "/", token, 7)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if n := len(p.Objects) + len(p.Prefixes); n > 7 {
			t.Fatalf("page of %d entries with max-keys 7", n)
		}
		for _, o := range p.Objects {
			gotObjs = append(gotObjs, o.Key)
			if o.Size != int64(len(o.Key)) || o.ETag == "" || o.LastModified.IsZero() {
				t.Errorf("listed %+v: size, etag or mtime wrong", o)
			}
		}
		gotPrefixes = append(gotPrefixes, p.Prefixes...)
		if p.NextToken == "" {
			break
		}
		token = p.NextToken
	}
	if !slices.Equal(gotObjs, top) || !slices.Equal(gotPrefixes, dirs) || pages != (len(top)+len(dirs)+6)/7 {
		t.Errorf("paged delimited listing: %q %q in %d pages", gotObjs, gotPrefixes, pages)
	}

	objs, _, _ = listAll(t, c, "l/d03/", "/")
	if len(objs) != 100 {
		t.Errorf("l/d03/ holds %d keys, want 100", len(objs))
	}
	if objs, prefixes, _ = listAll(t, c, "nothing/", "/"); len(objs)+len(prefixes) != 0 {
		t.Errorf("empty prefix listed %v %v", objs, prefixes)
	}
}

func listUploads(t *testing.T, c *Client, prefix string) []Upload {
	t.Helper()
	ups, err := c.ListUploads(ctxT(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return ups
}

func TestUploadsListAndAbort(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, nil)
	ctx := ctxT(t)
	ids := map[string]string{}
	for i := range 1005 { // more than one page of uploads
		key := fmt.Sprintf("up/%04d", i)
		imur, err := c.initiate(ctx, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[imur.UploadID] = key
	}
	ups := listUploads(t, c, "up/")
	if len(ups) != len(ids) {
		t.Fatalf("ListUploads: %d uploads, want %d", len(ups), len(ids))
	}
	for _, u := range ups {
		if ids[u.UploadID] != u.Key || u.Initiated.IsZero() {
			t.Fatalf("listed upload %+v does not match", u)
		}
	}
	if c.Stats()["ListMultipartUploads"].Calls < 2 {
		t.Errorf("1005 uploads listed in one request")
	}
	err := forEach(ctx, len(ups), 8, func(ctx context.Context, i int) error {
		return c.AbortUpload(ctx, ups[i].Key, ups[i].UploadID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AbortUpload(ctx, ups[0].Key, ups[0].UploadID); err != nil {
		t.Errorf("aborting an aborted upload: %v", err)
	}
	if n := len(listUploads(t, c, "up/")); n != 0 {
		t.Errorf("%d uploads left after abort", n)
	}
}

// TestUploadFileCancelAborts cancels a multipart upload mid-way: the error
// is the cancellation and no upload is left in the bucket.
func TestUploadFileCancelAborts(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, func(cfg *Config) { cfg.Concurrency = 1 })
	src, _ := writeRandomFile(t, t.TempDir(), 10*mib, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var id string
	partsAtStart := int64(-1)
	// A writer-at that cancels after the first part lands is not available
	// on upload; cancel from OnStart once the upload exists instead.
	_, err := c.UploadFile(ctx, "cancel/x", src, UploadOptions{OnStart: func(uploadID string) {
		id = uploadID
		partsAtStart = c.Stats()["UploadPart"].Calls
		cancel()
	}})
	var e *Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &e) || e.Key != "cancel/x" {
		t.Errorf("cancelled upload: %v, want context.Canceled wrapped with the key", err)
	}
	if id == "" || partsAtStart != 0 {
		t.Errorf("OnStart: id %q, %d parts already sent; want an id before any part", id, partsAtStart)
	}
	if ups := listUploads(t, c, "cancel/"); len(ups) != 0 {
		t.Errorf("uploads left after a cancelled UploadFile: %+v", ups)
	}
	if _, err := c.Head(ctxT(t), "cancel/x"); !IsNotFound(err) {
		t.Errorf("cancelled upload created the object: %v", err)
	}
}

// TestDownloadToBuffer checks Download into an in-memory WriterAt.
func TestDownloadToBuffer(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, nil)
	data := randomBytes(5*mib+3, 8)
	if _, err := c.Put(ctxT(t), "dl/x", bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "dl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o, err := c.Download(ctxT(t), "dl/x", f)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(io.NewSectionReader(f, 0, o.Size))
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded data differs")
	}
	if n := c.Stats()["GetObject"].Calls; n != 6 {
		t.Errorf("%d GETs for 5 MiB + 3 in 1 MiB parts, want 6", n)
	}
}
