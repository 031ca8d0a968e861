package ossio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// cuttingServer serves one object at any path and cuts the first `cuts`
// GET bodies after half of their bytes, as a broken connection would. It
// checks no signature: this test is about the reader, not the protocol.
func cuttingServer(t *testing.T, data []byte, cuts int32) (*httptest.Server, *atomic.Int32) {
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := gets.Add(1)
		if r.Method != http.MethodGet {
			http.Error(w, "only GET", http.StatusMethodNotAllowed)
			return
		}
		if im := r.Header.Get("If-Match"); im != "" && im != `"E1"` {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		start, end := int64(0), int64(len(data))-1
		status := http.StatusOK
		if rg := r.Header.Get("Range"); rg != "" {
			spec := strings.TrimPrefix(rg, "bytes=")
			a, b, _ := strings.Cut(spec, "-")
			start, _ = strconv.ParseInt(a, 10, 64)
			if b != "" {
				end, _ = strconv.ParseInt(b, 10, 64)
				end = min(end, int64(len(data))-1)
			}
			status = http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(data)))
		}
		body := data[start : end+1]
		w.Header().Set("Etag", `"E1"`)
		w.Header().Set("X-Oss-Request-Id", fmt.Sprint("req-", n))
		w.Header().Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(crc64.Checksum(data, crcTable), 10))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		if n <= cuts {
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drops the connection mid-body
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &gets
}

func fakeClient(t *testing.T, endpoint string, attempts int) *Client {
	c, err := New(Config{Endpoint: endpoint, AccessKeyID: "ak", AccessKeySecret: "sk", Bucket: "bkt",
		MaxAttempts: attempts, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGetRangeResumesCutBody(t *testing.T) {
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	tests := []struct {
		name   string
		off, n int64
	}{
		{"whole", 0, -1},
		{"middle", 1000, 1 << 20},
		{"tail", 5, -1},
		{"clipped", int64(len(data)) - 10, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, gets := cuttingServer(t, data, 2)
			c := fakeClient(t, srv.URL, 4)
			r, err := c.GetRange(context.Background(), "k", tt.off, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			end := int64(len(data))
			if tt.n >= 0 {
				end = min(end, tt.off+tt.n)
			}
			if !bytes.Equal(got, data[tt.off:end]) {
				t.Fatalf("got %d bytes, want %d equal bytes", len(got), end-tt.off)
			}
			if g := gets.Load(); g != 3 {
				t.Errorf("%d GETs, want 3 (two cut, one whole)", g)
			}
			if s := c.Stats()["GetObject"]; s.Retries != 2 || s.Calls != 3 {
				t.Errorf("stats %+v, want 3 calls and 2 retries", s)
			}
		})
	}
}

func TestGetRangeCutBodyIsAnErrorNotEOF(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1<<20)
	srv, _ := cuttingServer(t, data, 100)
	c := fakeClient(t, srv.URL, 2)
	r, err := c.GetRange(context.Background(), "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err == nil {
		t.Fatalf("read %d of %d bytes with no error", len(got), len(data))
	}
	if !IsRetryable(err) {
		t.Errorf("cut body: %v, want a retryable error", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "GetObject" || e.Key != "k" {
		t.Errorf("error %v lacks op and key", err)
	}
}

func TestGetRangeDetectsCorruptWholeObject(t *testing.T) {
	data := bytes.Repeat([]byte("y"), 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Oss-Hash-Crc64ecma", "12345")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	}))
	defer srv.Close()
	c := fakeClient(t, srv.URL, 1)
	r, err := c.GetRange(context.Background(), "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadAll(r); !errors.Is(err, ErrCRCMismatch) {
		t.Errorf("got %v, want ErrCRCMismatch", err)
	}
}
