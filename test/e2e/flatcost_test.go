package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// flatCostFiles is how many files TestPerFileCostIsFlat makes in one
// directory: enough for a cost that grows with the directory or the
// pending queue to show clearly, small enough for CI.
const flatCostFiles = 20000

// TestPerFileCostIsFlat creates flatCostFiles (OSSMOUNT_FLAT_FILES) small files one by one in one
// directory, with every upload still pending (a long upload delay), and
// compares the daemon's CPU time and OSS requests for the first and the
// last thousand creates, each followed by a stat, a rename and an unlink of
// a name in the same directory. The cost of a file operation must not grow
// with the size of its directory or with the number of changes not yet
// carried out: the last thousand may cost at most twice the first (a loose
// bound for a noisy machine; a cost that grows with the directory is
// twenty times higher there).
func TestPerFileCostIsFlat(t *testing.T) {
	files := flatCostFiles
	if v, err := strconv.Atoi(os.Getenv("OSSMOUNT_FLAT_FILES")); err == nil && v >= 2000 {
		files = v // by hand: e.g. 100000
	}
	// By hand, OSSMOUNT_FLAT_ARGS replaces the flags: e.g. "--upload-delay=1s"
	// (the default) for a directory whose uploads drain as it grows.
	args := []string{"--upload-delay=10m"}
	if v := os.Getenv("OSSMOUNT_FLAT_ARGS"); v != "" {
		args = strings.Fields(v)
	}
	e := newEnv(t, args...)
	dir := e.m.Path("many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	window := func(from, to int) (cpu time.Duration, requests int64) {
		e.srv.ResetStats(t)
		before := daemonCPU(t, e.m.PID())
		for i := from; i < to; i++ {
			p := filepath.Join(dir, fmt.Sprintf("f%06d", i))
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(p); err != nil {
				t.Fatal(err)
			}
			if i%10 == 0 { // a rename and an unlink now and then
				q := filepath.Join(dir, fmt.Sprintf("r%06d", i))
				if err := os.Rename(p, q); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(q); err != nil {
					t.Fatal(err)
				}
			}
		}
		cpu = daemonCPU(t, e.m.PID()) - before
		st := e.srv.Stats(t)
		for _, n := range st.Requests {
			requests += n
		}
		return cpu, requests
	}
	const w = 1000
	firstCPU, firstReq := window(0, w)
	for i := w; i < files-w; i += w {
		window(i, i+w)
	}
	lastCPU, lastReq := window(files-w, files)
	t.Logf("%d files: daemon CPU per 1000 operations: first %v, last %v (ratio %.2f); OSS requests: first %d, last %d; daemon peak RSS %d MiB",
		files, firstCPU, lastCPU, float64(lastCPU)/float64(max(firstCPU, time.Millisecond)), firstReq, lastReq, daemonPeakRSS(e.m.PID())>>20)
	// Clock ticks are 10 ms: allow two of them on top of the ratio.
	if lastCPU > 2*firstCPU+20*time.Millisecond {
		t.Errorf("the last %d creates cost %v of daemon CPU, the first %v: the cost grows with the directory or the pending queue", w, lastCPU, firstCPU)
	}
	if os.Getenv("OSSMOUNT_FLAT_ARGS") == "" && lastReq > firstReq+2 { // (uploads running make them noisy)
		t.Errorf("the last %d creates made %d OSS requests, the first %d", w, lastReq, firstReq)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := files - files/10; len(entries) != want {
		t.Fatalf("the directory lists %d entries, want %d", len(entries), want)
	}
}

// daemonCPU is the user and system CPU time the process has used so far.
func daemonCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("daemon CPU time: %v", err)
	}
	// The command name may hold spaces: fields count from after its ')'.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// daemonPeakRSS is the daemon's peak resident memory (VmHWM), in bytes.
func daemonPeakRSS(pid int) int64 {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestStaleListingRevalidatesOnce creates files in one directory in three
// bursts, with a pause past the negative TTL before each of the last two: a
// new name is looked up in the directory's cached listing, and a listing
// past its TTL is refreshed once in the background while it keeps
// answering (issue 9: it was a LIST per create once the TTL ran out).
func TestStaleListingRevalidatesOnce(t *testing.T) {
	const negativeTTL = time.Second
	e := newEnv(t, append([]string{"--negative-ttl=" + negativeTTL.String(), "--stat-ttl=30s", "--upload-delay=100ms"}, strings.Fields(os.Getenv("OSSMOUNT_TEST_ARGS"))...)...)
	dir := e.m.Path("d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const perBurst = 300
	n := 0
	burst := func() {
		for i := 0; i < perBurst; i++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", n)), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	burst()
	time.Sleep(1500 * time.Millisecond) // uploads, the marker, then past the negative TTL
	e.srv.ResetStats(t)
	start := time.Now()
	burst()
	time.Sleep(1500 * time.Millisecond)
	burst()
	took := time.Since(start)
	st := e.srv.Stats(t)
	lists, heads := st.Requests["ListObjectsV2"]+st.Requests["ListObjects"], st.Requests["HeadObject"]
	// The listing (one page) goes stale at most once per negative TTL,
	// however slow the machine: one refresh each time, and one each pause.
	allowed := int64(took/negativeTTL) + 3
	t.Logf("%d creates in %v after the negative TTL ran out twice: %d LIST, %d HEAD requests (at most %d allowed)", 2*perBurst, took.Round(time.Millisecond), lists, heads, allowed)
	if lists > allowed || heads > 0 {
		t.Errorf("%d creates cost %d LIST and %d HEAD requests in %v: a stale listing must be refreshed once per negative TTL, not per create", 2*perBurst, lists, heads, took.Round(time.Millisecond))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("the directory lists %d entries, want %d", len(entries), n)
	}
}

// TestPendingFilesHoldNoDescriptors: thousands of closed files waiting for
// their upload (or kept as clean copies) hold no open file descriptor in
// the daemon, so their number is not bounded by its descriptor limit
// (100,000 creates failed with EMFILE at the 20,000th). The daemon's limit
// is lowered to 256 here; 1,000 files must be written and read back.
func TestPendingFilesHoldNoDescriptors(t *testing.T) {
	e := newEnv(t, "--upload-delay=10m")
	limit := syscall.Rlimit{Cur: 256, Max: 256}
	if err := prlimitNofile(e.m.PID(), &limit); err != nil {
		t.Fatalf("lower the daemon's descriptor limit: %v", err)
	}
	dir := e.m.Path("many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatalf("file %d of %d with every upload pending: %v", i, n, err)
		}
	}
	for i := 0; i < n; i++ {
		wantFile(t, filepath.Join(dir, fmt.Sprintf("f%04d", i)), []byte(fmt.Sprint(i)))
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.m.PID())); err == nil {
		t.Logf("%d files pending: the daemon has %d descriptors open", n, len(fds))
	}
}

// prlimitNofile sets another process's RLIMIT_NOFILE (prlimit(2)).
func prlimitNofile(pid int, lim *syscall.Rlimit) error {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(syscall.RLIMIT_NOFILE), uintptr(unsafe.Pointer(lim)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
