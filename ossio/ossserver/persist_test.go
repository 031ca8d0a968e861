package ossserver

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestDirectoryBackendRestart(t *testing.T) {
	root := t.TempDir()
	srv := startServer(t, Config{Root: root})
	b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	big := pattern(200<<10, 1)
	objects := map[string][]byte{"a": []byte("file a"), "a/": nil, "a/b": []byte("under a"), "sp ace+ü": []byte("odd")}
	for k, v := range objects {
		mustPut(t, b, k, v, oss.Meta("k", "v"))
	}
	if _, err := b.AppendObject("app", strings.NewReader("app"), 0); err != nil {
		t.Fatal(err)
	}
	imur, _ := b.InitiateMultipartUpload("mp")
	p1, _ := b.UploadPart(imur, bytes.NewReader(big), int64(len(big)), 1)
	p2, _ := b.UploadPart(imur, strings.NewReader("tail"), 4, 2)
	if _, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{p1, p2}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CopyObject("mp", "mp-copy"); err != nil {
		t.Fatal(err)
	}
	pending, _ := b.InitiateMultipartUpload("pending")
	pp, _ := b.UploadPart(pending, bytes.NewReader(big), int64(len(big)), 1)
	mustPut(t, b, "deleted", []byte("gone"))
	if err := b.DeleteObject("deleted"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// What a server killed mid-upload leaves: an unreferenced blob and a temp file.
	orphan := filepath.Join(root, "blobs", "orphan")
	if err := os.WriteFile(orphan, []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	blobsBefore, _ := os.ReadDir(filepath.Join(root, "blobs"))

	srv2 := startServer(t, Config{Root: root})
	b = bucketOf(t, client(t, srv2.Endpoint, signers[1]), testBucket)
	for k, v := range objects {
		if got := mustGet(t, b, k); !bytes.Equal(got, v) {
			t.Fatalf("%q after restart: %q", k, got)
		}
		if h, _ := b.GetObjectDetailedMeta(k); h.Get("x-oss-meta-k") != "v" {
			t.Fatalf("%q lost metadata", k)
		}
	}
	want := append(append([]byte{}, big...), "tail"...)
	for _, k := range []string{"mp", "mp-copy"} {
		if got := mustGet(t, b, k); !bytes.Equal(got, want) {
			t.Fatalf("%q after restart differs", k)
		}
	}
	if next, err := b.AppendObject("app", strings.NewReader("end"), 3); err != nil || next != 6 {
		t.Fatalf("append after restart: %d %v", next, err)
	}
	_, err := b.GetObject("deleted")
	wantCode(t, err, "NoSuchKey")
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan blob kept: %v", err)
	}
	keys, _, _ := listAllV2(t, b)
	if len(keys) != 7 {
		t.Fatalf("keys after restart: %q", keys)
	}
	// The pending upload survived and completes.
	lp, err := b.ListUploadedParts(pending)
	if err != nil || len(lp.UploadedParts) != 1 {
		t.Fatalf("pending upload: %+v %v", lp, err)
	}
	if _, err := b.CompleteMultipartUpload(pending, []oss.UploadPart{pp}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, b, "pending"); !bytes.Equal(got, big) {
		t.Fatal("pending upload content differs")
	}
	// Deleting everything removes every blob.
	all, _, _ := listAllV1(t, b)
	if _, err := b.DeleteObjects(all); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "blobs")); len(left) != 0 {
		t.Fatalf("%d blobs left after deleting all objects (had %d)", len(left), len(blobsBefore))
	}
}

func TestMemoryBlobsFreed(t *testing.T) {
	srv := startServer(t, Config{})
	b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	mustPut(t, b, "x", pattern(1000, 1))
	if _, err := b.CopyObject("x", "y"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "x", []byte("overwritten"))
	imur, _ := b.InitiateMultipartUpload("z")
	if _, err := b.UploadPartCopy(imur, testBucket, "y", 0, 500, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.AbortMultipartUpload(imur); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteObjects([]string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	ids, _ := srv.blobs.list()
	srv.mu.Lock()
	refs := len(srv.refs)
	srv.mu.Unlock()
	if len(ids) != 0 || refs != 0 {
		t.Fatalf("%d blobs and %d references left", len(ids), refs)
	}
}
