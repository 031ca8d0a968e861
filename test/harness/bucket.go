package harness

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sort"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Bucket is a bucket of a Server seen directly through the Alibaba SDK, the
// way any other OSS tool sees it. Its requests count in the server's stats.
type Bucket struct {
	*oss.Bucket
}

// Bucket opens a bucket of the server through the SDK.
func (s *Server) Bucket(t testing.TB, name string) *Bucket {
	t.Helper()
	c, err := oss.New(s.Endpoint, AccessKeyID, AccessKeySecret)
	if err != nil {
		t.Fatalf("oss.New(%s): %v", s.Endpoint, err)
	}
	b, err := c.Bucket(name)
	if err != nil {
		t.Fatalf("bucket %s: %v", name, err)
	}
	return &Bucket{b}
}

// Keys lists every key under prefix (no delimiter), sorted.
func (b *Bucket) Keys(t testing.TB, prefix string) []string {
	t.Helper()
	var keys []string
	token := ""
	for {
		opts := []oss.Option{oss.Prefix(prefix), oss.MaxKeys(1000)}
		if token != "" {
			opts = append(opts, oss.ContinuationToken(token))
		}
		res, err := b.ListObjectsV2(opts...)
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		if !res.IsTruncated {
			break
		}
		token = res.NextContinuationToken
	}
	sort.Strings(keys)
	return keys
}

// Get returns an object's bytes, or ok=false when it does not exist.
func (b *Bucket) Get(t testing.TB, key string) (data []byte, ok bool) {
	t.Helper()
	r, err := b.GetObject(key)
	if IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer r.Close()
	data, err = io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data, true
}

// Exists reports whether an object exists.
func (b *Bucket) Exists(t testing.TB, key string) bool {
	t.Helper()
	ok, err := b.IsObjectExist(key)
	if err != nil {
		t.Fatalf("exists %q: %v", key, err)
	}
	return ok
}

// Meta returns an object's user metadata and headers (HEAD).
func (b *Bucket) Meta(t testing.TB, key string) http.Header {
	t.Helper()
	h, err := b.GetObjectDetailedMeta(key)
	if err != nil {
		t.Fatalf("head %q: %v", key, err)
	}
	return h
}

// Put writes an object directly, behind the mount's back.
func (b *Bucket) Put(t testing.TB, key string, data []byte) {
	t.Helper()
	if err := b.PutObject(key, bytes.NewReader(data)); err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
}

// IsNotFound reports whether an SDK error is a 404.
func IsNotFound(err error) bool {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.StatusCode == http.StatusNotFound
	}
	return false
}
