package ossio

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// lossyProxy forwards to the server but, for the first request matching
// lose, replaces the server's answer with a 502 after the server has
// acted: the response lost on the way back that real networks produce.
func lossyProxy(t *testing.T, target string, lose func(*http.Request) bool) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if lose(resp.Request) && lost.CompareAndSwap(false, true) {
			return errors.New("response lost")
		}
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) }
	p := httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

// TestCompleteResponseLost: a Complete that took effect but whose answer
// was lost is retried, meets NoSuchUpload, and is recognised as done
// because the object's CRC is the one we built.
func TestCompleteResponseLost(t *testing.T) {
	srv := startServer(t, 0)
	p := lossyProxy(t, srv.Endpoint, func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.Contains(r.URL.RawQuery, "uploadId=")
	})
	c := newTestClient(t, p.URL, nil)
	src, crc := writeRandomFile(t, t.TempDir(), 3*mib+5, 21)
	o, err := c.UploadFile(ctxT(t), "lost/x", src, UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o.CRC64 != crc || o.Size != 3*mib+5 {
		t.Errorf("got %+v, want crc %d", o, crc)
	}
	if s := c.Stats()["CompleteMultipartUpload"]; s.Calls != 2 || s.Retries != 1 {
		t.Errorf("Complete stats %+v, want one retry", s)
	}
}

// TestDownloadObjectReplaced: an object overwritten in the middle of a
// Download makes it fail (every part is pinned to the first ETag) instead
// of returning a mix of both versions.
func TestDownloadObjectReplaced(t *testing.T) {
	srv := startServer(t, 0)
	direct := newTestClient(t, srv.Endpoint, nil)
	oldData, newData := randomBytes(4*mib, 1), randomBytes(4*mib, 2)
	if _, err := direct.Put(ctxT(t), "chg/x", bytes.NewReader(oldData), int64(len(oldData)), nil); err != nil {
		t.Fatal(err)
	}
	var gets atomic.Int32
	u, _ := url.Parse(srv.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(u)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" && gets.Add(1) == 2 {
			if _, err := direct.Put(r.Context(), "chg/x", bytes.NewReader(newData), int64(len(newData)), nil); err != nil {
				t.Error(err)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	c := newTestClient(t, proxy.URL, func(cfg *Config) { cfg.Concurrency = 1 })
	f, err := os.Create(filepath.Join(t.TempDir(), "dl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = c.Download(ctxT(t), "chg/x", f)
	if err == nil {
		t.Fatal("Download of an object replaced mid-way succeeded")
	}
	if IsRetryable(err) {
		t.Errorf("%v: a changed object is not worth retrying", err)
	}
	t.Logf("as expected: %v", err)
}
