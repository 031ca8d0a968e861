package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// Bounds of the interrupt workload: every worker runs at most
// interruptIters iterations (about 30 calls each), and none starts
// after interruptBudget. Safety nets, never measurements.
const (
	interruptWorkers = 4
	interruptIters   = 5
	interruptBudget  = 60 * time.Second
	// Each OSS request waits this long, so that the operations that go to
	// OSS stay blocked in the kernel long enough for a signal to land.
	interruptLatency = 20 * time.Millisecond
	// A call is signalled once, at a random moment up to this long into it.
	interruptDelay = 2 * interruptLatency
	// Below this many signals sent while a worker was inside a call on the
	// mount, a clean run would prove nothing.
	minSignalsInCalls = 30
)

// Signals the runtime handles without effect when they come from outside:
// SIGURG is its own preemption signal (a stray one is ignored), SIGWINCH is
// caught and dropped when nothing asked for it. Both have a handler, so
// the kernel wakes a thread blocked in a FUSE request and sends INTERRUPT.
var interruptSignals = []syscall.Signal{syscall.SIGURG, syscall.SIGWINCH}

// TestInterruptsNeverFailTreeChanges: a Go program's threads receive
// signals all the time (the runtime preempts with SIGURG), and a signal to a
// thread blocked in a FUSE request makes the kernel send the daemon an
// INTERRUPT. DESIGN.md: an operation that changes the tree (mkdir, create,
// write, fsync, close, rename, unlink, rmdir, directory fsync) is never
// failed by it. With a slow server, workers locked to OS threads run such
// operations on directories the mount has never seen (made directly in the
// bucket, so that lookups and listings go to OSS) while another goroutine
// signals exactly those threads. Raw system calls, because os.* retries
// EINTR and would hide it. No tree change may fail with EINTR (or anything
// unexpected), and the tree, through the mount and in the bucket after
// unmount, must be what the operations made it.
func TestInterruptsNeverFailTreeChanges(t *testing.T) {
	e := newEnvWith(t, harness.ServerOptions{Latency: interruptLatency})

	// Per worker w and iteration i, under pre/w<w>/i<i>/: a non-empty
	// directory to list and empty (full/f0), another to fail rmdir on
	// (full2/g) and an empty one to remove (empty/).
	var keys []string
	for w := 0; w < interruptWorkers; w++ {
		for i := 0; i < interruptIters; i++ {
			base := iterRel(w, i)
			keys = append(keys, base+"/full/f0", base+"/full2/g", base+"/empty/")
		}
	}
	putAll(t, e, keys)

	rec := &interruptRecorder{}
	workers := make([]*interruptWorker, interruptWorkers)
	for w := range workers {
		workers[w] = &interruptWorker{id: w}
	}
	deadline := time.Now().Add(interruptBudget)

	var loops sync.WaitGroup
	start := make(chan struct{})   // once every sender runs
	release := make(chan struct{}) // workers' threads end only after the last signal
	ready := make(chan struct{}, interruptWorkers)
	for _, w := range workers {
		loops.Add(1)
		go func() {
			// Locked for good: the thread ends with the goroutine, so no
			// other goroutine inherits a thread that was being signalled.
			runtime.LockOSThread()
			w.tid.Store(int32(syscall.Gettid()))
			ready <- struct{}{}
			<-start
			func() {
				defer loops.Done()
				for i := 0; i < interruptIters && time.Now().Before(deadline); i++ {
					it := &iteration{w: w, i: i, rec: rec, base: e.m.Path(iterRel(w.id, i)), rel: iterRel(w.id, i)}
					it.run()
					w.clean = append(w.clean, !it.bad)
				}
			}()
			<-release
		}()
	}
	for range workers {
		<-ready
	}

	// One sender per worker: at most one signal per call, at a random moment
	// up to interruptDelay into it. Most calls that wait for OSS are
	// interrupted, yet a retried read soon gets through.
	var sent, inCalls atomic.Int64
	stop := make(chan struct{})
	var senders sync.WaitGroup
	for _, w := range workers {
		senders.Add(1)
		go func() {
			defer senders.Done()
			pid, tid := os.Getpid(), int(w.tid.Load())
			r := rand.New(rand.NewPCG(uint64(w.id), 1))
			var last uint64
			for n := 0; ; {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Microsecond):
				}
				call := w.calls.Load()
				if call == last || !w.inCall.Load() {
					continue
				}
				last = call
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(r.Int64N(int64(interruptDelay)))):
				}
				busy := w.inCall.Load() && w.calls.Load() == call
				sig := interruptSignals[n%len(interruptSignals)]
				n++
				if err := syscall.Tgkill(pid, tid, sig); err != nil {
					continue
				}
				sent.Add(1)
				if busy {
					inCalls.Add(1)
				}
			}
		}()
	}
	close(start)
	loops.Wait()
	close(stop)
	senders.Wait()
	close(release)

	t.Logf("%d operations (%s), %d signals sent, %d of them landed inside a call on the mount",
		rec.total, rec.summary(), sent.Load(), inCalls.Load())
	if rec.readEINTR > 0 {
		// Not a tree change: Go's os.Stat, os.Open and ReadDir retry EINTR.
		// Logged, because it shows the interrupts reach the daemon.
		t.Logf("reads failed with EINTR %d times (allowed; os.* retries them): %s", rec.readEINTR, rec.readSummary())
	}
	if len(rec.failures) > 0 {
		t.Fatalf("%d of %d operations failed unexpectedly under signals; %d tree changes failed with EINTR (%s), "+
			"the rest are failures in their wake or other surprises (paths below the mountpoint):\n%s",
			len(rec.failures), rec.total, rec.treeEINTR, countsString(rec.treeIntr), strings.Join(rec.failures, "\n"))
	}
	if inCalls.Load() < minSignalsInCalls {
		t.Fatalf("only %d signals landed while a worker was inside a call on the mount (want at least %d): "+
			"the workload was not interrupted, so its success proves nothing", inCalls.Load(), minSignalsInCalls)
	}

	// The end state, through the mount, then in the bucket once the unmount
	// has uploaded everything.
	var done [][2]int
	for _, w := range workers {
		for i, ok := range w.clean {
			if ok {
				done = append(done, [2]int{w.id, i})
			}
		}
	}
	if len(done) == 0 {
		t.Fatal("no iteration finished")
	}
	for _, wi := range done {
		base := iterRel(wi[0], wi[1])
		w, i := wi[0], wi[1]
		wantFile(t, e.m.Path(base, "full", "a"), iterData(w, i, 'a'))
		wantFile(t, e.m.Path(base, "new", "b"), iterData(w, i, 'b'))
		wantFile(t, e.m.Path(base, "full2", "g"), []byte(base+"/full2/g"))
		for _, gone := range []string{"full/f0", "new/a", "b", "empty", "new/sub"} {
			if _, err := os.Lstat(e.m.Path(base, gone)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s/%s: want it gone, lstat says %v", base, gone, err)
			}
		}
	}
	e.m.Unmount(t)
	for _, wi := range done {
		base := iterRel(wi[0], wi[1])
		w, i := wi[0], wi[1]
		e.wantObject(t, base+"/full/a", iterData(w, i, 'a'))
		e.wantObject(t, base+"/new/b", iterData(w, i, 'b'))
		e.wantObject(t, base+"/full2/g", []byte(base+"/full2/g"))
		for _, gone := range []string{"full/f0", "new/a", "b", "empty/", "new/sub/"} {
			e.wantNoObject(t, base+"/"+gone)
		}
	}
}

