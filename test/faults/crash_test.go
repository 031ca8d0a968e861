package faults

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossmount/ossmount/test/harness"
)

// crashDirs are the directories the workload spreads its files over; renames
// between them are the cross-directory renames a registry commits blobs with.
var crashDirs = []string{"a", "b", "c/deep"}

// TestCrashLoop: rounds of "mount, run a workload, kill -9 the daemon at a
// random moment, mount again with the same cache dir, check, unmount". The
// workload logs (with fsync, outside the mount) every operation that
// returned; after each crash the tree must show every one of them and at
// most the one operation that was cut short. A last mount with an empty
// cache dir sees only OSS and must show the same tree; no multipart upload
// may be left unfinished in the bucket.
//
// OSSMOUNT_FAULTS_SEED=N replays a run (the seed is logged).
func TestCrashLoop(t *testing.T) {
	harness.RequireFUSE(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OSSMOUNT_FAULTS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (OSSMOUNT_FAULTS_SEED=%d replays the choices)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	rounds := 8
	if testing.Short() {
		rounds = 3
	}

	// Latency keeps uploads (multipart ones especially) in flight when the
	// kill comes.
	srv := harness.StartServer(t, harness.ServerOptions{Latency: 5 * time.Millisecond})
	b := srv.Bucket(t, harness.DefaultBucket)
	cache := t.TempDir()
	prefix := harness.UniquePrefix(t)
	mountOpts := harness.MountOptions{CacheDir: cache, Prefix: prefix, Args: []string{"--upload-delay=100ms"}}
	work := t.TempDir()

	want := model{}
	var history []string // every op that returned or was cut short, for failure messages
	versions := versionIndex{}
	var stats struct{ ops, kills, inflight, big int }
	for round := 1; round <= rounds; round++ {
		m := harness.MountBucket(t, srv, mountOpts)
		if round == 1 {
			for _, d := range crashDirs {
				if err := os.MkdirAll(m.Path(d), 0o755); err != nil {
					t.Fatalf("mkdir %s: %v", d, err)
				}
			}
		}
		cfg := workloadConfig{
			Mount: m.Dir, Log: filepath.Join(work, "ops-"+strconv.Itoa(round)+".log"), Files: want.paths(),
			Dirs: crashDirs, Round: round, Seed: rng.Uint64(), MaxOps: 400,
		}
		killAfter := 2 + rng.IntN(40) // ops that returned before the kill
		child := startWorkload(t, work, cfg)
		waitOps(t, cfg.Log, killAfter, child)
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond) // somewhere inside the next op
		m.Kill(t)
		stats.kills++
		if err := child.wait(); err != nil {
			t.Logf("round %d: workload ended after the kill: %v", round, err)
		}

		done, inflight, err := readOpLog(cfg.Log)
		if err != nil {
			t.Fatalf("round %d: op log: %v", round, err)
		}
		for _, r := range done {
			history = append(history, "round "+strconv.Itoa(round)+": "+describeOp(&r))
			if err := want.apply(r); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			versions.note(want, r, round)
			if r.Kind == "create" && r.Size >= bigFileSize {
				stats.big++
			}
		}
		stats.ops += len(done)
		if inflight != nil {
			stats.inflight++
			history = append(history, "round "+strconv.Itoa(round)+": "+describeOp(inflight)+" CUT SHORT by kill -9")
		}
		t.Logf("round %d: %d ops returned, cut short: %s", round, len(done), describeOp(inflight))

		// Same cache dir: the journal finishes what the dead daemon started.
		m2 := harness.MountBucket(t, srv, mountOpts)
		got, dirs, err := readTree(m2.Dir)
		if err != nil {
			t.Fatalf("round %d: read the tree after the crash: %v", round, err)
		}
		checkDirs(t, round, dirs)
		resolved, debris, problems := want.resolve(got, inflight)
		if len(problems) > 0 {
			// Tell a wrong view from lost data: what does OSS hold once
			// this mount has finished its work?
			m2.Unmount(t)
			inOSS, _ := bucketTree(func(k string) ([]byte, bool) { return b.Get(t, k) }, b.Keys(t, prefix), prefix)
			verdict := "OSS, after a clean unmount, holds a right state: the view was wrong, not the data"
			if _, _, ossProblems := want.resolve(inOSS, inflight); len(ossProblems) > 0 {
				verdict = "OSS, after a clean unmount, is wrong too:\n" + strings.Join(ossProblems, "\n")
			}
			t.Fatalf("round %d: after kill -9 and a mount with the same cache dir, the tree is wrong:\n%s\n%s\n%s", round,
				strings.Join(problems, "\n"), opsOn(history, problems)+versions.explain(got, want), verdict)
		}
		want = resolved
		for _, p := range debris {
			if _, ok := got[p]; ok {
				if err := os.Remove(m2.Path(p)); err != nil {
					t.Fatalf("round %d: remove the cut-short temporary file %s: %v", round, p, err)
				}
			}
		}
		m2.Unmount(t)

		// The daemon exited after a clean unmount: OSS alone holds the tree.
		checkBucket(t, b, prefix, want, "round "+strconv.Itoa(round)+", after a clean unmount", history)
	}

	final := harness.MountBucket(t, srv, harness.MountOptions{Prefix: prefix}) // empty cache dir
	got, dirs, err := readTree(final.Dir)
	if err != nil {
		t.Fatalf("read the tree with an empty cache dir: %v", err)
	}
	checkDirs(t, 0, dirs)
	if problems := want.diff(got, nil); len(problems) > 0 {
		t.Fatalf("a mount with an empty cache dir shows a wrong tree:\n%s\n%s", strings.Join(problems, "\n"), opsOn(history, problems)+versions.explain(got, want))
	}
	final.Unmount(t)
	st := srv.Stats(t)
	t.Logf("server: %d multipart uploads initiated, %d completed, %d aborted; %d PutObject, %d CopyObject",
		st.Count("InitiateMultipartUpload"), st.Count("CompleteMultipartUpload"), st.Count("AbortMultipartUpload"),
		st.Count("PutObject"), st.Count("CopyObject"))
	t.Logf("%d rounds, %d kills, %d ops returned (%d multipart files), %d ops cut short; %d files at the end",
		rounds, stats.kills, stats.ops, stats.big, stats.inflight, len(want))
}

