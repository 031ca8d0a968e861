package ossio

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// newTransport builds the HTTP transport under the SDK. We bring our own
// rather than the SDK's so that dials honour the request context and so
// that Go never asks for gzip (a transparently decompressed body would not
// match Content-Length, ranges or CRCs).
func newTransport(cfg Config) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	// An idle pooled connection must be dropped before its pending read
	// hits the stall deadline, or a reused connection could time out early.
	idle := 45 * time.Second
	if idle > cfg.IOTimeout*3/4 {
		idle = cfg.IOTimeout * 3 / 4
	}
	conns := cfg.Concurrency * 2
	if conns < 16 {
		conns = 16
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newStallConn(c, cfg.IOTimeout), nil
		},
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     idle,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true,
	}
}

// stallConn fails a read or write that makes no progress for timeout.
// Every write (a request going out) also pushes the read deadline forward,
// so the server gets the full timeout to start answering.
type stallConn struct {
	net.Conn
	timeout time.Duration
}

func newStallConn(c net.Conn, timeout time.Duration) net.Conn {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	return &stallConn{Conn: c, timeout: timeout}
}

func (c *stallConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(b)
}

func (c *stallConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	n, err := c.Conn.Write(b)
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return n, err
}

// attempt carries one request's identity down to the transport and its
// outcome (status, request id) back up, so that errors the SDK reports
// without them (an unparsable 502, a truncated body) still get them.
// One attempt is exactly one RoundTrip, made on the caller's goroutine.
type attempt struct {
	api       string
	status    int
	requestID string
}

type attemptKey struct{}

func withAttempt(ctx context.Context, a *attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

func attemptFrom(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

// meter is the accounting decorator over the transport: it counts the
// bytes that really cross the wire per OSS API, retries included.
type meter struct {
	next  http.RoundTripper
	stats *statsTable
}

func (m *meter) RoundTrip(req *http.Request) (*http.Response, error) {
	api := "Other"
	a := attemptFrom(req.Context())
	if a != nil {
		api = a.api
	}
	ctr := m.stats.get(api)
	if req.Body != nil && req.Body != http.NoBody {
		r := req.Clone(req.Context())
		r.Body = &countingBody{rc: req.Body, n: &ctr.bytesUp}
		req = r
	}
	resp, err := m.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if a != nil {
		a.status = resp.StatusCode
		a.requestID = resp.Header.Get("X-Oss-Request-Id")
	}
	resp.Body = &countingBody{rc: resp.Body, n: &ctr.bytesDown}
	return resp, nil
}

type countingBody struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
