// Package clients runs OSS clients other than the Go SDK against
// `ossmount server`, so that the server speaks OSS to every real client.
package clients

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// seen is what a client reports of one object it left behind.
type seen struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"`
	Type         string            `json:"type"`
	LastModified string            `json:"lastModified"`
	CRC64        string            `json:"crc64"`
	Meta         map[string]string `json:"meta"`
	MD5          string            `json:"md5"`
}

// TestAliOSS runs ali-oss, Alibaba Cloud's Node.js SDK, through every
// protocol point of clients/alioss/conformance.js (put, get, head, delete,
// ranged reads, listings v1 and v2 with prefix, delimiter, pagination and
// URL encoding, multipart with parts listed and aborted, copy, append,
// batch delete, user metadata, errors), with V1 and V4 signatures, an STS
// token, path-style and virtual-hosted addressing; then reads what it left
// through the Go SDK: both SDKs must see the same objects.
func TestAliOSS(t *testing.T) {
	dir := aliOSSDir(t)
	const domain = "oss.test"
	srv := harness.StartServer(t, harness.ServerOptions{Domain: domain})
	_, port, _ := strings.Cut(srv.Addr(), ":")
	cases := []struct{ name, mode, sig, sts string }{
		{"path-v1", "path", "v1", ""},
		{"path-v4", "path", "v4", ""},
		{"vhost-v1", "vhost", "v1", ""},
		{"vhost-v4", "vhost", "v4", ""},
		{"path-v4-sts", "path", "v4", "sts-token-for-the-test"},
	}
	gosdk := srv.Bucket(t, harness.DefaultBucket)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			endpoint := srv.Endpoint
			if c.mode == "vhost" {
				endpoint = "http://" + domain + ":" + port
			}
			prefix := "alioss/" + c.name + "/"
			cmd := exec.Command("node", "conformance.js")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(),
				"OSS_ENDPOINT="+endpoint, "OSS_BUCKET="+harness.DefaultBucket,
				"OSS_ACCESS_KEY_ID="+harness.AccessKeyID, "OSS_ACCESS_KEY_SECRET="+harness.AccessKeySecret,
				"OSS_STS_TOKEN="+c.sts, "MODE="+c.mode, "SIG="+c.sig, "PREFIX="+prefix)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ali-oss against the server (%s): %v\n%s\nserver log:\n%s", c.name, err, stderr.String(), harness.Tail(srv.Log(), 20))
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			var objects []seen
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &objects); err != nil {
				t.Fatalf("ali-oss report: %v\n%s", err, stdout.String())
			}
			var keys []string
			for _, want := range objects {
				keys = append(keys, want.Key)
				compareWithGoSDK(t, gosdk, want)
			}
			if got := gosdk.Keys(t, prefix); strings.Join(got, ",") != strings.Join(slices.Sorted(slices.Values(keys)), ",") {
				t.Errorf("the Go SDK lists %q under %s, ali-oss left %q", got, prefix, keys)
			}
		})
	}
}

// compareWithGoSDK fails unless the Go SDK sees the object as ali-oss did.
func compareWithGoSDK(t *testing.T, b *harness.Bucket, want seen) {
	t.Helper()
	h, err := b.GetObjectDetailedMeta(want.Key)
	if err != nil {
		t.Fatalf("Go SDK: head %q: %v", want.Key, err)
	}
	data, ok := b.Get(t, want.Key)
	if !ok {
		t.Fatalf("Go SDK: %q missing", want.Key)
	}
	sum := md5.Sum(data)
	got := seen{Key: want.Key, Size: int64(len(data)), ETag: h.Get("ETag"), Type: h.Get("X-Oss-Object-Type"),
		LastModified: h.Get("Last-Modified"), CRC64: h.Get("X-Oss-Hash-Crc64ecma"), Meta: map[string]string{}, MD5: hex.EncodeToString(sum[:])}
	for k, v := range h {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-oss-meta-"); ok {
			got.Meta[name] = v[0]
		}
	}
	if size, _ := strconv.ParseInt(h.Get("Content-Length"), 10, 64); size != want.Size {
		t.Errorf("%s: Content-Length %d to the Go SDK, %d to ali-oss", want.Key, size, want.Size)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Errorf("the two SDKs see %s differently:\n Go SDK: %s\n ali-oss: %s", want.Key, gj, wj)
	}
}

// aliOSSDir is where ali-oss is installed (`.ci/run` runs npm ci there).
// Under CI a missing node or ali-oss fails the test; by hand it skips.
func aliOSSDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("alioss")
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "ali-oss", "package.json"))
	if nodeErr == nil && modErr == nil {
		return dir
	}
	msg := "ali-oss is not installed: run `npm ci` in test/clients/alioss (Node.js 18 or later), as .ci/run does"
	if nodeErr != nil {
		msg = "node is not on PATH: install Node.js (Debian: nodejs npm), then `npm ci` in test/clients/alioss"
	}
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
