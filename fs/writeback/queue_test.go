package writeback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memJournal is a Journal in memory.
type memJournal struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemJournal() *memJournal { return &memJournal{m: map[string][]byte{}} }

func (j *memJournal) JournalPut(key string, value []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.m[key] = slices.Clone(value)
	return nil
}

func (j *memJournal) JournalDelete(key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.m, key)
	return nil
}

func (j *memJournal) JournalDeleteMany(keys []string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, k := range keys {
		delete(j.m, k)
	}
	return nil
}

func (j *memJournal) JournalApply(puts map[string][]byte, deletes []string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for k, v := range puts {
		j.m[k] = slices.Clone(v)
	}
	for _, k := range deletes {
		delete(j.m, k)
	}
	return nil
}

func (j *memJournal) JournalScan(fn func(key string, value []byte) error) error {
	j.mu.Lock()
	keys := make([]string, 0, len(j.m))
	for k := range j.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = j.m[k]
	}
	j.mu.Unlock()
	for i, k := range keys {
		if err := fn(k, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

func (j *memJournal) seqs() []uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []uint64
	for _, v := range j.m {
		var op Op
		if err := json.Unmarshal(v, &op); err == nil {
			out = append(out, op.Seq)
		}
	}
	slices.Sort(out)
	return out
}

// harness runs a queue whose runner waits, per op, until the test
// releases it (when gated), and returns the errors the test set for it.
type harness struct {
	t       *testing.T
	q       *Queue
	j       *memJournal
	mu      sync.Mutex
	gates   map[*Op]chan struct{}
	errs    map[*Op][]error
	runs    map[*Op]int
	gated   bool
	started chan *Op
}

func newHarness(t *testing.T, cfg Config, gated bool) *harness {
	h := &harness{t: t, j: newMemJournal(), gates: map[*Op]chan struct{}{}, errs: map[*Op][]error{}, runs: map[*Op]int{}, gated: gated, started: make(chan *Op, 100000)}
	cfg.Journal = h.j
	cfg.Run = h.run
	h.q = New(cfg)
	t.Cleanup(h.q.Close)
	return h
}

func (h *harness) gate(op *Op) chan struct{} {
	if h.gates[op] == nil {
		h.gates[op] = make(chan struct{})
	}
	return h.gates[op]
}

func (h *harness) run(ctx context.Context, op *Op) error {
	h.mu.Lock()
	g := h.gate(op)
	var err error
	if e := h.errs[op]; len(e) > 0 {
		err, h.errs[op] = e[0], e[1:]
	}
	h.runs[op]++
	h.mu.Unlock()
	h.started <- op
	if h.gated {
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (h *harness) release(ops ...*Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range ops {
		close(h.gate(op))
	}
}

func (h *harness) add(op *Op, delayed, held bool) *Op {
	h.t.Helper()
	if err := h.q.Add(op, delayed, held); err != nil {
		h.t.Fatal(err)
	}
	return op
}

func waitDone(t *testing.T, ops ...*Op) {
	t.Helper()
	for _, op := range ops {
		select {
		case <-op.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %q (seq %d) never finished", op.Kind, op.Key, op.Seq)
		}
	}
}

// mayRun reports whether the queue has let op start: it is ready, running
// or done. The queue decides that synchronously in the call that allows it.
func (q *Queue) mayRun(op *Op) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return op.readyIdx > 0 || op.running || op.finished
}

func (q *Queue) stepCount() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.steps
}

func put(k string) *Op         { return &Op{Kind: Put, Key: k} }
func del(k string) *Op         { return &Op{Kind: Delete, Key: k} }
func cp(src, dst string) *Op   { return &Op{Kind: Copy, Src: src, Key: dst} }
func marker(k string) *Op      { return &Op{Kind: Marker, Key: k} }
func move(src, dst string) *Op { return &Op{Kind: MoveDir, Src: src, Key: dst} }
func renamed(op *Op) *Op       { op.Rename = true; return op }
func opName(op *Op) string     { return fmt.Sprintf("%d:%s %s<-%s", op.Seq, op.Kind, op.Key, op.Src) }
func opNames(ops []*Op) []string {
	var out []string
	for _, op := range ops {
		out = append(out, opName(op))
	}
	return out
}

// TestOrder runs ops in waves: each wave must be exactly the ops allowed
// to run once every earlier wave has finished.
func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   []*Op
		waves [][]int
	}{
		{"same key in order", []*Op{put("a"), del("a"), put("a")}, [][]int{{0}, {1}, {2}}},
		{"unrelated in parallel", []*Op{put("a"), put("b"), put("d/c"), marker("d/")}, [][]int{{0, 1, 2, 3}}},
		{"copy waits on both keys", []*Op{put("a"), put("b"), cp("a", "c"), put("c"), del("a"), put("b")},
			[][]int{{0, 1}, {2, 5}, {3, 4}}},
		{"copy onto itself", []*Op{put("a"), cp("a", "a"), put("a")}, [][]int{{0}, {1}, {2}}},
		{"move waits for what is under src and dst",
			[]*Op{put("d/x"), put("e/y"), put("f/z"), move("d/", "e/"), put("d/x"), marker("e/"), put("d"), put("e/sub/k"), put("dd/x")},
			[][]int{{0, 1, 2, 6, 8}, {3}, {4, 5, 7}}},
		{"nested moves", []*Op{move("a/b/", "c/"), put("a/q"), move("a/", "z/"), put("z/k"), put("a/b/k"), put("c/k")},
			[][]int{{0, 1}, {2, 5}, {3, 4}}},
		{"move below a pending move", []*Op{move("a/", "z/"), move("a/b/c/", "y/"), put("y/1"), put("q")},
			[][]int{{0, 3}, {1}, {2}}},
		{"chain of moves", []*Op{move("p/a/", "p/b/"), move("p/b/", "p/c/"), put("p/c/x"), put("p/x")},
			[][]int{{0, 3}, {1}, {2}}},
		{"marker is under its own prefix", []*Op{marker("m/"), move("m/", "n/"), marker("n/")}, [][]int{{0}, {1}, {2}}},
		{"bucket root", []*Op{put("x"), move("d/", "x/"), put("x/1"), move("", "r/"), put("k")},
			[][]int{{0, 1}, {2}, {3}, {4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Workers: 16}, true)
			h.q.Start()
			for _, op := range tc.ops {
				h.add(op, false, false)
			}
			for w, wave := range tc.waves {
				var want, got []*Op
				for i, op := range tc.ops {
					if slices.Contains(wave, i) {
						want = append(want, op)
					}
					if !op.finished && h.q.mayRun(op) {
						got = append(got, op)
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("wave %d: runnable %v, want %v", w, opNames(got), opNames(want))
				}
				h.release(want...)
				waitDone(t, want...)
			}
			if n := h.q.Len(); n != 0 {
				t.Fatalf("%d ops left", n)
			}
		})
	}
}

