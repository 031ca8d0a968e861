package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// TestMountErrors: each way a mount cannot start ends the command with a
// non-zero exit and one clear line on stderr, leaving nothing mounted and
// no process behind, in the background and the foreground mode alike.
func TestMountErrors(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	closedPort := closedAddr(t)
	const wrongSecret = "definitely-the-wrong-secret"

	type setup struct {
		endpoint, bucket, mountpoint, cacheDir string
		env                                    []string
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, s *setup)
		mention string // the line must name the culprit
		keep    int    // mounts at the mountpoint afterwards
	}{
		{name: "wrong secret", mention: "credentials", prepare: func(t *testing.T, s *setup) {
			s.env = []string{"OSS_ACCESS_KEY_SECRET=" + wrongSecret}
		}},
		{name: "unreachable endpoint", mention: closedPort, prepare: func(t *testing.T, s *setup) {
			s.endpoint = "http://" + closedPort
		}},
		{name: "missing bucket", mention: "no-such-bucket", prepare: func(t *testing.T, s *setup) {
			s.bucket = "no-such-bucket"
		}},
		{name: "missing mountpoint", prepare: func(t *testing.T, s *setup) {
			s.mountpoint = filepath.Join(t.TempDir(), "does", "not", "exist")
		}},
		{name: "mountpoint already mounted", keep: 1, prepare: func(t *testing.T, s *setup) {
			m := harness.MountBucket(t, srv, harness.MountOptions{})
			s.mountpoint = m.Dir
		}},
		{name: "cache dir inside the mountpoint", mention: "cache dir", prepare: func(t *testing.T, s *setup) {
			s.cacheDir = filepath.Join(s.mountpoint, "cache")
		}},
	}
	for _, mode := range []string{"background", "foreground"} {
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				s := &setup{endpoint: srv.Endpoint, bucket: harness.DefaultBucket, mountpoint: t.TempDir(), cacheDir: t.TempDir()}
				tc.prepare(t, s)
				mention := tc.mention
				if mention == "" {
					mention = s.mountpoint
				}
				args := []string{"--endpoint", s.endpoint, "--cache-dir", s.cacheDir}
				if mode == "foreground" {
					args = append(args, "-f")
				}
				args = append(args, s.bucket+":"+harness.UniquePrefix(t), s.mountpoint)
				env := append([]string{"OSS_ACCESS_KEY_ID=" + harness.AccessKeyID, "OSS_ACCESS_KEY_SECRET=" + harness.AccessKeySecret}, s.env...)
				before := len(harness.MountsUnder(s.mountpoint))
				res := harness.Run(t, env, args...)
				if res.ExitCode == 0 {
					t.Errorf("exit code 0, want non-zero; stderr %q", res.Stderr)
				}
				msg := strings.TrimSpace(res.Stderr)
				t.Logf("exit %d, stderr: %s", res.ExitCode, msg)
				if msg == "" || strings.Contains(msg, "\n") {
					t.Errorf("stderr is not a single line:\n%s", res.Stderr)
				}
				if !strings.Contains(strings.ToLower(msg), strings.ToLower(mention)) {
					t.Errorf("stderr %q does not mention %q", msg, mention)
				}
				if strings.Contains(res.Stderr+res.Stdout, wrongSecret) || strings.Contains(res.Stderr+res.Stdout, harness.AccessKeySecret) {
					t.Errorf("the output shows a secret: %q", res.Stderr)
				}
				if got := mountsOf(s.mountpoint); got != tc.keep || len(harness.MountsUnder(s.mountpoint)) != before {
					t.Errorf("/proc/mounts has %d mounts at %s, want %d", got, s.mountpoint, tc.keep)
				}
				if tc.keep == 0 {
					if entries, err := os.ReadDir(s.mountpoint); err == nil && len(entries) > 0 {
						t.Errorf("the failed command left %d entries in the mountpoint, e.g. %q", len(entries), entries[0].Name())
					}
					if pid := harness.FindDaemon(s.mountpoint, s.cacheDir); pid != 0 {
						t.Errorf("an ossmount process (pid %d) is left running", pid)
					}
				}
			})
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// mountsOf counts the lines of /proc/mounts whose mount point is dir.
func mountsOf(dir string) int {
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return -1
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == dir {
			n++
		}
	}
	return n
}
