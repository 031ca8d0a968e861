package faults

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossmount/ossmount/test/harness"
)

// outputs collects every text a secret could leak into, by source.
type outputs map[string]string

func (o outputs) add(source, text string) { o[source] += text }

// leaks names the sources holding any of the secrets.
func (o outputs) leaks(secrets ...string) []string {
	var out []string
	for src, text := range o {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				out = append(out, src)
				break
			}
		}
	}
	return out
}

func randomSecret(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "sec-" + hex.EncodeToString(b)
}

// TestSecretsNeverShown: with the secret in the environment, a mount at
// debug level that works, fails an OSS request, and sits next to refused
// attempts with a wrong secret never shows the secret: not in any
// process's output, the daemon log, the daemon's command line, or the
// server's /_stats. A secret given as a flag is warned about and kept off
// the background daemon's command line.
func TestSecretsNeverShown(t *testing.T) {
	harness.RequireFUSE(t)
	secret, wrong := randomSecret(t), randomSecret(t)
	srv := startServer(t, serverOpts{Secret: secret})
	out := outputs{}

	// A mount with the secret in the environment, logging everything.
	mp, cache, prefix := t.TempDir(), filepath.Join(t.TempDir(), "new", "cache"), harness.UniquePrefix(t)
	cleanupMount(t, mp, cache)
	res := launch(t, credEnv(secret), mountArgs(srv.Endpoint, cache, prefix, mp, "--log-level=debug")...)
	out.add("mount launcher", res.Stdout+res.Stderr)
	if res.ExitCode != 0 {
		t.Fatalf("mount with the secret in the environment: exit %d: %s", res.ExitCode, res.Stderr)
	}
	pid := harness.FindDaemon(mp, cache)
	if pid == 0 {
		t.Fatalf("no daemon found for %s", mp)
	}
	cmdline, _ := os.ReadFile("/proc/" + itoa(pid) + "/cmdline")
	out.add("daemon /proc/PID/cmdline", string(cmdline))

	// Work, including failures: a missing file, a non-empty rmdir, and an
	// object that vanished from OSS behind the mount's back.
	if err := os.MkdirAll(filepath.Join(mp, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, mp, map[string][]byte{"d/a": []byte("alpha"), "d/big": harness.RandomBytes(91, 9<<20)})
	if err := os.Rename(filepath.Join(mp, "d", "a"), filepath.Join(mp, "d", "b")); err != nil {
		t.Fatal(err)
	}
	harness.FsyncDir(t, filepath.Join(mp, "d"))
	if _, err := os.ReadFile(filepath.Join(mp, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read a missing file: %v", err)
	}
	if err := os.Remove(filepath.Join(mp, "d")); err == nil {
		t.Errorf("rmdir of a non-empty directory succeeded")
	}
	// The bucket as the daemon sees it, signed with the real secret.
	sdk := sdkBucket(t, srv.Endpoint, secret)
	if err := sdk.PutObject(prefix+"vanishing", strings.NewReader("soon gone")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mp, "vanishing")); err != nil {
		t.Fatalf("stat an object put behind the mount's back: %v", err)
	}
	if err := sdk.DeleteObject(prefix + "vanishing"); err != nil {
		t.Fatalf("delete behind the mount's back: %v", err)
	}
	if _, err := os.ReadFile(filepath.Join(mp, "vanishing")); err == nil {
		t.Logf("reading an object deleted behind the mount's back succeeded: no failure to log")
	}
	checkStagingPerms(t, mp, cache)
	checkMountOptions(t, mp, false)

	// Refused attempts with a wrong secret, in both modes.
	for _, fg := range []bool{false, true} {
		wmp, wcache := t.TempDir(), t.TempDir()
		cleanupMount(t, wmp, wcache)
		var extra []string
		if fg {
			extra = []string{"-f"}
		}
		res := launch(t, credEnv(wrong), mountArgs(srv.Endpoint, wcache, prefix, wmp, extra...)...)
		out.add("wrong-secret mount", res.Stdout+res.Stderr)
		if res.ExitCode == 0 {
			t.Errorf("a mount with a wrong secret succeeded (foreground %v)", fg)
		}
		logData, _ := os.ReadFile(filepath.Join(wcache, "ossmount.log"))
		out.add("wrong-secret daemon log", string(logData))
	}

	// The secret as a flag: a background daemon must not carry it on its
	// command line, and someone must warn about it.
	fmp, fcache := t.TempDir(), t.TempDir()
	cleanupMount(t, fmp, fcache)
	fres := launch(t, []string{"OSS_ACCESS_KEY_ID=" + harness.AccessKeyID},
		mountArgs(srv.Endpoint, fcache, prefix, fmp, "--access-key-secret="+secret)...)
	if fres.ExitCode != 0 {
		t.Fatalf("mount with --access-key-secret: exit %d: %s", fres.ExitCode, fres.Stderr)
	}
	fpid := harness.FindDaemon(fmp, fcache)
	fcmd, _ := os.ReadFile("/proc/" + itoa(fpid) + "/cmdline")
	out.add("flag-secret daemon /proc/PID/cmdline", string(fcmd))
	out.add("flag-secret mount launcher", fres.Stdout+fres.Stderr) // the launcher's own argv holds it, not its output
	if err := syscall.Unmount(fmp, 0); err != nil {
		t.Fatalf("umount %s: %v", fmp, err)
	}
	waitGone(fpid, time.Minute)
	flog, _ := os.ReadFile(filepath.Join(fcache, "ossmount.log"))
	out.add("flag-secret daemon log", string(flog))
	if !warnsAboutSecret(fres.Stderr + string(flog)) {
		t.Errorf("--access-key-secret given in background mode: no warning in the launcher's stderr or the daemon log\nstderr: %q\nlog:\n%s", fres.Stderr, flog)
	}

	// A foreground mount: everything it prints goes to its stderr.
	gmp, gcache := t.TempDir(), t.TempDir()
	g := startForeground(t, credEnv(secret), gmp, gcache, mountArgs(srv.Endpoint, gcache, prefix, gmp, "-f", "--log-level=debug")...)
	if _, err := os.ReadFile(filepath.Join(gmp, "d", "b")); err != nil {
		t.Errorf("read through the foreground mount: %v", err)
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	g.wait(t, 2*time.Minute)
	out.add("foreground daemon output", g.out.String())

	if err := syscall.Unmount(mp, 0); err != nil {
		t.Fatalf("umount %s: %v", mp, err)
	}
	waitGone(pid, 2*time.Minute)
	logData, _ := os.ReadFile(filepath.Join(cache, "ossmount.log"))
	out.add("daemon log", string(logData))
	out.add("server output", srv.out.String())
	out.add("server /_stats", getStats(t, srv.Endpoint))

	if len(out["daemon log"]) == 0 {
		t.Errorf("the daemon log %s is empty: nothing was checked", filepath.Join(cache, "ossmount.log"))
	}
	if leaks := out.leaks(secret, wrong); len(leaks) > 0 {
		t.Fatalf("a secret shows in: %q", leaks)
	}
	var sizes []string
	for src, text := range out {
		sizes = append(sizes, src+": "+itoa(len(text)))
	}
	t.Logf("checked %d sources (%d bytes) for the secrets: %s", len(out), totalLen(out), strings.Join(sizes, ", "))
}

// warnsAboutSecret reports whether some line warns about the secret given
// on the command line.
func warnsAboutSecret(text string) bool {
	for _, l := range strings.Split(strings.ToLower(text), "\n") {
		if strings.Contains(l, "warn") && strings.Contains(l, "secret") {
			return true
		}
	}
	return false
}

// checkStagingPerms: the cache dir a mount created is 0700, its log 0600,
// and a staging file is 0600 while its file is open for writing.
func checkStagingPerms(t *testing.T, mp, cache string) {
	t.Helper()
	if st, err := os.Stat(cache); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir %s: %v, mode %v, want 0700", cache, err, st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Join(cache, "ossmount.log")); err == nil && st.Mode().Perm()&0o077 != 0 {
		t.Errorf("daemon log mode %v: readable by others", st.Mode().Perm())
	}
	f, err := os.OpenFile(filepath.Join(mp, "open-for-writing"), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(harness.RandomBytes(92, 1<<20)); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(cache, "staging"))
	if err != nil {
		t.Fatalf("staging dir: %v", err)
	}
	if len(entries) == 0 {
		t.Errorf("no staging file in %s while a file is open for writing", filepath.Join(cache, "staging"))
	}
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && info.Mode().Perm() != 0o600 {
			t.Errorf("staging file %s: mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
}

// checkMountOptions: default_permissions always, allow_other only when asked.
func checkMountOptions(t *testing.T, mp string, allowOther bool) {
	t.Helper()
	opts := mountOptions(mp)
	if opts == nil {
		t.Fatalf("%s not in /proc/mounts", mp)
	}
	if !opts["default_permissions"] {
		t.Errorf("%s: /proc/mounts options lack default_permissions", mp)
	}
	if opts["allow_other"] != allowOther {
		t.Errorf("%s: allow_other in /proc/mounts is %v, want %v", mp, opts["allow_other"], allowOther)
	}
}

// mountOptions returns the options /proc/mounts lists for mp.
func mountOptions(mp string) map[string]bool {
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == mp {
			opts := map[string]bool{}
			for _, o := range strings.Split(f[3], ",") {
				opts[o] = true
			}
			return opts
		}
	}
	return nil
}

// TestCredentialsFile: a credentials file others can read is refused with
// a line naming it; at mode 0600 it works. The 0600 mount also checks that
// -o allow_other reaches the kernel.
func TestCredentialsFile(t *testing.T) {
	harness.RequireFUSE(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	credPath := filepath.Join(t.TempDir(), "oss.creds")
	creds := "access_key_id=" + harness.AccessKeyID + "\naccess_key_secret=" + harness.AccessKeySecret + "\n"
	if err := os.WriteFile(credPath, []byte(creds), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(credPath, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	mp, cache, prefix := t.TempDir(), t.TempDir(), harness.UniquePrefix(t)
	cleanupMount(t, mp, cache)
	args := mountArgs(srv.Endpoint, cache, prefix, mp, "--credentials-file", credPath, "-o", "allow_other")
	res := launch(t, nil, args...)
	msg := strings.TrimSpace(res.Stderr)
	t.Logf("mode 0644: exit %d: %s", res.ExitCode, msg)
	if res.ExitCode == 0 || harness.IsMounted(mp) {
		t.Fatalf("a credentials file of mode 0644 was accepted")
	}
	if !strings.Contains(msg, credPath) || strings.Contains(msg, "\n") {
		t.Errorf("the refusal is not one line naming %s: %q", credPath, msg)
	}
	if strings.Contains(res.Stdout+res.Stderr, harness.AccessKeySecret) {
		t.Errorf("the refusal shows the secret")
	}

	if err := os.Chmod(credPath, 0o600); err != nil {
		t.Fatal(err)
	}
	res = launch(t, nil, args...)
	if res.ExitCode != 0 || !harness.IsMounted(mp) {
		t.Fatalf("a credentials file of mode 0600: exit %d: %s", res.ExitCode, res.Stderr)
	}
	checkMountOptions(t, mp, true)
	if err := os.WriteFile(filepath.Join(mp, "via-creds-file"), []byte("ok"), 0o644); err != nil {
		t.Fatalf("write through the mount: %v", err)
	}
	harness.FsyncDir(t, mp)
	if data, ok := srv.Bucket(t, harness.DefaultBucket).Get(t, prefix+"via-creds-file"); !ok || string(data) != "ok" {
		t.Errorf("object written with credentials from the file: present %v, %q", ok, data)
	}
}

// sdkBucket opens the default bucket through the SDK with a given secret.
func sdkBucket(t *testing.T, endpoint, secret string) *oss.Bucket {
	t.Helper()
	c, err := oss.New(endpoint, harness.AccessKeyID, secret)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Bucket(harness.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

func getStats(t *testing.T, endpoint string) string {
	t.Helper()
	resp, err := http.Get(endpoint + "/_stats")
	if err != nil {
		t.Fatalf("GET /_stats: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

func totalLen(o outputs) int {
	n := 0
	for _, s := range o {
		n += len(s)
	}
	return n
}
