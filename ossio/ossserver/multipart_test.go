package ossserver

import (
	"bytes"
	"hash/crc64"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestMultipartUpload(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		key := "mp/obj with space+"
		p1, p2, p3 := pattern(150<<10, 1), pattern(100<<10, 2), pattern(1234, 3)
		imur, err := b.InitiateMultipartUpload(key, oss.Meta("m", "1"), oss.ContentType("text/mp"))
		if err != nil {
			t.Fatal(err)
		}
		if imur.Key != key || imur.UploadID == "" {
			t.Fatalf("initiate: %+v", imur)
		}
		var parts []oss.UploadPart
		for i, d := range [][]byte{p1, p2, p3} {
			p, err := b.UploadPart(imur, bytes.NewReader(d), int64(len(d)), i+1)
			if err != nil {
				t.Fatalf("part %d: %v", i+1, err)
			}
			parts = append(parts, p)
		}
		// Re-uploading a part replaces it.
		p3b := pattern(999, 4)
		pp, err := b.UploadPart(imur, bytes.NewReader(p3b), int64(len(p3b)), 3)
		if err != nil {
			t.Fatal(err)
		}
		parts[2] = pp
		lp, err := b.ListUploadedParts(imur)
		if err != nil || len(lp.UploadedParts) != 3 || lp.UploadedParts[2].Size != 999 || lp.Key != key {
			t.Fatalf("list parts: %+v %v", lp, err)
		}
		lp, err = b.ListUploadedParts(imur, oss.MaxParts(2))
		if err != nil || len(lp.UploadedParts) != 2 || !lp.IsTruncated || lp.NextPartNumberMarker != "2" {
			t.Fatalf("list parts paged: %+v %v", lp, err)
		}
		lu, err := b.ListMultipartUploads(oss.Prefix("mp/"))
		if err != nil || len(lu.Uploads) != 1 || lu.Uploads[0].Key != key || lu.Uploads[0].UploadID != imur.UploadID {
			t.Fatalf("list uploads: %+v %v", lu, err)
		}
		if lu, _ := b.ListMultipartUploads(oss.Prefix("other/")); len(lu.Uploads) != 0 {
			t.Fatalf("list uploads with another prefix: %+v", lu)
		}
		// Errors at Complete.
		// The SDK sorts the list itself, so send the XML by hand.
		_, err = completeRaw(b, imur, parts[1], parts[0])
		wantCode(t, err, "InvalidPartOrder")
		_, err = completeRaw(b, imur, parts[0], parts[0])
		wantCode(t, err, "InvalidPartOrder")
		bad := parts[0]
		bad.ETag = `"00000000000000000000000000000000"`
		_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{bad, parts[1]})
		wantCode(t, err, "InvalidPart")
		_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{parts[0], {PartNumber: 9, ETag: parts[1].ETag}})
		wantCode(t, err, "InvalidPart")
		_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{parts[2], {PartNumber: 4, ETag: parts[2].ETag}})
		wantCode(t, err, "InvalidPart")

		var hdr http.Header
		res, err := b.CompleteMultipartUpload(imur, parts, oss.GetResponseHeader(&hdr))
		if err != nil {
			t.Fatal(err)
		}
		want := append(append(append([]byte{}, p1...), p2...), p3b...)
		wantCRC := strconv.FormatUint(crc64.Checksum(want, crc64.MakeTable(crc64.ECMA)), 10)
		if !strings.HasSuffix(res.ETag, `-3"`) || hdr.Get("x-oss-hash-crc64ecma") != wantCRC {
			t.Fatalf("complete: %+v crc %s want %s", res, hdr.Get("x-oss-hash-crc64ecma"), wantCRC)
		}
		if got := mustGet(t, b, key); !bytes.Equal(got, want) {
			t.Fatalf("multipart content differs")
		}
		if got := mustGet(t, b, key, oss.Range(150<<10-5, 150<<10+4)); !bytes.Equal(got, want[150<<10-5:150<<10+5]) {
			t.Fatalf("range across parts differs")
		}
		h, _ := b.GetObjectDetailedMeta(key)
		if h.Get("x-oss-object-type") != "Multipart" || h.Get("x-oss-meta-m") != "1" || h.Get("Content-Type") != "text/mp" || h.Get("x-oss-hash-crc64ecma") != wantCRC {
			t.Fatalf("head multipart: %v", h)
		}
		// The upload is gone.
		_, err = b.UploadPart(imur, strings.NewReader("x"), 1, 1)
		wantCode(t, err, "NoSuchUpload")
		err = b.AbortMultipartUpload(imur)
		wantCode(t, err, "NoSuchUpload")
	})
}

