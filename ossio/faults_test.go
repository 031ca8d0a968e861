package ossio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestRoundTripWithFaults runs the round trips, copies, listings and
// deletes against a server failing 20% of requests (500, 503 or a body cut
// mid-way) and expects identical data through retries.
func TestRoundTripWithFaults(t *testing.T) {
	srv := startServer(t, 0.2)
	// 0.2^12 per request: the run does not flake on a streak of faults.
	c := newTestClient(t, srv.Endpoint, func(cfg *Config) { cfg.MaxAttempts = 12; cfg.CopyThreshold = 2 * mib; cfg.CopyPartSize = mib })
	dir := t.TempDir()
	sizes := roundTripSizes(false, 7)
	if !testing.Short() {
		sizes = append(sizes, 40*mib+123)
	}
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) { roundTrip(t, c, dir, size, 7) })
	}
	ctx := ctxT(t)
	for _, size := range []int64{mib, 3*mib + 17} {
		src := fmt.Sprintf("rt/7/obj-%d", size)
		if _, err := c.Copy(ctx, src, src+".copy", nil); err != nil {
			t.Fatal(err)
		}
		a, err1 := c.Head(ctx, src)
		b, err2 := c.Head(ctx, src+".copy")
		if err := errors.Join(err1, err2); err != nil || a.CRC64 != b.CRC64 || a.Size != b.Size {
			t.Errorf("copy under faults: %+v vs %+v (%v)", a, b, err)
		}
	}
	var keys []string
	for i := range 1500 {
		keys = append(keys, fmt.Sprintf("f/%04d", i))
	}
	putMany(t, c, keys)
	objs, _, _ := listAll(t, c, "f/", "")
	if len(objs) != len(keys) {
		t.Errorf("listed %d of %d keys", len(objs), len(keys))
	}
	if err := c.DeleteMany(ctx, keys); err != nil {
		t.Fatal(err)
	}
	if objs, _, _ := listAll(t, c, "f/", ""); len(objs) != 0 {
		t.Errorf("%d keys left", len(objs))
	}
	tot := Total(c.Stats())
	if tot.Retries == 0 || tot.Errors == 0 {
		t.Errorf("no retries at fault rate 0.2: %+v", tot)
	}
	t.Logf("client: %+v; server requests: %v", tot, srv.Stats().Requests)
	if n := len(listUploads(t, c, "")); n != 0 {
		// A retried InitiateMultipartUpload whose first answer was lost can
		// leak an upload; the fault server fails before acting, so none.
		t.Errorf("%d uploads left behind", n)
	}
}

// TestNotRetried checks that errors no retry can fix fail at once, with
// the right classification and one request.
func TestNotRetried(t *testing.T) {
	srv := startServer(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	good := newTestClient(t, srv.Endpoint, nil)
	if _, err := good.Put(ctxT(t), "exists", strings.NewReader("x"), 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := good.CheckBucket(ctxT(t)); err != nil {
		t.Fatalf("CheckBucket with a good config: %v", err)
	}

	type check func(error) bool
	tests := []struct {
		name  string
		mod   func(*Config)
		op    func(ctx context.Context, c *Client) error
		is    check
		isNot []check
	}{
		{"wrong secret", func(c *Config) { c.AccessKeySecret = "wrong" },
			func(ctx context.Context, c *Client) error { return c.CheckBucket(ctx) }, IsAuth, []check{IsNotFound, IsRetryable}},
		{"wrong secret V4", func(c *Config) { c.AccessKeySecret = "wrong"; c.Region = "cn-hangzhou" },
			func(ctx context.Context, c *Client) error { _, err := c.Head(ctx, "exists"); return err }, IsAuth, []check{IsNotFound, IsRetryable}},
		{"unknown key id", func(c *Config) { c.AccessKeyID = "nobody" },
			func(ctx context.Context, c *Client) error { return c.CheckBucket(ctx) }, IsAuth, []check{IsRetryable}},
		{"missing key head", nil,
			func(ctx context.Context, c *Client) error { _, err := c.Head(ctx, "missing"); return err }, IsNotFound, []check{IsAuth, IsRetryable, IsBucketMissing}},
		{"missing key get", nil,
			func(ctx context.Context, c *Client) error { _, err := c.GetRange(ctx, "missing", 0, 10); return err }, IsNotFound, []check{IsRetryable}},
		{"missing key copy", nil,
			func(ctx context.Context, c *Client) error { _, err := c.Copy(ctx, "missing", "dst", nil); return err }, IsNotFound, []check{IsRetryable}},
		{"missing bucket", func(c *Config) { c.Bucket = "nosuchbucket" },
			func(ctx context.Context, c *Client) error { return c.CheckBucket(ctx) }, IsBucketMissing, []check{IsNotFound, IsRetryable, IsAuth}},
		{"missing bucket head", func(c *Config) { c.Bucket = "nosuchbucket" },
			func(ctx context.Context, c *Client) error { _, err := c.Head(ctx, "exists"); return err }, IsBucketMissing, []check{IsRetryable}},
		{"closed port", func(c *Config) { c.Endpoint = closed },
			func(ctx context.Context, c *Client) error { return c.CheckBucket(ctx) }, IsUnreachable, []check{IsRetryable, IsAuth}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, srv.Endpoint, tt.mod)
			err := tt.op(ctxT(t), c)
			if err == nil || !tt.is(err) {
				t.Fatalf("got %v, want a matching error", err)
			}
			for _, not := range tt.isNot {
				if not(err) {
					t.Errorf("%v: misclassified", err)
				}
			}
			if strings.Contains(err.Error(), testSK) || strings.Contains(err.Error(), "wrong") {
				t.Errorf("error text holds the secret: %v", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Op == "" {
				t.Errorf("%v: not an *Error with an op", err)
			}
			if tot := Total(c.Stats()); tot.Retries != 0 {
				t.Errorf("retried %d times: %+v", tot.Retries, c.Stats())
			}
		})
	}
}

// TestBackoffHonoursContext: with every request failing and a long
// backoff, a context deadline ends the call during the pause.
func TestBackoffHonoursContext(t *testing.T) {
	srv := startServer(t, 1)
	c := newTestClient(t, srv.Endpoint, func(cfg *Config) { cfg.RetryBase = time.Hour; cfg.RetryMax = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// Backoff is uniform in [0, 1h]: a pause short enough to retry before
	// the deadline is possible but rare; take the first attempt that waits.
	_, err := c.Put(ctx, "k", bytes.NewReader([]byte("x")), 1, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	if s := c.Stats()["PutObject"]; s.Errors == 0 {
		t.Errorf("no failed attempt: %+v", s)
	}
}

// TestServerStatsMatch checks that the client's request counts match the
// server's for a fault-free mixed workload.
func TestServerStatsMatch(t *testing.T) {
	srv := startServer(t, 0)
	c := newTestClient(t, srv.Endpoint, nil)
	src, _ := writeRandomFile(t, t.TempDir(), 3*mib+1, 11)
	ctx := ctxT(t)
	if _, err := c.UploadFile(ctx, "s/x", src, UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy(ctx, "s/x", "s/y", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMany(ctx, []string{"s/y"}); err != nil {
		t.Fatal(err)
	}
	server := srv.Stats()
	for api, s := range c.Stats() {
		if s.Calls != server.Requests[api] {
			t.Errorf("%s: client sent %d, server saw %d", api, s.Calls, server.Requests[api])
		}
	}
	if up := Total(c.Stats()).BytesUp; up < server.BytesReceived {
		t.Errorf("client sent %d bytes, server received %d object bytes", up, server.BytesReceived)
	}
}
