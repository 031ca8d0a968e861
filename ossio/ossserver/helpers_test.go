package ossserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

const (
	testAK     = "test-ak"
	testSecret = "test-secret-123"
	testBucket = "bkt"
)

// signer is one way the SDK signs requests.
type signer struct {
	name string
	opts []oss.ClientOption
}

var signers = []signer{
	{"v1", nil},
	{"v4", []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region("cn-hangzhou")}},
}

// backend makes a server config; root "" is memory.
type backend struct {
	name string
	root func(t *testing.T) string
}

var backends = []backend{
	{"mem", func(*testing.T) string { return "" }},
	{"dir", func(t *testing.T) string { return t.TempDir() }},
}

func startServer(t *testing.T, cfg Config) *Running {
	t.Helper()
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID, cfg.AccessKeySecret = testAK, testSecret
	}
	if cfg.Buckets == nil {
		cfg.Buckets = []string{testBucket}
	}
	r, err := Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func client(t *testing.T, endpoint string, sg signer, extra ...oss.ClientOption) *oss.Client {
	t.Helper()
	opts := append(append([]oss.ClientOption{}, sg.opts...), extra...)
	c, err := oss.New(endpoint, testAK, testSecret, opts...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

func bucketOf(t *testing.T, c *oss.Client, name string) *oss.Bucket {
	t.Helper()
	b, err := c.Bucket(name)
	if err != nil {
		t.Fatalf("bucket: %v", err)
	}
	return b
}

// forEach runs f for every signer × backend.
func forEach(t *testing.T, f func(t *testing.T, srv *Running, b *oss.Bucket, sg signer)) {
	for _, be := range backends {
		for _, sg := range signers {
			t.Run(be.name+"/"+sg.name, func(t *testing.T) {
				srv := startServer(t, Config{Root: be.root(t)})
				f(t, srv, bucketOf(t, client(t, srv.Endpoint, sg), testBucket), sg)
			})
		}
	}
}

func errCode(err error) string {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	if err == nil {
		return ""
	}
	return "non-service error: " + err.Error()
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := errCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func mustPut(t *testing.T, b *oss.Bucket, key string, data []byte, opts ...oss.Option) {
	t.Helper()
	if err := b.PutObject(key, bytes.NewReader(data), opts...); err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
}

func mustGet(t *testing.T, b *oss.Bucket, key string, opts ...oss.Option) []byte {
	t.Helper()
	rc, err := b.GetObject(key, opts...)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+int(seed)) ^ byte(i>>9)
	}
	return b
}

func keysN(n int, f string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(f, i)
	}
	return out
}
