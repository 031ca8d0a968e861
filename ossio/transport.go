package ossio

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
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
//
// It also makes RoundTrip return only once the transport has finished
// with the request body. net/http may go on reading a body after
// RoundTrip returns (when the server answers early, as an error does),
// and then both the SDK's progress tracker (read in conn.go right after
// Do returns) and our retry, rewinding the same reader, would race with
// that read.
type meter struct {
	next    http.RoundTripper
	stats   *statsTable
	timeout time.Duration // longest wait for the transport to let go of a body
}

// maxErrorBody bounds what meter buffers of an early non-2xx answer.
const maxErrorBody = 1 << 20

func (m *meter) RoundTrip(req *http.Request) (*http.Response, error) {
	api := "Other"
	a := attemptFrom(req.Context())
	if a != nil {
		api = a.api
	}
	ctr := m.stats.get(api)
	var done chan struct{}
	if req.Body != nil && req.Body != http.NoBody {
		done = make(chan struct{})
		r := req.Clone(req.Context())
		r.Body = &countingBody{rc: req.Body, n: &ctr.bytesUp, done: done}
		req = r
	}
	resp, err := m.next.RoundTrip(req)
	if err != nil {
		m.wait(done)
		return nil, err
	}
	if a != nil {
		a.status = resp.StatusCode
		a.requestID = resp.Header.Get("X-Oss-Request-Id")
	}
	resp.Body = &countingBody{rc: resp.Body, n: &ctr.bytesDown}
	if done != nil && resp.StatusCode/100 != 2 {
		// The transport may still be sending the body; it stops once the
		// answer is consumed and the connection dropped. Consume it here.
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if rerr != nil {
			m.wait(done)
			return nil, rerr
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
	}
	m.wait(done)
	return resp, nil
}

// wait blocks until the transport has closed the request body (nil: none).
// The bound only guards against a transport bug: the body is closed once
// written, or once the connection fails.
func (m *meter) wait(done chan struct{}) {
	if done == nil {
		return
	}
	t := time.NewTimer(m.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

type countingBody struct {
	rc   io.ReadCloser
	n    *atomic.Int64
	done chan struct{} // closed on the first Close, when not nil
	once sync.Once
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error {
	err := b.rc.Close()
	if b.done != nil {
		b.once.Do(func() { close(b.done) })
	}
	return err
}
