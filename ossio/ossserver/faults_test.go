package ossserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// faultRun makes a fixed sequence of requests and records each outcome.
func faultRun(t *testing.T, seed int64) ([]string, *Running) {
	srv := startServer(t, Config{FaultRate: 0.4, Seed: seed})
	b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	data := pattern(64<<10, 1)
	var out []string
	for i := range 40 {
		key := fmt.Sprintf("k%d", i%5)
		var err error
		switch i % 3 {
		case 0:
			err = b.PutObject(key, bytes.NewReader(data))
		case 1:
			var rc io.ReadCloser
			if rc, err = b.GetObject(key); err == nil {
				var got []byte
				got, err = io.ReadAll(rc)
				rc.Close()
				if err == nil && !bytes.Equal(got, data) {
					err = fmt.Errorf("short body %d", len(got))
				}
			}
		case 2:
			_, err = b.ListObjects()
		}
		switch code := errCode(err); {
		case err == nil:
			out = append(out, "ok")
		case strings.HasPrefix(code, "non-service error"):
			out = append(out, "cut")
		default:
			out = append(out, code)
		}
	}
	return out, srv
}

func TestFaultInjectionReproducible(t *testing.T) {
	a, srv := faultRun(t, 7)
	b, _ := faultRun(t, 7)
	c, _ := faultRun(t, 8)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatalf("different seeds, same faults: %v", a)
	}
	kinds := map[string]int{}
	for _, o := range a {
		kinds[o]++
	}
	if kinds["ok"] == 0 || kinds["InternalError"]+kinds["ServiceUnavailable"] == 0 {
		t.Fatalf("outcomes %v", kinds)
	}
	// /_stats is never faulted, and faults changed nothing stored: every
	// key either holds the whole data or does not exist.
	srv.SetFaults(0, 1)
	for range 5 {
		resp, err := http.Get(srv.Endpoint + "/_stats")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stats under faults: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	srv.SetFaults(0, 0)
	bk := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	keys, _, _ := listAllV1(t, bk)
	for _, k := range keys {
		if got := mustGet(t, bk, k); len(got) != 64<<10 {
			t.Fatalf("%q holds %d bytes", k, len(got))
		}
	}
}

func TestFaultCutsBody(t *testing.T) {
	srv := startServer(t, Config{})
	b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	mustPut(t, b, "k", pattern(1<<20, 1))
	srv.SetFaults(0, 1)
	cut := 0
	for range 30 {
		rc, err := b.GetObject("k")
		if err != nil {
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err == nil && len(got) == 1<<20 {
			t.Fatal("a request got through at fault rate 1")
		}
		cut++
	}
	if cut == 0 {
		t.Fatal("no body was cut in 30 faulted GETs")
	}
}

func TestStatsEndpoint(t *testing.T) {
	srv := startServer(t, Config{})
	b := bucketOf(t, client(t, srv.Endpoint, signers[1]), testBucket)
	mustPut(t, b, "k", []byte("12345"))
	mustGet(t, b, "k")
	mustGet(t, b, "k", oss.Range(1, 2))
	if _, err := b.ListObjectsV2(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AppendObject("ap", strings.NewReader("abc"), 0); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.Endpoint + "/_stats")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(raw), testSecret) {
		t.Fatal("stats show the secret")
	}
	var st Stats
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	want := Stats{Requests: map[string]int64{"PutObject": 1, "GetObject": 2, "ListObjectsV2": 1, "AppendObject": 1}, BytesReceived: 8, BytesSent: 7}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	req, _ := http.NewRequest("DELETE", srv.Endpoint+"/_stats", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("reset: %v %v", resp, err)
	}
	if st := srv.Stats(); len(st.Requests) != 0 || st.BytesSent != 0 {
		t.Fatalf("after reset: %+v", st)
	}
}
