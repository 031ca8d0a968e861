package ossserver

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// putMany stores empty objects concurrently.
func putMany(t *testing.T, b *oss.Bucket, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	ch := make(chan string)
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for k := range ch {
				if err := b.PutObject(k, strings.NewReader("")); err != nil {
					select {
					case errs <- fmt.Errorf("put %q: %w", k, err):
					default:
					}
				}
			}
		})
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// listAllV1 pages through ListObjects and returns keys and prefixes.
func listAllV1(t *testing.T, b *oss.Bucket, opts ...oss.Option) (keys, prefixes []string, pages int) {
	t.Helper()
	marker := ""
	for {
		res, err := b.ListObjects(append(opts, oss.Marker(marker))...)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			return
		}
		if res.NextMarker == "" || pages > 10000 {
			t.Fatalf("truncated page without NextMarker")
		}
		marker = res.NextMarker
	}
}

func listAllV2(t *testing.T, b *oss.Bucket, opts ...oss.Option) (keys, prefixes []string, pages int) {
	t.Helper()
	token := ""
	for {
		o := opts
		if token != "" {
			o = append(o, oss.ContinuationToken(token))
		}
		res, err := b.ListObjectsV2(o...)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			return
		}
		if res.NextContinuationToken == "" || pages > 10000 {
			t.Fatalf("truncated page without token")
		}
		token = res.NextContinuationToken
	}
}

func TestListPagination(t *testing.T) {
	// 2,500 keys: 2,000 under 50 "directories", 500 at the top; plus `a`,
	// `a/`, `a/b` that must coexist.
	var keys []string
	for d := range 50 {
		for f := range 40 {
			keys = append(keys, fmt.Sprintf("dir%02d/file%03d", d, f))
		}
	}
	for i := range 497 {
		keys = append(keys, fmt.Sprintf("top%03d", i))
	}
	keys = append(keys, "a", "a/", "a/b")
	slices.Sort(keys)
	var wantTop, wantPrefixes []string
	for _, k := range keys {
		if i := strings.Index(k, "/"); i >= 0 {
			if p := k[:i+1]; !slices.Contains(wantPrefixes, p) {
				wantPrefixes = append(wantPrefixes, p)
			}
		} else {
			wantTop = append(wantTop, k)
		}
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			srv := startServer(t, Config{Root: be.root(t)})
			for _, sg := range signers {
				t.Run(sg.name, func(t *testing.T) {
					b := bucketOf(t, client(t, srv.Endpoint, sg), testBucket)
					if sg.name == "v1" {
						putMany(t, b, keys)
					}
					for _, tc := range []struct {
						name string
						list func(*testing.T, *oss.Bucket, ...oss.Option) ([]string, []string, int)
					}{{"v1", listAllV1}, {"v2", listAllV2}} {
						got, prefixes, pages := tc.list(t, b, oss.MaxKeys(1000))
						if !slices.Equal(got, keys) || len(prefixes) != 0 || pages != 3 {
							t.Fatalf("%s flat: %d keys (want %d), %d prefixes, %d pages", tc.name, len(got), len(keys), len(prefixes), pages)
						}
						got, _, pages = tc.list(t, b) // default max-keys 100
						if len(got) != len(keys) || pages != 25 {
							t.Fatalf("%s default: %d keys in %d pages", tc.name, len(got), pages)
						}
						got, prefixes, pages = tc.list(t, b, oss.Delimiter("/"), oss.MaxKeys(7))
						if !slices.Equal(got, wantTop) || !slices.Equal(prefixes, wantPrefixes) {
							t.Fatalf("%s delimiter: %d keys %d prefixes, want %d %d", tc.name, len(got), len(prefixes), len(wantTop), len(wantPrefixes))
						}
						// Prefixes count toward max-keys: 498+51 entries in pages of 7.
						if want := (len(wantTop) + len(wantPrefixes) + 6) / 7; pages != want {
							t.Fatalf("%s delimiter: %d pages, want %d", tc.name, pages, want)
						}
						got, prefixes, _ = tc.list(t, b, oss.Prefix("dir07/"), oss.Delimiter("/"), oss.MaxKeys(3))
						if len(got) != 40 || len(prefixes) != 0 || got[0] != "dir07/file000" {
							t.Fatalf("%s prefix: %d keys %v", tc.name, len(got), prefixes)
						}
						got, prefixes, _ = tc.list(t, b, oss.Prefix("a"), oss.Delimiter("/"))
						if !slices.Equal(got, []string{"a"}) || !slices.Equal(prefixes, []string{"a/"}) {
							t.Fatalf("%s a vs a/: %v %v", tc.name, got, prefixes)
						}
						got, _, _ = tc.list(t, b, oss.Prefix("a/"), oss.Delimiter("/"))
						if !slices.Equal(got, []string{"a/", "a/b"}) {
							t.Fatalf("%s under a/: %v", tc.name, got)
						}
					}
					// start-after (v2) and marker being a common prefix (v1).
					res, err := b.ListObjectsV2(oss.StartAfter("top495"))
					if err != nil || len(res.Objects) != 1 || res.Objects[0].Key != "top496" {
						t.Fatalf("start-after: %+v %v", res, err)
					}
					r1, err := b.ListObjects(oss.Marker("dir48/"), oss.Delimiter("/"), oss.MaxKeys(2))
					if err != nil || !slices.Equal(r1.CommonPrefixes, []string{"dir49/"}) || len(r1.Objects) != 1 || r1.Objects[0].Key != "top000" {
						t.Fatalf("marker at a prefix: %+v %v", r1, err)
					}
				})
			}
		})
	}
}