func iterRel(w, i int) string { return fmt.Sprintf("pre/w%d/i%d", w, i) }

// iterData is what iteration i of worker w writes into file name.
func iterData(w, i int, name byte) []byte {
	return harness.RandomBytes(uint64(w*1000+i*10+int(name)), 16<<10+w*100+i)
}

// putAll writes the objects (each holding its own key) straight into the
// bucket, behind the mount's back, several at a time.
func putAll(t *testing.T, e *env, rels []string) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, 16)
	for _, rel := range rels {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var data []byte
			if !strings.HasSuffix(rel, "/") {
				data = []byte(rel)
			}
			if err := e.b.PutObject(e.m.Key(rel), bytes.NewReader(data)); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("put %s: %w", rel, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// interruptWorker is one goroutine locked to one OS thread.
type interruptWorker struct {
	id     int
	tid    atomic.Int32
	inCall atomic.Bool   // inside a system call on the mount
	calls  atomic.Uint64 // system calls started
	clean  []bool        // per iteration: every operation did what it should
}

// interruptRecorder counts operations and collects the unexpected outcomes.
type interruptRecorder struct {
	mu        sync.Mutex
	total     int
	byOp      map[string]int
	readIntr  map[string]int
	readEINTR int
	treeEINTR int
	treeIntr  map[string]int
	failures  []string
}

func (r *interruptRecorder) add(w, i int, op string, tree bool, path string, got, want syscall.Errno, detail, note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byOp == nil {
		r.byOp, r.readIntr, r.treeIntr = map[string]int{}, map[string]int{}, map[string]int{}
	}
	r.total++
	r.byOp[op]++
	if got == want && detail == "" {
		return
	}
	if got == syscall.EINTR && !tree {
		r.readEINTR++
		r.readIntr[op]++
		return
	}
	if got == syscall.EINTR {
		r.treeEINTR++
		r.treeIntr[op]++
	}
	msg := fmt.Sprintf("  worker %d iteration %d: %s %s: got %s, want %s", w, i, op, path, errnoName(got), errnoName(want))
	if detail != "" {
		msg += " (" + detail + ")"
	}
	if note != "" {
		msg += ": " + note
	}
	r.failures = append(r.failures, msg)
}

func (r *interruptRecorder) summary() string { return countsString(r.byOp) }

func (r *interruptRecorder) readSummary() string { return countsString(r.readIntr) }

func countsString(m map[string]int) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for j, k := range names {
		parts[j] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "success"
	}
	return fmt.Sprintf("%s (errno %d)", e.Error(), int(e))
}

// iteration runs one worker's operations on its own directory base (pre/
// w<w>/i<i>, in the bucket only): on after an EINTR, to see what else
// fails, stopped by any other surprise.
type iteration struct {
	w       *interruptWorker
	i       int
	rec     *interruptRecorder
	base    string      // absolute
	rel     string      // below the mountpoint
	effect  func() bool // whether the next call, failing, took effect all the same
	bad     bool        // an operation failed: the end state is unknown
	stopped bool        // an operation failed otherwise than with EINTR
}

// call runs f, one raw system call on the mount, records its outcome and
// reports whether it was the one wanted. tree: it changes the tree. After
// an EINTR the iteration goes on (its end state is no longer checked); after
// any other surprise it stops, as what follows would fail in its wake.
func (it *iteration) call(op string, tree bool, rel string, want syscall.Errno, f func() (string, error)) bool {
	if it.stopped {
		it.effect = nil
		return false
	}
	return it.force(op, tree, rel, want, f)
}

// force is call even in a stopped iteration: for close(2), which frees the
// descriptor whatever it returns, so it is needed once and never retried.
func (it *iteration) force(op string, tree bool, rel string, want syscall.Errno, f func() (string, error)) bool {
	for attempt := 0; ; attempt++ {
		it.w.calls.Add(1)
		it.w.inCall.Store(true)
		detail, err := f()
		it.w.inCall.Store(false)
		var got syscall.Errno
		if err != nil && !errors.As(err, &got) {
			got, detail = syscall.EIO, err.Error()
		}
		if got == syscall.EINTR && !tree && attempt < 100 {
			it.rec.add(it.w.id, it.i, op, tree, filepath.Join(it.rel, rel), got, want, detail, "")
			continue // a read: retried, as os.* would
		}
		note := ""
		if got == syscall.EINTR && it.effect != nil {
			if it.effect() {
				note = "and it took effect anyway"
			} else {
				note = "nothing happened"
			}
		}
		it.effect = nil
		it.rec.add(it.w.id, it.i, op, tree, filepath.Join(it.rel, rel), got, want, detail, note)
		if got == want && detail == "" {
			return true
		}
		it.bad = true
		it.stopped = it.stopped || got != syscall.EINTR
		return false
	}
}

func (it *iteration) p(rel string) string { return filepath.Join(it.base, rel) }

func (it *iteration) run() {
	const tree, read = true, false
	noDetail := func(err error) (string, error) { return "", err }
	var st syscall.Stat_t
	exists, gone := it.exists, func(rel string) bool { return !it.exists(rel) }

	it.call("stat", read, ".", 0, func() (string, error) { return noDetail(syscall.Stat(it.base, &st)) })
	it.effect = func() bool { return gone("full2") }
	it.call("rmdir non-empty", tree, "full2", syscall.ENOTEMPTY, func() (string, error) { return noDetail(syscall.Rmdir(it.p("full2"))) })
	it.call("stat", read, "full", 0, func() (string, error) { return noDetail(syscall.Stat(it.p("full"), &st)) })
	it.readdir("full", "f0")
	it.effect = func() bool { return gone("empty") }
	it.call("rmdir", tree, "empty", 0, func() (string, error) { return noDetail(syscall.Rmdir(it.p("empty"))) })
	it.effect = func() bool { return exists("new") }
	it.call("mkdir", tree, "new", 0, func() (string, error) { return noDetail(syscall.Mkdir(it.p("new"), 0o755)) })
	it.writeFile("new/a", iterData(it.w.id, it.i, 'a'), true)
	it.writeFile("b", iterData(it.w.id, it.i, 'b'), false)
	it.effect = func() bool { return gone("b") && exists("new/b") }
	it.call("rename", tree, "b -> new/b", 0, func() (string, error) { return noDetail(syscall.Rename(it.p("b"), it.p("new/b"))) })
	it.effect = func() bool { return gone("full/f0") }
	it.call("unlink", tree, "full/f0", 0, func() (string, error) { return noDetail(syscall.Unlink(it.p("full/f0"))) })
	it.fsyncDir("new")
	it.effect = func() bool { return gone("new") }
	it.call("rmdir non-empty", tree, "new", syscall.ENOTEMPTY, func() (string, error) { return noDetail(syscall.Rmdir(it.p("new"))) })
	it.effect = func() bool { return exists("new/sub") }
	it.call("mkdir", tree, "new/sub", 0, func() (string, error) { return noDetail(syscall.Mkdir(it.p("new/sub"), 0o755)) })
	it.effect = func() bool { return gone("new/sub") }
	it.call("rmdir", tree, "new/sub", 0, func() (string, error) { return noDetail(syscall.Rmdir(it.p("new/sub"))) })
	it.effect = func() bool { return gone("new/a") && exists("full/a") }
	it.call("rename", tree, "new/a -> full/a", 0, func() (string, error) { return noDetail(syscall.Rename(it.p("new/a"), it.p("full/a"))) })
	it.fsyncDir("full")
	it.fsyncDir(".")
}

// exists reports whether rel is there, for the message about a failed
// call. It lists the parent afresh (retried while interrupted, and not a
// recorded operation) rather than stat rel: a failed call leaves the
// kernel's dentry cache as it was, a new listing comes from the daemon.
func (it *iteration) exists(rel string) bool {
	dir, name := filepath.Split(rel)
	for attempt := 0; attempt < 100; attempt++ {
		names, err := listDir(it.p(dir))
		if err != syscall.EINTR {
			return err == nil && slices.Contains(names, name)
		}
	}
	return false
}

// listDir lists a directory with raw open and getdents.
func listDir(dir string) (names []string, err error) {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	buf := make([]byte, 8<<10)
	for {
		n, err := syscall.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
}

// writeFile creates rel (it must not exist), writes data, fsyncs if asked
// and closes, each a separate recorded call.
func (it *iteration) writeFile(rel string, data []byte, fsync bool) {
	fd := -1
	it.effect = func() bool { return it.exists(rel) }
	if !it.call("create", true, rel, 0, func() (string, error) {
		var err error
		fd, err = syscall.Open(it.p(rel), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o644)
		return "", err
	}) {
		return
	}
	it.call("write", true, rel, 0, func() (string, error) {
		n, err := syscall.Write(fd, data)
		if err == nil && n != len(data) {
			return fmt.Sprintf("wrote %d of %d bytes", n, len(data)), nil
		}
		return "", err
	})
	if fsync {
		it.call("fsync", true, rel, 0, func() (string, error) { return "", syscall.Fsync(fd) })
	}
	it.close("close", rel, fd)
}

// close closes fd, even in a stopped iteration.
func (it *iteration) close(op, rel string, fd int) {
	it.force(op, true, rel, 0, func() (string, error) { return "", syscall.Close(fd) })
}

// fsyncDir opens directory rel and fsyncs it: the barrier that waits for
// OSS. Opening is a read (os.Open retries EINTR); fsync and close are not.
func (it *iteration) fsyncDir(rel string) {
	fd := -1
	if !it.call("open dir", false, rel, 0, func() (string, error) {
		var err error
		fd, err = syscall.Open(it.p(rel), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		return "", err
	}) {
		return
	}
	it.call("fsync dir", true, rel, 0, func() (string, error) { return "", syscall.Fsync(fd) })
	it.close("close dir", rel, fd)
}

// readdir lists directory rel (open, getdents, close) and wants name among
// its entries.
func (it *iteration) readdir(rel, name string) {
	it.call("readdir", false, rel, 0, func() (string, error) {
		names, err := listDir(it.p(rel))
		if err != nil || slices.Contains(names, name) {
			return "", err
		}
		return fmt.Sprintf("no entry %q among %q", name, names), nil
	})
}
