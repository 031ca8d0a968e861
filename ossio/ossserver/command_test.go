package ossserver

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCommand(t *testing.T) {
	t.Setenv("OSS_ACCESS_KEY_ID", testAK)
	t.Setenv("OSS_ACCESS_KEY_SECRET", testSecret)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Command(ctx, []string{"--addr", "127.0.0.1:0", "--bucket", "one", "--bucket", "two", "--cname", "127.0.0.1:0=two", "--root", t.TempDir()}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v (stderr %s)", err, stderr.String())
	}
	endpoint, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Fatalf("ready line %q", line)
	}
	go io.Copy(io.Discard, pr)
	for _, bucket := range []string{"one", "two"} {
		b := bucketOf(t, client(t, endpoint, signers[0]), bucket)
		mustPut(t, b, "k", []byte(bucket))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Command did not return after cancel")
	}
	if strings.Contains(stderr.String(), testSecret) {
		t.Fatal("the secret was logged")
	}
}

func TestCommandErrors(t *testing.T) {
	t.Setenv("OSS_ACCESS_KEY_ID", "")
	t.Setenv("OSS_ACCESS_KEY_SECRET", "")
	tests := []struct {
		name string
		args []string
		want string // in the error; "" = no error
	}{
		{"help", []string{"--help"}, ""},
		{"unknown flag", []string{"--nope"}, "unknown flag"},
		{"no credentials", []string{"--addr", "127.0.0.1:0"}, "missing credentials"},
		{"bad cname", []string{"--access-key-id", "a", "--access-key-secret", "s", "--cname", "nobucket"}, "ADDR=BUCKET"},
		{"bad bucket", []string{"--access-key-id", "a", "--access-key-secret", "s", "--bucket", "Bad"}, "invalid name"},
		{"bad fault rate", []string{"--access-key-id", "a", "--access-key-secret", "s", "--fault-rate", "2"}, "fault rate"},
		{"bad log level", []string{"--log-level", "loud"}, "log-level"},
		{"argument", []string{"extra"}, "unexpected argument"},
		{"busy address", []string{"--access-key-id", "a", "--access-key-secret", "s", "--addr", "256.0.0.1:1"}, "listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Command(context.Background(), tc.args, &out, &errOut)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %q", err, tc.want)
			}
			if tc.name == "help" {
				for _, f := range []string{"--addr", "--root", "--access-key-id", "--access-key-secret", "--bucket", "--domain", "--cname", "--latency", "--fault-rate", "--seed", "--log-level"} {
					if !strings.Contains(errOut.String(), f) {
						t.Errorf("help lacks %s", f)
					}
				}
			}
			if tc.name == "bad fault rate" && !strings.Contains(errOut.String(), "secret was given as a flag") {
				t.Errorf("no warning for a secret on the command line: %s", errOut.String())
			}
		})
	}
}

func TestConcurrentClients(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			srv := startServer(t, Config{Root: be.root(t)})
			b := bucketOf(t, client(t, srv.Endpoint, signers[0]), testBucket)
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					for i := range 30 {
						key := []string{"shared", "shared/x", "own"}[i%3]
						if key == "own" {
							key = "own" + string(rune('a'+w))
						}
						data := pattern(1000+i, byte(w))
						if err := b.PutObject(key, bytes.NewReader(data)); err != nil {
							t.Error(err)
							return
						}
						if rc, err := b.GetObject(key); err == nil {
							io.Copy(io.Discard, rc)
							rc.Close()
						}
						if _, err := b.ListObjects(oss.Delimiter("/")); err != nil {
							t.Error(err)
						}
						if _, err := b.CopyObject(key, key+".c"); err != nil && errCode(err) != "NoSuchKey" {
							t.Error(err)
						}
						if i%5 == 0 {
							_ = b.DeleteObject(key)
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
