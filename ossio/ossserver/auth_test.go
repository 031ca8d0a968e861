package ossserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestSignatures(t *testing.T) {
	srv := startServer(t, Config{})
	all := append(signers, signer{"v2", []oss.ClientOption{oss.AuthVersion(oss.AuthV2)}})
	for _, sg := range all {
		t.Run(sg.name, func(t *testing.T) {
			tests := []struct {
				name, ak, secret string
				opts             []oss.ClientOption
				code             string
			}{
				{"good", testAK, testSecret, nil, ""},
				{"sts token", testAK, testSecret, []oss.ClientOption{oss.SecurityToken("sts-token/with+odd=chars")}, ""},
				{"wrong secret", testAK, "wrong", nil, "SignatureDoesNotMatch"},
				{"unknown key", "nobody", testSecret, nil, "InvalidAccessKeyId"},
			}
			for _, tc := range tests {
				c, err := oss.New(srv.Endpoint, tc.ak, tc.secret, append(append([]oss.ClientOption{}, sg.opts...), tc.opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				b := bucketOf(t, c, testBucket)
				key := "k/" + tc.name + " +%ü"
				err = b.PutObject(key, strings.NewReader("x"), oss.Meta("a", "b"))
				if got := errCode(err); got != tc.code {
					t.Fatalf("%s: put: %v", tc.name, err)
				}
				_, err = b.ListObjectsV2(oss.Prefix("k/"), oss.ContinuationToken("azE"), oss.MaxKeys(5))
				if got := errCode(err); got != tc.code {
					t.Fatalf("%s: list: %v", tc.name, err)
				}
				_, err = b.GetObjectMeta(key)
				if got := errCode(err); got != tc.code {
					t.Fatalf("%s: head ?objectMeta: %v", tc.name, err)
				}
				if err != nil && strings.Contains(err.Error(), testSecret) {
					t.Fatalf("error shows the secret: %v", err)
				}
			}
		})
	}
}

func TestNoAuthorization(t *testing.T) {
	srv := startServer(t, Config{})
	for _, method := range []string{"GET", "HEAD", "PUT"} {
		req, _ := http.NewRequest(method, srv.Endpoint+"/"+testBucket+"/k", strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get("x-oss-request-id") == "" {
			t.Fatalf("%s: %d %v", method, resp.StatusCode, resp.Header)
		}
		if method == "HEAD" {
			if resp.Header.Get("x-oss-err") == "" {
				t.Fatalf("HEAD error without x-oss-err")
			}
		} else if !strings.Contains(string(body), "<Code>AccessDenied</Code>") || !strings.Contains(string(body), "<RequestId>") {
			t.Fatalf("%s body: %s", method, body)
		}
	}
}

func TestPresignedURL(t *testing.T) {
	srv := startServer(t, Config{})
	b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	mustPut(t, b, "signed key+", []byte("payload"))
	u, err := b.SignURL("signed key+", oss.HTTPGet, 60)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "payload" {
		t.Fatalf("signed GET: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(strings.Replace(u, "Signature=", "Signature=x", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("tampered signed URL: %d", resp.StatusCode)
	}
}

// dialTo makes an http.Client that connects every request to addr, so
// virtual-hosted names need no DNS.
func dialTo(addr string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

func TestAddressing(t *testing.T) {
	srv := startServer(t, Config{Domain: "oss.test"})
	cname := httptest.NewServer(srv.CnameHandler(testBucket))
	t.Cleanup(cname.Close)
	_, port, _ := net.SplitHostPort(srv.Addr)
	// The SDK uses path style for any IP endpoint, even with UseCname, so
	// the custom domain gets a name.
	cnameAddr := strings.TrimPrefix(cname.URL, "http://")
	_, cnamePort, _ := net.SplitHostPort(cnameAddr)
	for _, sg := range signers {
		styles := []struct {
			name string
			c    *oss.Client
		}{
			{"path", client(t, srv.Endpoint, sg)},
			{"forced path on a name", client(t, "http://oss.test:"+port, sg, oss.ForcePathStyle(true), oss.HTTPClient(dialTo(srv.Addr)))},
			{"virtual-hosted", client(t, "http://oss.test:"+port, sg, oss.HTTPClient(dialTo(srv.Addr)))},
			{"cname", client(t, "http://cdn.example.test:"+cnamePort, sg, oss.UseCname(true), oss.HTTPClient(dialTo(cnameAddr)))},
		}
		for _, st := range styles {
			t.Run(sg.name+"/"+st.name, func(t *testing.T) {
				b := bucketOf(t, st.c, testBucket)
				key := st.name + "/x y+z%/ü"
				mustPut(t, b, key, []byte(st.name))
				if got := mustGet(t, b, key); string(got) != st.name {
					t.Fatalf("got %q", got)
				}
				res, err := b.ListObjects(oss.Prefix(st.name + "/"))
				if err != nil || len(res.Objects) != 1 || res.Objects[0].Key != key {
					t.Fatalf("list: %+v %v", res, err)
				}
				if _, err := b.CopyObject(key, key+".copy"); err != nil {
					t.Fatalf("copy: %v", err)
				}
				if _, err := b.DeleteObjects([]string{key, key + ".copy"}); err != nil {
					t.Fatalf("delete: %v", err)
				}
			})
		}
	}
	// A virtual-hosted request for a missing bucket.
	c := client(t, "http://oss.test:"+port, signers[0], oss.HTTPClient(dialTo(srv.Addr)))
	_, err := bucketOf(t, c, "missing-bucket").GetObject("k")
	wantCode(t, err, "NoSuchBucket")
}

func TestAdditionalHeadersSigned(t *testing.T) {
	srv := startServer(t, Config{})
	for _, sg := range []signer{
		{"v4", []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region("cn-hangzhou"), oss.AdditionalHeaders([]string{"host", "User-Agent"})}},
		{"v2", []oss.ClientOption{oss.AuthVersion(oss.AuthV2), oss.AdditionalHeaders([]string{"host", "user-agent"})}},
	} {
		t.Run(sg.name, func(t *testing.T) {
			b := bucketOf(t, client(t, srv.Endpoint, sg), testBucket)
			mustPut(t, b, "with additional/headers", []byte("x"))
			if got := mustGet(t, b, "with additional/headers"); string(got) != "x" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestPanicBecomesInternalError(t *testing.T) {
	// Without credentials the server accepts unsigned requests.
	s, err := New(Config{Buckets: []string{testBucket}})
	if err != nil {
		t.Fatal(err)
	}
	s.blobs = nil // makes the next PUT panic inside the handler
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("PUT", "/"+testBucket+"/k", strings.NewReader("x")))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "<Code>InternalError</Code>") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// TestV1WithXOSSDate: a V1 request that carries x-oss-date and no Date
// header (ali-oss, which also runs in browsers, sends only x-oss-date) is
// signed with that date in the Date line.
func TestV1WithXOSSDate(t *testing.T) {
	srv := startServer(t, Config{})
	b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	mustPut(t, b, "xdate", []byte("x"))
	date := time.Now().UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		signed string // the date in the Date line
		want   int
	}{
		{"x-oss-date signed", date, http.StatusOK},
		{"empty Date line", "", http.StatusForbidden},
	} {
		str := "GET\n\n\n" + tc.signed + "\nx-oss-date:" + date + "\n/" + testBucket + "/xdate"
		mac := hmac.New(sha1.New, []byte(testSecret))
		mac.Write([]byte(str))
		req, _ := http.NewRequest(http.MethodGet, srv.Endpoint+"/"+testBucket+"/xdate", nil)
		req.Header.Set("x-oss-date", date)
		req.Header.Set("Authorization", "OSS "+testAK+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}