func TestMultipartLimits(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		imur, err := b.InitiateMultipartUpload("small")
		if err != nil {
			t.Fatal(err)
		}
		small := []byte("too small")
		p1, _ := b.UploadPart(imur, bytes.NewReader(small), int64(len(small)), 1)
		p2, _ := b.UploadPart(imur, bytes.NewReader(small), int64(len(small)), 2)
		_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{p1, p2})
		wantCode(t, err, "EntityTooSmall")
		// One small part alone is fine (it is the last).
		if _, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{p1}); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, b, "small"); !bytes.Equal(got, small) {
			t.Fatalf("got %q", got)
		}
		imur, _ = b.InitiateMultipartUpload("limits")
		for _, n := range []int{0, 10001} {
			_, err = b.UploadPart(imur, strings.NewReader("x"), 1, n)
			wantCode(t, err, "InvalidArgument")
		}
		if err := b.AbortMultipartUpload(imur); err != nil {
			t.Fatal(err)
		}
		_, err = b.UploadPart(imur, strings.NewReader("x"), 1, 1)
		wantCode(t, err, "NoSuchUpload")
		_, err = b.UploadPart(oss.InitiateMultipartUploadResult{Bucket: testBucket, Key: "limits", UploadID: "nope"}, strings.NewReader("x"), 1, 1)
		wantCode(t, err, "NoSuchUpload")
		// Malformed Complete bodies.
		imur, _ = b.InitiateMultipartUpload("xml")
		for _, body := range []string{"<not xml", "<CompleteMultipartUpload></CompleteMultipartUpload>", "<Other/>"} {
			_, err := b.Do("POST", "xml", map[string]any{"uploadId": imur.UploadID}, nil, strings.NewReader(body), nil)
			wantCode(t, err, "MalformedXML")
		}
		// Forbid overwrite at Complete.
		mustPut(t, b, "exists", []byte("x"))
		imur, _ = b.InitiateMultipartUpload("exists")
		p, _ := b.UploadPart(imur, strings.NewReader("y"), 1, 1)
		_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{p}, oss.ForbidOverWrite(true))
		wantCode(t, err, "FileAlreadyExists")
	})
}

func TestUploadPartCopy(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		src := pattern(300<<10, 7)
		mustPut(t, b, "src key/ü+", src)
		imur, err := b.InitiateMultipartUpload("dst")
		if err != nil {
			t.Fatal(err)
		}
		srv.ResetStats()
		var parts []oss.UploadPart
		for i, r := range [][2]int64{{0, 200 << 10}, {200 << 10, 100 << 10}} {
			p, err := b.UploadPartCopy(imur, testBucket, "src key/ü+", r[0], r[1], i+1)
			if err != nil {
				t.Fatalf("part copy %d: %v", i+1, err)
			}
			parts = append(parts, p)
		}
		if st := srv.Stats(); st.BytesCopied != int64(len(src)) || st.Requests["UploadPartCopy"] != 2 {
			t.Fatalf("stats %+v", st)
		}
		if _, err := b.CompleteMultipartUpload(imur, parts); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, b, "dst"); !bytes.Equal(got, src) {
			t.Fatal("part-copied object differs")
		}
		// Part ETags are the MD5 of the copied range, as if uploaded.
		imur2, _ := b.InitiateMultipartUpload("dst2")
		up, _ := b.UploadPart(imur2, bytes.NewReader(src[:200<<10]), 200<<10, 1)
		if up.ETag != parts[0].ETag {
			t.Fatalf("copy part ETag %s, upload part ETag %s", parts[0].ETag, up.ETag)
		}
		// Appendable sources and missing sources are refused; a range past the end too.
		if _, err := b.AppendObject("app", strings.NewReader("abc"), 0); err != nil {
			t.Fatal(err)
		}
		_, err = b.UploadPartCopy(imur2, testBucket, "app", 0, 3, 2)
		wantCode(t, err, "InvalidArgument")
		_, err = b.UploadPartCopy(imur2, testBucket, "missing", 0, 3, 2)
		wantCode(t, err, "NoSuchKey")
		_, err = b.UploadPartCopy(imur2, testBucket, "src key/ü+", int64(len(src)), 3, 2)
		wantCode(t, err, "InvalidArgument")
	})
}

func TestDeleteMultipleObjects(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		keys := []string{"x/1", "sp ace", "plus+", "ü&<>", "a", "a/"}
		for _, k := range keys {
			mustPut(t, b, k, []byte("d"))
		}
		res, err := b.DeleteObjects(append(keys[:3:3], "missing"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.DeletedObjects) != 4 || res.DeletedObjects[1] != "sp ace" || res.DeletedObjects[2] != "plus+" {
			t.Fatalf("deleted %q", res.DeletedObjects)
		}
		res, err = b.DeleteObjects(keys[3:], oss.DeleteObjectsQuiet(true))
		if err != nil || len(res.DeletedObjects) != 0 {
			t.Fatalf("quiet: %+v %v", res, err)
		}
		if left, _, _ := listAllV1(t, b); len(left) != 0 {
			t.Fatalf("left %q", left)
		}
		many := keysN(1001, "k%d")
		_, err = b.DeleteObjects(many)
		wantCode(t, err, "MalformedXML")
		if _, err := b.DeleteObjects(many[:1000]); err != nil {
			t.Fatal(err)
		}
		_, err = b.DeleteMultipleObjectsXml("<Delete><Object><Key>x</Key>")
		wantCode(t, err, "MalformedXML")
		// A wrong Content-MD5.
		_, err = b.Do("POST", "", map[string]any{"delete": nil}, []oss.Option{oss.ContentMD5("AAAAAAAAAAAAAAAAAAAAAA==")}, strings.NewReader("<Delete><Object><Key>x</Key></Object></Delete>"), nil)
		wantCode(t, err, "InvalidDigest")
	})
}

func completeRaw(b *oss.Bucket, imur oss.InitiateMultipartUploadResult, parts ...oss.UploadPart) (*oss.Response, error) {
	var sb strings.Builder
	sb.WriteString("<CompleteMultipartUpload>")
	for _, p := range parts {
		sb.WriteString("<Part><PartNumber>" + strconv.Itoa(p.PartNumber) + "</PartNumber><ETag>" + p.ETag + "</ETag></Part>")
	}
	sb.WriteString("</CompleteMultipartUpload>")
	return b.Do("POST", imur.Key, map[string]any{"uploadId": imur.UploadID}, nil, strings.NewReader(sb.String()), nil)
}