// checkBucket compares the objects under prefix with want and fails on any
// multipart upload left unfinished.
func checkBucket(t *testing.T, b *harness.Bucket, prefix string, want model, when string, history []string) {
	t.Helper()
	got, _ := bucketTree(func(k string) ([]byte, bool) { return b.Get(t, k) }, b.Keys(t, prefix), prefix)
	if problems := want.diff(got, nil); len(problems) > 0 {
		t.Fatalf("%s: the bucket differs from the operations that returned:\n%s\n%s", when, strings.Join(problems, "\n"), opsOn(history, problems))
	}
	res, err := b.ListMultipartUploads(oss.Prefix(prefix))
	if err != nil {
		t.Fatalf("%s: list multipart uploads: %v", when, err)
	}
	if n := len(res.Uploads); n > 0 {
		var keys []string
		for _, u := range res.Uploads {
			keys = append(keys, strings.TrimPrefix(u.Key, prefix)+" (initiated "+u.Initiated.Format(time.RFC3339)+")")
		}
		t.Fatalf("%s: %d unfinished multipart uploads in the bucket: %s\n%s", when, n, strings.Join(keys, ", "), opsOn(history, keys))
	}
}

func checkDirs(t *testing.T, round int, dirs []string) {
	t.Helper()
	want := map[string]bool{"c": true}
	for _, d := range crashDirs {
		want[d] = true
	}
	have := map[string]bool{}
	for _, d := range dirs {
		have[d] = true
		if !want[d] {
			t.Errorf("round %d: unexpected directory %s", round, d)
		}
	}
	for d := range want {
		if !have[d] {
			t.Errorf("round %d: directory %s is missing", round, d)
		}
	}
}

// opsOn lists the ops of history that led to the paths named in problems:
// those on the paths, and, going back, those on the files renamed onto them.
func opsOn(history, problems []string) string {
	paths := map[string]bool{}
	for _, p := range problems {
		if f := strings.Fields(p); len(f) > 0 {
			paths[strings.TrimSuffix(f[0], ":")] = true
		}
	}
	var out []string
	for i := len(history) - 1; i >= 0; i-- {
		f := strings.Fields(history[i])
		// "round N: kind path [-> to] ..."
		if len(f) < 4 {
			continue
		}
		src, dst := f[3], ""
		if len(f) > 5 && f[4] == "->" {
			dst = f[5]
		}
		if paths[src] || (dst != "" && paths[dst]) {
			out = append(out, "  "+history[i])
			if dst != "" && paths[dst] {
				paths[src] = true
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return "ops on these paths and the files renamed onto them:\n" + strings.Join(out, "\n")
}

func describeOp(r *opRec) string {
	if r == nil {
		return "none"
	}
	s := r.Kind + " " + r.Path
	if r.To != "" {
		s += " -> " + r.To
	}
	if r.Size > 0 {
		s += " (" + strconv.Itoa(r.Size) + " bytes)"
	}
	return s
}

// workloadProc is the workload child process.
type workloadProc struct {
	cmd  *exec.Cmd
	out  *harness.OutputBuffer
	done chan struct{}
}

// startWorkload re-executes the test binary as the workload.
func startWorkload(t *testing.T, dir string, cfg workloadConfig) *workloadProc {
	t.Helper()
	data, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "workload-"+strconv.Itoa(cfg.Round)+".json")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &workloadProc{cmd: exec.Command(os.Args[0]), out: &harness.OutputBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), workloadEnv+"="+cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start the workload: %v", err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait returns how the workload ended: nil when it ran all its ops, else an
// error with its output (an op failing once the daemon is dead is expected).
func (p *workloadProc) wait() error {
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		p.cmd.Process.Kill()
		<-p.done
	}
	if p.cmd.ProcessState.Success() {
		return nil
	}
	return &workloadError{state: p.cmd.ProcessState.String(), out: strings.TrimSpace(p.out.String())}
}

type workloadError struct{ state, out string }

func (e *workloadError) Error() string { return e.state + ": " + e.out }

// waitOps waits until the op log holds n finished ops, or the workload
// ended on its own.
func waitOps(t *testing.T, logPath string, n int, p *workloadProc) {
	t.Helper()
	harness.WaitUntil(t, 3*time.Minute, "the workload finishes "+strconv.Itoa(n)+" ops", func() bool {
		select {
		case <-p.done:
			if !p.cmd.ProcessState.Success() {
				t.Fatalf("the workload failed before the kill: %s\n%s", p.cmd.ProcessState, p.out)
			}
			return true
		default:
		}
		data, _ := os.ReadFile(logPath)
		return strings.Count(string(data), `"ph":"done"`) >= n
	})
}