func TestWorkersLimitAndSeqPriority(t *testing.T) {
	h := newHarness(t, Config{Workers: 2}, true)
	var ops []*Op
	for i := range 6 {
		ops = append(ops, h.add(put(fmt.Sprint("k", i)), false, false))
	}
	h.q.Start()
	for want := 0; want < 6; want += 2 {
		a, b := <-h.started, <-h.started
		got := []uint64{a.Seq, b.Seq}
		slices.Sort(got)
		if !slices.Equal(got, []uint64{ops[want].Seq, ops[want+1].Seq}) {
			t.Fatalf("started %v, want seqs %d and %d first", got, ops[want].Seq, ops[want+1].Seq)
		}
		select {
		case op := <-h.started:
			t.Fatalf("%s started beyond the worker limit", opName(op))
		case <-time.After(20 * time.Millisecond):
		}
		h.release(a, b)
		waitDone(t, a, b)
	}
}

func TestDelayHoldUrgent(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Workers: 8, Delay: time.Hour}, false)
	h.q.Start()

	// A delayed op waits; Wait makes it urgent.
	a := h.add(put("a"), true, false)
	if h.q.mayRun(a) {
		t.Fatal("delayed op may run")
	}
	if err := h.q.Wait(ctx, a); err != nil {
		t.Fatal(err)
	}

	// A held op waits for Unhold, then for the delay; urgency overrides both.
	b := h.add(put("b"), false, true)
	if h.q.mayRun(b) {
		t.Fatal("held op may run")
	}
	h.q.Unhold(b)
	if h.q.mayRun(b) {
		t.Fatal("unheld op ran before its delay")
	}
	h.q.Hold(b)
	if err := h.q.Wait(ctx, b); err != nil {
		t.Fatal(err)
	}

	// Urgency passes to every earlier op the urgent one waits for, and only those.
	p0 := h.add(put("p/a"), true, false)
	p1 := h.add(cp("p/a", "p/b"), true, false)
	p2 := h.add(put("p/c"), true, false)
	p3 := h.add(move("q/", "r/"), true, false)
	p4 := h.add(put("r/x"), true, false)
	p5 := h.add(put("p/b"), false, false)
	p6 := h.add(put("s/x"), false, true)
	p7 := h.add(move("s/", "t/"), false, false)
	if h.q.mayRun(p5) || h.q.mayRun(p7) {
		t.Fatal("op ran before the delayed or held op it waits for")
	}
	if err := h.q.Wait(ctx, p5); err != nil {
		t.Fatal(err)
	}
	if err := h.q.Wait(ctx, p4); err != nil {
		t.Fatal(err)
	}
	if err := h.q.Wait(ctx, p7); err != nil {
		t.Fatal(err)
	}
	for _, op := range []*Op{p0, p1, p3, p6} {
		waitDone(t, op)
	}
	if h.q.mayRun(p2) {
		t.Fatal("unrelated delayed op was made urgent")
	}
	if got := h.q.Snapshot(); len(got) != 1 || got[0] != p2 {
		t.Fatalf("left %v, want only %s", opNames(got), opName(p2))
	}
}

