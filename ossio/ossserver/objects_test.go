package ossserver

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestPutObjectHeaders(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		data := []byte("hello world")
		var resp http.Header
		if err := b.PutObject("k", bytes.NewReader(data), oss.GetResponseHeader(&resp), oss.Meta("MiXeD", "v1"), oss.ContentType("text/x-test")); err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(data)
		wantTag := `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
		wantCRC := strconv.FormatUint(crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)), 10)
		if resp.Get("ETag") != wantTag || resp.Get("x-oss-hash-crc64ecma") != wantCRC || resp.Get("x-oss-request-id") == "" {
			t.Fatalf("put headers %v; want ETag %s crc %s", resp, wantTag, wantCRC)
		}
		h, err := b.GetObjectDetailedMeta("k")
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{
			"ETag": wantTag, "x-oss-hash-crc64ecma": wantCRC, "x-oss-object-type": "Normal",
			"Content-Type": "text/x-test", "x-oss-meta-mixed": "v1", "Content-Length": "11",
		} {
			if h.Get(k) != v {
				t.Errorf("head %s = %q, want %q", k, h.Get(k), v)
			}
		}
		if _, err := http.ParseTime(h.Get("Last-Modified")); err != nil {
			t.Errorf("Last-Modified %q: %v", h.Get("Last-Modified"), err)
		}
		// GetObjectMeta (HEAD ?objectMeta) and IsObjectExist.
		if m, err := b.GetObjectMeta("k"); err != nil || m.Get("ETag") != wantTag {
			t.Fatalf("GetObjectMeta: %v %v", m, err)
		}
		if ok, err := b.IsObjectExist("k"); !ok || err != nil {
			t.Fatalf("IsObjectExist(k) = %v, %v", ok, err)
		}
		if ok, err := b.IsObjectExist("missing"); ok || err != nil {
			t.Fatalf("IsObjectExist(missing) = %v, %v", ok, err)
		}
		// Forbid overwrite.
		err = b.PutObject("k", strings.NewReader("x"), oss.ForbidOverWrite(true))
		wantCode(t, err, "FileAlreadyExists")
		if got := mustGet(t, b, "k"); !bytes.Equal(got, data) {
			t.Fatalf("forbidden overwrite changed the object: %q", got)
		}
		mustPut(t, b, "new", nil, oss.ForbidOverWrite(true))
		// Head of a missing key carries the error code for the SDK.
		_, err = b.GetObjectDetailedMeta("missing")
		wantCode(t, err, "NoSuchKey")
		_, err = b.GetObjectMeta("missing")
		wantCode(t, err, "NoSuchKey")
		// Metadata over 8 KB.
		err = b.PutObject("big-meta", strings.NewReader("x"), oss.Meta("m", strings.Repeat("v", 9000)))
		wantCode(t, err, "InvalidArgument")
		// A wrong Content-MD5 stores nothing.
		err = b.PutObject("bad-md5", strings.NewReader("data"), oss.ContentMD5("XrY7u+Ae7tCTyyK7j1rNww=="))
		wantCode(t, err, "InvalidDigest")
		_, err = b.GetObject("bad-md5")
		wantCode(t, err, "NoSuchKey")
	})
}

func TestGetObjectRange(t *testing.T) {
	data := pattern(1000, 3)
	tests := []struct {
		rng      string
		standard bool
		status   int
		from, to int // expected bytes data[from:to]
	}{
		{"bytes=0-99", false, 206, 0, 100},
		{"bytes=990-", false, 206, 990, 1000},
		{"bytes=-10", false, 206, 990, 1000},
		{"bytes=999-999", false, 206, 999, 1000},
		{"bytes=500-2000", false, 200, 0, 1000},
		{"bytes=1000-", false, 200, 0, 1000},
		{"bytes=-2000", false, 200, 0, 1000},
		{"bytes=20-10", false, 200, 0, 1000},
		{"bytes=a-b", false, 200, 0, 1000},
		{"bytes=0-1,5-6", false, 200, 0, 1000},
		{"bytes=500-2000", true, 206, 500, 1000},
		{"bytes=-2000", true, 206, 0, 1000},
		{"bytes=0-99", true, 206, 0, 100},
		{"bytes=1000-", true, 416, 0, 0},
		{"bytes=1000-2000", true, 416, 0, 0},
	}
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		mustPut(t, b, "r", data)
		wantCRC := strconv.FormatUint(crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)), 10)
		for _, tc := range tests {
			opts := []oss.Option{oss.SetHeader("Range", tc.rng)}
			if tc.standard {
				opts = append(opts, oss.RangeBehavior("standard"))
			}
			var hdr http.Header
			opts = append(opts, oss.GetResponseHeader(&hdr))
			rc, err := b.GetObject("r", opts...)
			if tc.status == 416 {
				wantCode(t, err, "InvalidRange")
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.rng, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s: read: %v", tc.rng, err)
			}
			if !bytes.Equal(got, data[tc.from:tc.to]) {
				t.Errorf("%s (standard %v): got %d bytes, want [%d:%d]", tc.rng, tc.standard, len(got), tc.from, tc.to)
			}
			if hdr.Get("x-oss-hash-crc64ecma") != wantCRC {
				t.Errorf("%s: crc header %q, want whole object's %s", tc.rng, hdr.Get("x-oss-hash-crc64ecma"), wantCRC)
			}
			if hasCR := hdr.Get("Content-Range") != ""; hasCR != (tc.status == 206) {
				t.Errorf("%s: Content-Range %q, want status %d", tc.rng, hdr.Get("Content-Range"), tc.status)
			}
		}
		// The SDK's own range helpers.
		if got := mustGet(t, b, "r", oss.Range(10, 19)); !bytes.Equal(got, data[10:20]) {
			t.Errorf("oss.Range: got %d bytes", len(got))
		}
		if got := mustGet(t, b, "r", oss.NormalizedRange("-5")); !bytes.Equal(got, data[995:]) {
			t.Errorf("NormalizedRange(-5): got %d bytes", len(got))
		}
	})
}

func TestParseRangeEmptyObject(t *testing.T) {
	for _, standard := range []bool{false, true} {
		_, n, partial, e := parseRange("bytes=0-", 0, standard)
		if standard && (e == nil || e.Code != "InvalidRange") {
			t.Errorf("standard: want InvalidRange, got %v", e)
		}
		if !standard && (e != nil || partial || n != 0) {
			t.Errorf("lenient: want whole (empty) object, got n=%d partial=%v e=%v", n, partial, e)
		}
	}
}

func TestConditionalGet(t *testing.T) {
	srv := startServer(t, Config{})
	b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	mustPut(t, b, "c", []byte("conditional"))
	h, _ := b.GetObjectDetailedMeta("c")
	etag := h.Get("ETag")
	if _, err := b.GetObject("c", oss.IfMatch(`"00000000000000000000000000000000"`)); errCode(err) != "PreconditionFailed" {
		t.Fatalf("If-Match mismatch: %v", err)
	}
	if got := mustGet(t, b, "c", oss.IfMatch(etag)); string(got) != "conditional" {
		t.Fatalf("If-Match match: %q", got)
	}
	_, err := b.GetObject("c", oss.IfNoneMatch(etag))
	if err == nil || !strings.Contains(err.Error(), "304") {
		t.Fatalf("If-None-Match match: want 304, got %v", err)
	}
}

func TestCopyObject(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		data := pattern(5000, 9)
		keys := []string{"src/with space+plus%", "日本/ö"}
		for _, src := range keys {
			mustPut(t, b, src, data, oss.Meta("orig", "yes"), oss.ContentType("text/orig"))
			dst := "copy of " + src
			srv.ResetStats()
			if _, err := b.CopyObject(src, dst); err != nil {
				t.Fatalf("copy %q: %v", src, err)
			}
			if st := srv.Stats(); st.BytesCopied != int64(len(data)) || st.Requests["CopyObject"] != 1 {
				t.Fatalf("stats after copy: %+v", st)
			}
			if got := mustGet(t, b, dst); !bytes.Equal(got, data) {
				t.Fatalf("copy content differs")
			}
			h, _ := b.GetObjectDetailedMeta(dst)
			if h.Get("x-oss-meta-orig") != "yes" || h.Get("Content-Type") != "text/orig" {
				t.Fatalf("COPY directive lost metadata: %v", h)
			}
		}
		// REPLACE takes the request's metadata.
		if _, err := b.CopyObject(keys[0], "replaced", oss.MetadataDirective(oss.MetaReplace), oss.Meta("new", "1"), oss.ContentType("text/new")); err != nil {
			t.Fatal(err)
		}
		h, _ := b.GetObjectDetailedMeta("replaced")
		if h.Get("x-oss-meta-orig") != "" || h.Get("x-oss-meta-new") != "1" || h.Get("Content-Type") != "text/new" {
			t.Fatalf("REPLACE metadata: %v", h)
		}
		// Deleting the source keeps the copy (shared bytes are reference-counted).
		if err := b.DeleteObject(keys[0]); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, b, "copy of "+keys[0]); !bytes.Equal(got, data) {
			t.Fatalf("copy lost its bytes when the source went")
		}
		_, err := b.CopyObject("missing", "x")
		wantCode(t, err, "NoSuchKey")
		_, err = b.CopyObject(keys[1], "copy of "+keys[1], oss.ForbidOverWrite(true))
		wantCode(t, err, "FileAlreadyExists")
		// Appendable sources are refused.
		if _, err := b.AppendObject("app", strings.NewReader("abc"), 0); err != nil {
			t.Fatal(err)
		}
		_, err = b.CopyObject("app", "app-copy")
		wantCode(t, err, "InvalidArgument")
		// Cross-bucket copy into a missing bucket.
		_, err = b.CopyObjectTo("no-such-bucket", "x", keys[1])
		wantCode(t, err, "NoSuchBucket")
	})
}

func TestAppendObject(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		var all []byte
		var pos int64
		for i, chunk := range [][]byte{[]byte("first "), pattern(70000, 1), {}, []byte("last")} {
			var next int64
			var err error
			if i == 0 {
				next, err = b.AppendObject("log", bytes.NewReader(chunk), pos, oss.Meta("k", "v"))
			} else {
				next, err = b.AppendObject("log", bytes.NewReader(chunk), pos, oss.InitCRC(crc64.Checksum(all, crc64.MakeTable(crc64.ECMA))))
			}
			if err != nil {
				t.Fatalf("append %d at %d: %v", i, pos, err)
			}
			all = append(all, chunk...)
			if next != int64(len(all)) {
				t.Fatalf("next position %d, want %d", next, len(all))
			}
			pos = next
		}
		if got := mustGet(t, b, "log"); !bytes.Equal(got, all) {
			t.Fatalf("appended content differs")
		}
		h, _ := b.GetObjectDetailedMeta("log")
		if h.Get("x-oss-object-type") != "Appendable" || h.Get("x-oss-next-append-position") != strconv.Itoa(len(all)) || h.Get("x-oss-meta-k") != "v" {
			t.Fatalf("head of appendable: %v", h)
		}
		wantCRC := strconv.FormatUint(crc64.Checksum(all, crc64.MakeTable(crc64.ECMA)), 10)
		if h.Get("x-oss-hash-crc64ecma") != wantCRC {
			t.Fatalf("crc %s, want %s", h.Get("x-oss-hash-crc64ecma"), wantCRC)
		}
		var hdr http.Header
		_, err := b.AppendObject("log", strings.NewReader("x"), 3, oss.GetResponseHeader(&hdr))
		wantCode(t, err, "PositionNotEqualToLength")
		if hdr.Get("x-oss-next-append-position") != strconv.Itoa(len(all)) {
			t.Fatalf("PositionNotEqualToLength without next position: %v", hdr)
		}
		_, err = b.AppendObject("fresh", strings.NewReader("x"), 5)
		wantCode(t, err, "PositionNotEqualToLength")
		mustPut(t, b, "normal", []byte("n"))
		_, err = b.AppendObject("normal", strings.NewReader("x"), 1)
		wantCode(t, err, "ObjectNotAppendable")
		// A PUT over an appendable object makes it Normal.
		mustPut(t, b, "log", []byte("reset"))
		h, _ = b.GetObjectDetailedMeta("log")
		if h.Get("x-oss-object-type") != "Normal" {
			t.Fatalf("type after put: %v", h.Get("x-oss-object-type"))
		}
	})
}

func TestLargeObjectStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("large object")
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			srv := startServer(t, Config{Root: be.root(t)})
			b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
			data := pattern(64<<20, 5)
			mustPut(t, b, "big", data)
			if got := mustGet(t, b, "big"); !bytes.Equal(got, data) {
				t.Fatal("big object differs")
			}
			if st := srv.Stats(); st.BytesReceived != int64(len(data)) || st.BytesSent != int64(len(data)) {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}