func TestListEncodingAndLimits(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		odd := []string{"sp ace/x", "plus+/y", "pct%2F/z", "uni/日本語", "amp&lt;<>\"'", "tab\tkey", "tilde~*"}
		for _, k := range odd {
			mustPut(t, b, k, []byte("1"))
		}
		want := slices.Clone(odd)
		slices.Sort(want)
		got, _, _ := listAllV1(t, b)
		if !slices.Equal(got, want) {
			t.Fatalf("v1 keys %q, want %q", got, want)
		}
		got, _, _ = listAllV2(t, b, oss.MaxKeys(2))
		if !slices.Equal(got, want) {
			t.Fatalf("v2 keys %q, want %q", got, want)
		}
		_, prefixes, _ := listAllV1(t, b, oss.Delimiter("/"), oss.MaxKeys(1))
		if !slices.Equal(prefixes, []string{"pct%2F/", "plus+/", "sp ace/", "uni/"}) {
			t.Fatalf("prefixes %q", prefixes)
		}
		res, err := b.ListObjects(oss.Prefix("plus+"))
		if err != nil || len(res.Objects) != 1 || res.Prefix != "plus+" {
			t.Fatalf("prefix with '+': %+v %v", res, err)
		}
		o := res.Objects[0]
		if o.Size != 1 || o.Type != "Normal" || o.StorageClass != "Standard" || o.ETag == "" || o.LastModified.IsZero() {
			t.Fatalf("listed object %+v", o)
		}
		for _, bad := range []int{1001, -1} {
			_, err := b.ListObjects(oss.MaxKeys(bad))
			wantCode(t, err, "InvalidArgument")
		}
		if res, err := b.ListObjects(oss.MaxKeys(1000)); err != nil || len(res.Objects) != len(odd) {
			t.Fatalf("max-keys 1000: %v", err)
		}
	})
}