func TestDelayExpires(t *testing.T) {
	h := newHarness(t, Config{Workers: 8, Delay: 20 * time.Millisecond}, false)
	h.q.Start()
	a := h.add(put("a"), true, false)
	b := h.add(put("b"), false, true)
	h.q.Unhold(b)
	waitDone(t, a, b)
}

func TestFailedOpBacksOffEvenWhenUrgent(t *testing.T) {
	h := newHarness(t, Config{Workers: 8, Delay: time.Hour}, false)
	a := put("a")
	h.errs[a] = []error{errors.New("boom")}
	h.q.Start()
	h.add(a, true, false)
	b := h.add(put("a"), false, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.q.Wait(ctx, a); err == nil || ctx.Err() != nil {
		t.Fatalf("wait: %v, want the op's failure", err)
	}
	h.q.mu.Lock()
	urgent, inTimer, attempts := a.urgent, a.timerIdx > 0, a.attempts
	h.q.mu.Unlock()
	if !urgent || !inTimer || attempts != 1 {
		t.Fatalf("failed op: urgent %v, waiting for its backoff %v, attempts %d", urgent, inTimer, attempts)
	}
	if h.q.mayRun(b) {
		t.Fatal("op ran before the failed op ahead of it")
	}
}

func TestChangedRunsAgain(t *testing.T) {
	h := newHarness(t, Config{Workers: 8}, false)
	a := put("a")
	h.errs[a] = []error{fmt.Errorf("%w: x", errChanged), fmt.Errorf("%w: y", errChanged)}
	h.q.Start()
	h.add(a, true, false)
	if err := h.q.Wait(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs[a] != 3 {
		t.Fatalf("ran %d times, want 3", h.runs[a])
	}
}

func TestBarrier(t *testing.T) {
	h := newHarness(t, Config{Workers: 8, Delay: time.Hour}, false)
	h.q.Start()
	inDir := h.add(put("d/a"), true, false)
	other := h.add(put("o/b"), true, false)
	src := h.add(put("x/1"), true, false)
	rn := h.add(renamed(cp("x/1", "y/2")), false, false)
	fromDir := h.add(cp("d/z", "q/z"), true, false)
	mk := h.add(marker("d/sub/"), true, false)
	deep := h.add(put("d/sub/f"), true, false)
	mv := h.add(renamed(move("m/", "n/")), true, false)
	if err := h.q.Barrier(context.Background(), "d/"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, inDir, src, rn, fromDir, mk, mv)
	if h.q.mayRun(other) || h.q.mayRun(deep) {
		t.Fatal("barrier ran an op outside its directory")
	}
	if got := h.q.Len(); got != 2 {
		t.Fatalf("len %d, want 2", got)
	}
}

func TestCancelReplace(t *testing.T) {
	h := newHarness(t, Config{Workers: 8, Delay: time.Hour}, true)
	h.q.Start()
	a0 := h.add(put("a"), true, false)
	a1 := h.add(del("a"), false, false)
	a2 := h.add(put("a"), false, false)
	if ok, err := h.q.Cancel(a1); !ok || err != nil {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	select {
	case <-a1.Done():
	default:
		t.Fatal("cancelled op not done")
	}
	if ok, _ := h.q.Cancel(a1); ok {
		t.Fatal("cancelled twice")
	}
	next := put("a")
	if ok, err := h.q.Replace(a0, next, true); !ok || err != nil {
		t.Fatalf("replace: %v %v", ok, err)
	}
	if next.Replaces != a0.Seq || h.q.Pending(a0) || !h.q.Pending(next) {
		t.Fatal("replace did not take the old op's place")
	}
	if got, want := h.j.seqs(), []uint64{a2.Seq, next.Seq}; !slices.Equal(got, want) {
		t.Fatalf("journal %v, want %v", got, want)
	}
	// a2 was behind a0 and a1; both gone, it heads the chain.
	if !h.q.mayRun(a2) || h.q.mayRun(next) {
		t.Fatal("chain not relinked after cancel and replace")
	}
	if op := <-h.started; op != a2 {
		t.Fatalf("started %s", opName(op))
	}
	if ok, _ := h.q.Cancel(a2); ok {
		t.Fatal("cancelled a running op")
	}
	if _, err := h.q.Replace(a2, put("a"), false); err != nil {
		t.Fatal(err)
	}
	h.release(a2, next)
	if err := h.q.Wait(context.Background(), next); err != nil {
		t.Fatal(err)
	}

	// Cancelling a move lets through what waited only for it.
	x := h.add(put("d/x"), true, false)
	mv := h.add(move("d/", "e/"), false, false)
	y := h.add(put("e/y"), false, false)
	z := h.add(put("d/x"), false, false)
	if h.q.mayRun(mv) || h.q.mayRun(y) || h.q.mayRun(z) {
		t.Fatal("ran before the delayed op")
	}
	if ok, _ := h.q.Cancel(mv); !ok {
		t.Fatal("move not cancelled")
	}
	if !h.q.mayRun(y) || h.q.mayRun(z) {
		t.Fatal("cancelled move still orders ops")
	}
	h.release(y, x, z)
	if err := h.q.Wait(context.Background(), z); err != nil {
		t.Fatal(err)
	}
	waitDone(t, x, y)

	// Txn: several changes at once; a drop of an op added in the same txn.
	tx := h.q.Begin()
	t1, t2 := marker("k/"), marker("k/")
	tx.Add(t1, true, false)
	tx.Add(t2, true, false)
	tx.Cancel(t1)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if t1.done != nil || !h.q.Pending(t2) {
		t.Fatal("txn")
	}
	t3 := h.add(marker("k/"), true, false)
	h.add(put("k/"), true, false)
	if clean, err := h.q.CancelMarkers("k/"); !clean || err != nil || h.q.Pending(t2) || h.q.Pending(t3) {
		t.Fatalf("cancel markers: %v %v", clean, err)
	}
	if h.q.Len() != 1 {
		t.Fatalf("len %d, want the put left", h.q.Len())
	}
}

func TestReplay(t *testing.T) {
	j := newMemJournal()
	for _, op := range []*Op{
		{Seq: 3, Kind: Put, Key: "a"},
		{Seq: 5, Kind: Put, Key: "b", Replaces: 3},
		{Seq: 7, Kind: Delete, Key: "a"},
		{Seq: 9, Kind: MoveDir, Src: "d/", Key: "e/"},
		{Seq: 11, Kind: Put, Key: "e/x"},
	} {
		b, _ := json.Marshal(op)
		j.m[journalKey(op.Seq)] = b
	}
	var mu sync.Mutex
	var order []uint64
	q := New(Config{Journal: j, Workers: 4, Run: func(ctx context.Context, op *Op) error {
		if op.replayed != (op.Seq < 12) {
			t.Errorf("%s: replayed %v", opName(op), op.replayed)
		}
		mu.Lock()
		order = append(order, op.Seq)
		mu.Unlock()
		return nil
	}})
	defer q.Close()
	ops, err := q.Replay()
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, op := range ops {
		seqs = append(seqs, op.Seq)
	}
	if !slices.Equal(seqs, []uint64{5, 7, 9, 11}) {
		t.Fatalf("replayed %v", seqs)
	}
	q.Start()
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	ran := slices.Clone(order)
	mu.Unlock()
	if i, k := slices.Index(ran, 9), slices.Index(ran, 11); i > k || len(ran) != 4 {
		t.Fatalf("ran %v: want 4 ops, the move before the put under it", ran)
	}
	z := put("z")
	if err := q.Add(z, false, false); err != nil || z.Seq != 12 {
		t.Fatalf("next seq %d: %v", z.Seq, err)
	}
	waitDone(t, z)
	q.Close()
	if left := j.seqs(); len(left) > 0 {
		t.Fatalf("journal keeps %v", left)
	}
}

// TestConcurrent adds, cancels, replaces and waits from many goroutines; the
// runner checks at every start that no earlier conflicting op is unfinished.
func TestConcurrent(t *testing.T) {
	var q *Queue
	var running, maxRunning atomic.Int64
	var violations atomic.Int64
	run := func(ctx context.Context, op *Op) error {
		for _, o := range q.Snapshot() {
			if o.Seq < op.Seq && conflicts(o, op) {
				violations.Add(1)
				t.Errorf("%s started before %s", opName(op), opName(o))
			}
		}
		n := running.Add(1)
		for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		running.Add(-1)
		if rand.IntN(40) == 0 {
			return fmt.Errorf("%w: again", errChanged)
		}
		return nil
	}
	j := newMemJournal()
	q = New(Config{Journal: j, Run: run, Workers: 6, Delay: 2 * time.Millisecond})
	q.Start()
	defer q.Close()
	dirs := []string{"a/", "a/b/", "c/", "", "a/bb/"}
	key := func(r *rand.Rand) string { return dirs[r.IntN(len(dirs))] + fmt.Sprint(r.IntN(6)) }
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var mine []*Op
			for range 300 {
				var op *Op
				switch n := r.IntN(20); {
				case n < 8:
					op = put(key(r))
				case n < 11:
					op = del(key(r))
				case n < 14:
					op = cp(key(r), key(r))
				case n < 15:
					op = move(dirs[r.IntN(len(dirs))], fmt.Sprintf("m%d/", r.IntN(3)))
				case n < 17:
					op = marker(dirs[r.IntN(len(dirs)-1)])
				default:
					if len(mine) > 0 {
						old := mine[r.IntN(len(mine))]
						switch r.IntN(4) {
						case 0:
							q.Cancel(old)
						case 1:
							q.Replace(old, &Op{Kind: old.Kind, Key: old.Key, Src: old.Src}, true)
						case 2:
							q.Hold(old)
						default:
							q.Unhold(old)
						}
						continue
					}
					op = put(key(r))
				}
				if err := q.Add(op, r.IntN(2) == 0, r.IntN(10) == 0); err != nil {
					t.Error(err)
				}
				mine = append(mine, op)
				if r.IntN(30) == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if err := q.Wait(ctx, op); err != nil {
						t.Error(err)
					}
					cancel()
				}
				if r.IntN(60) == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if err := q.Barrier(ctx, dirs[r.IntN(len(dirs))]); err != nil {
						t.Error(err)
					}
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := q.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 {
		t.Fatalf("%d ops left", q.Len())
	}
	q.mu.Lock()
	if len(q.nodes) != 1 || q.ready.Len() != 0 || q.timers.Len() != 0 {
		t.Errorf("indexes not empty: %d nodes, %d ready, %d timers", len(q.nodes), q.ready.Len(), q.timers.Len())
	}
	q.mu.Unlock()
	q.Close()
	if left := j.seqs(); len(left) != 0 {
		t.Fatalf("journal keeps %d records", len(left))
	}
	if maxRunning.Load() < 2 {
		t.Errorf("never ran two ops at once")
	}
	t.Logf("max parallel %d", maxRunning.Load())
}

// TestCostIndependentOfPending counts the queue's index steps for the same
// mix of changes on an empty queue and on one with 20,000 ops pending.
func TestCostIndependentOfPending(t *testing.T) {
	const pending, n = 20000, 1000
	work := func(load bool) (uint64, time.Duration) {
		var runs atomic.Int64
		q := New(Config{Journal: newMemJournal(), Workers: 8, Delay: time.Hour, Run: func(ctx context.Context, op *Op) error {
			runs.Add(1)
			return nil
		}})
		defer q.Close()
		q.Start()
		if load {
			for i := range pending {
				var op *Op
				switch i % 10 {
				case 0:
					op = move(fmt.Sprintf("tmp/%d/", i), fmt.Sprintf("tmp2/%d/", i))
				case 1:
					op = marker(fmt.Sprintf("repo/%d/", i))
				default:
					op = put(fmt.Sprintf("blobs/%02x/%d/data", i%256, i))
				}
				if err := q.Add(op, true, false); err != nil {
					t.Fatal(err)
				}
			}
		}
		start, t0 := q.stepCount(), time.Now()
		var fresh []*Op
		for i := range n {
			var op *Op
			switch i % 8 {
			case 0:
				op = cp(fmt.Sprintf("up/%d/data", i), fmt.Sprintf("blobs/%02x/%d/data", i%256, 2+i*10))
			case 1:
				op = put(fmt.Sprintf("blobs/%02x/%d/data", i%256, 3+i*10))
			case 2:
				op = marker(fmt.Sprintf("repo/%d/", 1+i*10))
			case 3:
				op = move(fmt.Sprintf("new/%d/", i), fmt.Sprintf("new2/%d/", i))
			default:
				op = put(fmt.Sprintf("up/%d/data", i))
			}
			if err := q.Add(op, true, false); err != nil {
				t.Fatal(err)
			}
			fresh = append(fresh, op)
			switch i % 8 {
			case 5:
				if ok, _ := q.Cancel(fresh[i-1]); !ok {
					t.Fatal("not cancelled")
				}
			case 6:
				if ok, _ := q.Replace(fresh[i-1], put(fresh[i-1].Key), true); !ok {
					t.Fatal("not replaced")
				}
			case 7:
				q.Hold(fresh[i-1])
				q.Unhold(fresh[i-1])
			}
		}
		// Finish some: unrelated ops made urgent, run and gone.
		ctx := context.Background()
		for i := range n / 4 {
			op := put(fmt.Sprintf("other/%d", i))
			q.Add(op, true, false)
			if err := q.Wait(ctx, op); err != nil {
				t.Fatal(err)
			}
		}
		return q.stepCount() - start, time.Since(t0)
	}
	empty, te := work(false)
	loaded, tl := work(true)
	ratio := float64(loaded) / float64(empty)
	t.Logf("steps: %d on an empty queue, %d with %d pending: ratio %.2f (wall clock %v vs %v, not asserted)", empty, loaded, pending, ratio, te, tl)
	if ratio >= 3 {
		t.Fatalf("work with %d ops pending is %.2fx that on an empty queue", pending, ratio)
	}
}
