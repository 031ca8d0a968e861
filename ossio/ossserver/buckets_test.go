package ossserver

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestBucketOperations(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		c := b.Client
		if ok, err := c.IsBucketExist(testBucket); !ok || err != nil {
			t.Fatalf("IsBucketExist(%s) = %v, %v", testBucket, ok, err)
		}
		if ok, err := c.IsBucketExist("nope-bucket"); ok || err != nil {
			t.Fatalf("IsBucketExist(nope) = %v, %v", ok, err)
		}
		info, err := c.GetBucketInfo(testBucket)
		if err != nil || info.BucketInfo.Name != testBucket || info.BucketInfo.CreationDate.IsZero() {
			t.Fatalf("GetBucketInfo: %+v %v", info, err)
		}
		_, err = c.GetBucketInfo("nope-bucket")
		wantCode(t, err, "NoSuchBucket")
		if loc, err := c.GetBucketLocation(testBucket); err != nil || loc == "" {
			t.Fatalf("location %q %v", loc, err)
		}
		if err := c.CreateBucket("second-bucket"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, c.CreateBucket("second-bucket"), "BucketAlreadyExists")
		lb, err := c.ListBuckets()
		if err != nil || len(lb.Buckets) != 2 || lb.Buckets[0].Name != testBucket || lb.Buckets[1].Name != "second-bucket" {
			t.Fatalf("ListBuckets %+v %v", lb, err)
		}
		mustPut(t, b, "k", []byte("x"))
		wantCode(t, c.DeleteBucket(testBucket), "BucketNotEmpty")
		if err := c.DeleteBucket("second-bucket"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, c.DeleteBucket("second-bucket"), "NoSuchBucket")
		nb := bucketOf(t, &c, "no-such-bucket")
		wantCode(t, nb.PutObject("k", strings.NewReader("x")), "NoSuchBucket")
		_, err = nb.ListObjects()
		wantCode(t, err, "NoSuchBucket")
		_, err = nb.GetObjectDetailedMeta("k")
		wantCode(t, err, "NoSuchBucket")
		// Unknown operations are 501.
		_, err = c.GetBucketLifecycle(testBucket)
		wantCode(t, err, "NotImplemented")
		_, err = b.GetObjectTagging("k")
		wantCode(t, err, "NotImplemented")
	})
}

func TestInvalidNames(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		for _, key := range []string{strings.Repeat("k", 1024), "/lead", "\\lead"} {
			wantCode(t, b.PutObject(key, strings.NewReader("x")), "InvalidObjectName")
		}
		mustPut(t, b, strings.Repeat("k", 1023), []byte("x"))
	})
}

func TestRawErrors(t *testing.T) {
	srv := startServer(t, Config{})
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/Bad_Bucket/k", 400, "InvalidBucketName"},
		{"GET", "/" + testBucket + "/k?x-oss-process=image", 501, "NotImplemented"},
		{"PATCH", "/" + testBucket + "/k", 501, "NotImplemented"},
		{"GET", "/" + testBucket + "/%ZZ", 400, ""},
		{"GET", "/" + testBucket + "/k?a=%ZZ", 400, "InvalidArgument"},
	} {
		req, _ := http.NewRequest(tc.method, srv.Endpoint+"/", nil)
		req.URL.Opaque = tc.path
		if q := strings.Index(tc.path, "?"); q >= 0 {
			req.URL.Opaque, req.URL.RawQuery = tc.path[:q], tc.path[q+1:]
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.code != "" && !strings.Contains(string(body), "<Code>"+tc.code+"</Code>")) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
}

func TestValidBucketName(t *testing.T) {
	for name, want := range map[string]bool{
		"abc": true, "a-b-c": true, "0bucket9": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "UPPER": false, "-lead": false, "trail-": false,
		"under_score": false, "dot.ted": false, "_stats": false,
	} {
		if got := validBucketName(name); got != want {
			t.Errorf("validBucketName(%q) = %v, want %v", name, got, want)
		}
	}
}