// TestListRawXML checks the raw encoding of a listing: '+' and space
// percent-encoded, the timestamp format.
func TestListRawXML(t *testing.T) {
	srv := startServer(t, Config{})
	b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
	mustPut(t, b, "a+b c/d", []byte("x"))
	resp, err := b.Do("GET", "", map[string]any{"encoding-type": "url", "delimiter": "/"}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := string(body)
	if !strings.Contains(s, "<Prefix>a%2Bb%20c%2F</Prefix>") || !strings.Contains(s, "<Delimiter>%2F</Delimiter>") {
		t.Fatalf("raw listing: %s", s)
	}
	resp, err = b.Do("GET", "", map[string]any{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	s = string(body)
	i := strings.Index(s, "<LastModified>")
	if !strings.Contains(s, "<Key>a+b c/d</Key>") || i < 0 || s[i+len("<LastModified>")+23] != 'Z' || s[i+len("<LastModified>")+19] != '.' {
		t.Fatalf("raw listing without encoding: %s", s)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
}

// TestSortedKeysMerge puts, deletes and puts again keys between listings:
// every listing holds exactly the live keys, in order, once each.
func TestSortedKeysMerge(t *testing.T) {
	b := newBucket("b", time.Now())
	live := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		for n := rng.IntN(20); n > 0; n-- {
			k := fmt.Sprintf("k%03d", rng.IntN(100))
			if rng.IntN(3) == 0 {
				b.deleteObject(k)
				delete(live, k)
			} else {
				b.setObject(&object{Key: k})
				live[k] = true
			}
		}
		var want []string
		for k := range live {
			want = append(want, k)
		}
		slices.Sort(want)
		if got := b.sortedKeys(); !slices.Equal(got, want) {
			t.Fatalf("round %d: keys %v, want %v", round, got, want)
		}
	}
}

// TestTimesInWholeSeconds: OSS keeps object times in whole seconds, and
// clients parse them strictly (ossfs 2.0 refused ".326Z"): listings v1 and
// v2, ListParts and copy results say whole seconds, and Last-Modified
// agrees with the listing.
func TestTimesInWholeSeconds(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		mustPut(t, b, "t/a", []byte("x"))
		cp, err := b.CopyObject("t/a", "t/b")
		if err != nil {
			t.Fatal(err)
		}
		v1, err := b.ListObjects(oss.Prefix("t/"))
		if err != nil {
			t.Fatal(err)
		}
		v2, err := b.ListObjectsV2(oss.Prefix("t/"))
		if err != nil {
			t.Fatal(err)
		}
		imur, err := b.InitiateMultipartUpload("t/m")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.UploadPart(imur, strings.NewReader("part"), 4, 1); err != nil {
			t.Fatal(err)
		}
		parts, err := b.ListUploadedParts(imur)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := b.GetObjectDetailedMeta("t/a")
		if err != nil {
			t.Fatal(err)
		}
		header, err := http.ParseTime(meta.Get("Last-Modified"))
		if err != nil {
			t.Fatal(err)
		}
		times := map[string]time.Time{"copy result": cp.LastModified, "ListParts": parts.UploadedParts[0].LastModified}
		for i, o := range v1.Objects {
			times["v1 "+o.Key] = o.LastModified
			times["v2 "+o.Key] = v2.Objects[i].LastModified
		}
		for what, tm := range times {
			if tm.IsZero() || tm.Nanosecond() != 0 {
				t.Errorf("%s: LastModified %v, want whole seconds", what, tm)
			}
		}
		if !v1.Objects[0].LastModified.Equal(header) {
			t.Errorf("listing says %v, Last-Modified %v", v1.Objects[0].LastModified, header)
		}
	})
}

// TestListingXMLAsOSSWritesIt: the ETag's quotes are written "&quot;", as
// OSS writes them, and the listing says whole seconds.
func TestListingXMLAsOSSWritesIt(t *testing.T) {
	srv, err := Start(Config{Buckets: []string{"open-bucket"}}, "127.0.0.1:0") // no keys: no signatures
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.Endpoint+"/open-bucket/k", strings.NewReader("x"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("put: %v %v", resp, err)
	}
	resp, err := http.Get(srv.Endpoint + "/open-bucket/?prefix=k")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<ETag>&quot;9DD4E461268C8034F5C8564E155C67A6&quot;</ETag>") || strings.Contains(string(body), "&#34;") {
		t.Errorf("listing body:\n%s", body)
	}
	if !strings.Contains(string(body), ".000Z</LastModified>") {
		t.Errorf("LastModified not in whole seconds:\n%s", body)
	}
}
