package writeback

import (
	"cmp"
	"container/heap"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Journal stores op records durably; metacache.Cache implements it.
type Journal interface {
	JournalPut(key string, value []byte) error
	JournalDelete(key string) error
	JournalDeleteMany(keys []string) error
	JournalApply(puts map[string][]byte, deletes []string) error
	JournalScan(fn func(key string, value []byte) error) error
}

// Runner carries out one op in OSS.
type Runner func(ctx context.Context, op *Op) error

// Config configures a Queue.
type Config struct {
	Journal Journal
	Run     Runner
	Delay   time.Duration // how long a closed file waits before its upload starts
	Workers int           // ops run at once; default 8
	OnDone  func(op *Op)  // called once op has been carried out and left the queue
	Logger  *slog.Logger
	// OnUploadID is called when a multipart upload starts for a Put, so the
	// id can be aborted after a crash. It is journaled by the queue itself.
}

// ErrCancelled is returned for an op cancelled before it ran.
var ErrCancelled = errors.New("cancelled")

// Queue holds the ops not yet carried out, in the order they were made.
//
// Lock order: the filesystem's own mutex, then Queue.mu. Queue never calls
// out to the filesystem while holding mu.
type Queue struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	order *list.List // GUARDED_BY(mu): unfinished ops in Seq order
	// The indexes that find conflicts and runnable ops (index.go).
	nodes   map[string]*dirNode // GUARDED_BY(mu): by directory prefix
	ready   opHeap              // GUARDED_BY(mu): may start now, by Seq
	timers  opHeap              // GUARDED_BY(mu): waiting for notBefore
	steps   uint64              // GUARDED_BY(mu): index steps taken; tests check cost with it
	nextSeq uint64
	running int
	closed  bool
	// done holds the journal keys of finished ops whose records may go in
	// the next batch (see forgetLocked).
	done []string
	// Counts of ops started and ended, for DirEpoch and MoveEpoch: moves
	// (Copy, MoveDir), and ops on the entries of a directory, by hash.
	moveStarts, moveEnds atomic.Uint64
	dirStarts, dirEnds   [256]atomic.Uint64
	kick                 chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the scheduler and running ops
}

// New makes a queue; call Replay, then Start.
func New(cfg Config) *Queue {
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{cfg: cfg, log: cfg.Logger, nextSeq: 1, kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
	q.initIndex()
	return q
}

func journalKey(seq uint64) string { return fmt.Sprintf("op/%016x", seq) }

// Replay loads the ops a previous run left in the journal, in order, and
// queues them to run at once. It returns them so the caller can rebuild its
// view of pending files.
func (q *Queue) Replay() ([]*Op, error) {
	var ops []*Op
	replaced := map[uint64]bool{}
	err := q.cfg.Journal.JournalScan(func(key string, value []byte) error {
		var op Op
		if err := json.Unmarshal(value, &op); err != nil {
			q.log.Warn("skipping unreadable journal record", "key", key, "err", err)
			return nil
		}
		if op.Replaces != 0 {
			replaced[op.Replaces] = true
		}
		ops = append(ops, &op)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replay journal: %w", err)
	}
	// Queue order is Seq order, whatever order the journal keeps.
	slices.SortStableFunc(ops, func(a, b *Op) int { return cmp.Compare(a.Seq, b.Seq) })
	q.mu.Lock()
	defer q.mu.Unlock()
	var kept []*Op
	now := time.Now()
	for _, op := range ops {
		if op.Seq >= q.nextSeq {
			q.nextSeq = op.Seq + 1
		}
		if replaced[op.Seq] {
			// A rename moved this upload and crashed before dropping the old record.
			if err := q.cfg.Journal.JournalDelete(journalKey(op.Seq)); err != nil {
				return nil, err
			}
			continue
		}
		op.done = make(chan struct{})
		op.replayed = true
		q.insertLocked(op)
		q.placeLocked(op, now)
		kept = append(kept, op)
	}
	return kept, nil
}

// Start runs the scheduler until Close.
func (q *Queue) Start() {
	q.wg.Add(1)
	go q.schedule()
}

// Close stops the workers and waits for the ops they were running to
// give up; unfinished ops stay in the journal.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cancel()
	q.poke()
	q.wg.Wait()
	q.mu.Lock()
	q.flushDoneLocked()
	q.mu.Unlock()
}

func (q *Queue) poke() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Log is what the filesystem changes the queue through: the Queue itself,
// one change at a time, or a Txn, several changes journaled as one.
type Log interface {
	Pending(op *Op) bool
	Add(op *Op, delayed, held bool) error
	Replace(old, next *Op, delayed bool) (bool, error)
	Cancel(op *Op) (bool, error)
}

var (
	_ Log = (*Queue)(nil)
	_ Log = (*Txn)(nil)
)

// Add journals op (durably) and queues it. A delayed op waits for the
// queue's Delay before it may run; a held one waits for Unhold (its file is
// still open for writing). A barrier overrides both.
func (q *Queue) Add(op *Op, delayed, held bool) error {
	t := q.Begin()
	t.Add(op, delayed, held)
	return t.Commit()
}

// Replace queues next in place of old, at the end of the queue, if old has
// not started; it reports whether it did. The journal never holds neither.
func (q *Queue) Replace(old, next *Op, delayed bool) (bool, error) {
	t := q.Begin()
	ok, _ := t.Replace(old, next, delayed)
	return ok, t.Commit()
}

// Cancel drops op if it has not started; it reports whether it did.
func (q *Queue) Cancel(op *Op) (bool, error) {
	t := q.Begin()
	ok, _ := t.Cancel(op)
	return ok, t.Commit()
}

// Pending reports whether op is queued and has not started: it will still
// read its staging file, or can still be cancelled or replaced.
func (q *Queue) Pending(op *Op) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return op.pendingLocked()
}

func (o *Op) pendingLocked() bool {
	return o.done != nil && !o.running && !o.finished && !o.cancelled
}

// Txn gathers changes to the queue that must reach the journal together,
// such as the copy and delete of one rename: a crash leaves all or none of
// them. It holds the queue's lock from Begin to Commit.
type Txn struct {
	q       *Queue
	added   []*Op
	delayed map[*Op]bool
	dropped []*Op // cancelled or replaced: their records go
}

// Begin starts a transaction; Commit ends it.
func (q *Queue) Begin() *Txn {
	q.mu.Lock()
	return &Txn{q: q, delayed: map[*Op]bool{}}
}

// Pending is Queue.Pending within the transaction.
func (t *Txn) Pending(op *Op) bool {
	if slices.Contains(t.dropped, op) {
		return false
	}
	return slices.Contains(t.added, op) || op.pendingLocked()
}

// Add queues op when the transaction commits. Its error is Commit's.
func (t *Txn) Add(op *Op, delayed, held bool) error {
	op.Seq = t.q.nextSeq
	t.q.nextSeq++
	op.held = held
	t.added = append(t.added, op)
	t.delayed[op] = delayed
	return nil
}

// Replace is Queue.Replace within the transaction.
func (t *Txn) Replace(old, next *Op, delayed bool) (bool, error) {
	if !t.Pending(old) {
		return false, nil
	}
	next.Replaces = old.Seq
	t.Add(next, delayed, old.held)
	t.drop(old)
	return true, nil
}

// Cancel is Queue.Cancel within the transaction.
func (t *Txn) Cancel(op *Op) (bool, error) {
	if !t.Pending(op) {
		return false, nil
	}
	t.drop(op)
	return true, nil
}

func (t *Txn) drop(op *Op) {
	if i := slices.Index(t.added, op); i >= 0 {
		t.added = slices.Delete(t.added, i, i+1)
		return
	}
	t.dropped = append(t.dropped, op)
}

// Commit journals the transaction's changes in one durable commit, then
// applies them to the queue. On error nothing changed.
func (t *Txn) Commit() error {
	q := t.q
	defer q.mu.Unlock()
	if len(t.added) == 0 && len(t.dropped) == 0 {
		return nil
	}
	puts := make(map[string][]byte, len(t.added))
	for _, op := range t.added {
		b, err := json.Marshal(op)
		if err != nil {
			return err
		}
		puts[journalKey(op.Seq)] = b
	}
	var dels []string
	for _, op := range t.dropped {
		dels = append(dels, journalKey(op.Seq))
	}
	if err := q.cfg.Journal.JournalApply(puts, dels); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, op := range t.dropped {
		op.cancelled = true
		q.removeLocked(op)
		close(op.done)
	}
	now := time.Now()
	for _, op := range t.added {
		op.done = make(chan struct{})
		if t.delayed[op] {
			op.notBefore = now.Add(q.cfg.Delay)
		}
		q.insertLocked(op)
		q.placeLocked(op, now)
	}
	q.poke()
	return nil
}

// Hold keeps op from running until Unhold (a file open for writing), unless
// a barrier needs it.
func (q *Queue) Hold(op *Op) {
	q.mu.Lock()
	op.held = true
	q.placeLocked(op, time.Now())
	q.mu.Unlock()
}

// Unhold lets op run after the queue's delay.
func (q *Queue) Unhold(op *Op) {
	q.mu.Lock()
	now := time.Now()
	op.held = false
	op.notBefore = now.Add(q.cfg.Delay)
	q.placeLocked(op, now)
	q.mu.Unlock()
	q.poke()
}

// eachLocked calls fn for every unfinished op in Seq order.
func (q *Queue) eachLocked(fn func(op *Op)) {
	for e := q.order.Front(); e != nil; e = e.Next() {
		fn(e.Value.(*Op))
	}
}

// Snapshot returns the unfinished ops in order. The caller must only read
// their exported fields.
func (q *Queue) Snapshot() []*Op {
	q.mu.Lock()
	defer q.mu.Unlock()
	ops := make([]*Op, 0, q.order.Len())
	q.eachLocked(func(op *Op) { ops = append(ops, op) })
	return ops
}

// Len is the number of unfinished ops.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.order.Len()
}

// Barrier is a directory fsync: it waits for every op made by a rename and
// every op on an entry of dir (a key prefix such as "a/b/", "" for the
// bucket root), queued before the call.
func (q *Queue) Barrier(ctx context.Context, dir string) error {
	q.mu.Lock()
	var wait []*Op
	q.eachLocked(func(op *Op) {
		if op.Rename || op.inDir(dir) {
			wait = append(wait, op)
		}
	})
	q.mu.Unlock()
	return q.await(ctx, wait)
}

// Wait makes op urgent and waits for it (fsync with --fsync=remote).
func (q *Queue) Wait(ctx context.Context, op *Op) error {
	return q.await(ctx, []*Op{op})
}

// Drain makes every op urgent and waits until the queue is empty or ctx
// ends, including ops that finishing ones queue (an attribute table's
// rewrite follows the uploads it describes).
func (q *Queue) Drain(ctx context.Context) error {
	for ops := q.Snapshot(); len(ops) > 0; ops = q.Snapshot() {
		if err := q.await(ctx, ops); err != nil {
			return err
		}
	}
	return nil
}

// await marks ops urgent and waits until each has finished. It fails fast
// when one of them has failed since the call began.
func (q *Queue) await(ctx context.Context, ops []*Op) error {
	if len(ops) == 0 {
		return nil
	}
	q.mu.Lock()
	now := time.Now()
	for _, op := range ops {
		if !op.finished && !op.cancelled {
			q.urgeLocked(op, now)
			op.lastErr = nil
		}
	}
	q.mu.Unlock()
	q.poke()
	for _, op := range ops {
		for {
			select {
			case <-op.done:
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
				q.mu.Lock()
				err := op.lastErr
				q.mu.Unlock()
				if err != nil {
					return fmt.Errorf("%s %q: %w", op.Kind, op.Key, err)
				}
				continue
			}
			break
		}
	}
	return nil
}

// schedule starts every op that may run: due (or urgent), not held, and not
// behind an unfinished op on the same keys.
func (q *Queue) schedule() {
	defer q.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		if q.closed {
			q.flushDoneLocked()
			q.mu.Unlock()
			return
		}
		q.flushDoneLocked()
		next := q.startRunnableLocked()
		q.mu.Unlock()
		if next > 0 {
			timer.Reset(next)
		}
		select {
		case <-q.kick:
		case <-timer.C:
		case <-q.ctx.Done():
		}
	}
}

// startRunnableLocked starts what it can and returns how long until the
// next delayed op becomes due (0: nothing waiting on time). It looks only at
// ops that became due and at those it starts.
func (q *Queue) startRunnableLocked() time.Duration {
	now := time.Now()
	for op := q.timers.top(); op != nil && !op.timerAt.After(now); op = q.timers.top() {
		q.steps++
		q.timers.remove(op)
		q.placeLocked(op, now)
	}
	for q.running < q.cfg.Workers && q.ready.Len() > 0 {
		q.steps++
		op := heap.Pop(&q.ready).(*Op)
		op.running = true
		q.running++
		q.wg.Add(1)
		go q.runOne(op)
	}
	if op := q.timers.top(); op != nil {
		return max(op.timerAt.Sub(now), time.Millisecond)
	}
	return 0
}

// DirEpoch identifies the state of directory dir (a key prefix): it
// changes whenever an op on a key anywhere under it, or any move, starts or
// ends. A listing or lookup fetched from OSS may be cached only if
// DirStable holds afterwards: otherwise OSS may have answered from before
// a change the cache has already been told of (or is being told of right
// now). An op already running when the epoch is taken counts too: it may
// end, and tell the cache, while the fetch is on its way.
func (q *Queue) DirEpoch(dir string) uint64 {
	i := dirSlot(dir)
	// Ends first: an op that starts or ends between the two loads shows
	// as running, which is never stable.
	ends := q.dirEnds[i].Load() + q.moveEnds.Load()
	starts := q.dirStarts[i].Load() + q.moveStarts.Load()
	return epochOf(starts, ends)
}

// DirStable reports whether nothing was running on dir's entries (nor any
// move) when DirEpoch returned epoch, and nothing started or ended since.
func (q *Queue) DirStable(dir string, epoch uint64) bool {
	return epoch != 0 && q.DirEpoch(dir) == epoch
}

// epochOf is 0 (never stable) while an op is running, else a count that
// grows with every op started.
func epochOf(starts, ends uint64) uint64 {
	if starts != ends {
		return 0
	}
	return starts + 1
}

// MoveEpoch identifies the state of moves (Copy, MoveDir): a reader that
// looked for an object at its old key, through a pending move, may trust
// what it found only if MoveStable holds afterwards.
func (q *Queue) MoveEpoch() uint64 {
	ends := q.moveEnds.Load()
	return epochOf(q.moveStarts.Load(), ends)
}

// MoveStable reports whether no move was running when MoveEpoch returned
// epoch, and none started or ended since: none can have changed OSS under
// the reader.
func (q *Queue) MoveStable(epoch uint64) bool {
	return epoch != 0 && q.MoveEpoch() == epoch
}

func dirSlot(dir string) uint8 {
	h := uint32(2166136261)
	for i := 0; i < len(dir); i++ {
		h = (h ^ uint32(dir[i])) * 16777619
	}
	return uint8(h)
}

func (q *Queue) bump(op *Op, dirs *[256]atomic.Uint64, moves *atomic.Uint64) {
	if op.Kind == Copy || op.Kind == MoveDir {
		moves.Add(1)
	}
	// Every ancestor, not only the parent: a key appearing or going deep
	// down can make a directory prefix appear in, or vanish from, the
	// listing of any directory above it.
	for _, t := range op.touches() {
		for d := parentDir(t.key); ; d = parentDir(d) {
			dirs[dirSlot(d)].Add(1)
			if d == "" {
				break
			}
		}
	}
}

func (q *Queue) runOne(op *Op) {
	defer q.wg.Done()
	q.bump(op, &q.dirStarts, &q.moveStarts)
	defer q.bump(op, &q.dirEnds, &q.moveEnds)
	err := q.cfg.Run(q.ctx, op)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running--
	op.running = false
	if errors.Is(err, errChanged) {
		op.notBefore = time.Now().Add(50 * time.Millisecond)
		q.placeLocked(op, time.Now())
		q.poke()
		return
	}
	if err != nil {
		op.attempts++
		op.lastErr = err
		backoff := min(time.Second<<min(op.attempts, 6), time.Minute)
		op.notBefore = time.Now().Add(backoff)
		q.placeLocked(op, time.Now())
		if q.ctx.Err() == nil {
			q.log.Warn("OSS change failed; will retry", "op", op.Kind, "key", op.Key, "attempt", op.attempts, "retry_in", backoff, "err", err)
		}
		q.poke()
		return
	}
	q.forgetLocked(op)
	op.finished = true
	q.removeLocked(op)
	close(op.done)
	q.poke()
	if q.cfg.OnDone != nil {
		go q.cfg.OnDone(op)
	}
}

// RecordUploadID journals the multipart upload id of a running Put, so a
// later mount can abort it if this one dies.
func (q *Queue) RecordUploadID(op *Op, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	op.UploadID = id
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	return q.cfg.Journal.JournalPut(journalKey(op.Seq), b)
}

// Busy reports whether an unfinished op other than self could leave OSS
// holding, under the name key, something other than what self made of it:
// for a directory (dir set), an op on the file key itself, on the
// directory's marker, or a move covering it (ops on entries inside it only
// confirm it); for a file, any op on the key, inside key+"/", or a move
// covering it.
func (q *Queue) Busy(self *Op, key string, dir bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for e := q.order.Front(); e != nil; e = e.Next() {
		op := e.Value.(*Op)
		if op == self {
			continue
		}
		for _, t := range op.touches() {
			switch {
			case t.key == key, t.prefix && strings.HasPrefix(key+"/", t.key):
				return true
			case !strings.HasPrefix(t.key, key+"/"):
			case !dir, t.key == key+"/" && op.Kind == Delete:
				return true
			}
		}
	}
	return false
}

// forgetLocked drops a finished op's journal record. Carrying out a Put,
// Delete, Marker or SetMeta again after a crash leaves OSS as it was, so
// their records go in batches, one fsync for many; a Copy or MoveDir run
// again could copy or move what later ops put at its source, so its record
// goes at once.
func (q *Queue) forgetLocked(op *Op) {
	key := journalKey(op.Seq)
	if op.Kind == Copy || op.Kind == MoveDir {
		if err := q.cfg.Journal.JournalDelete(key); err != nil {
			q.log.Error("journal delete failed", "seq", op.Seq, "err", err)
		}
		return
	}
	q.done = append(q.done, key)
	if len(q.done) >= 256 {
		q.flushDoneLocked()
	}
}

func (q *Queue) flushDoneLocked() {
	if len(q.done) == 0 {
		return
	}
	if err := q.cfg.Journal.JournalDeleteMany(q.done); err != nil {
		q.log.Error("journal delete failed", "records", len(q.done), "err", err)
		return
	}
	q.done = q.done[:0]
}

// CancelMarkers drops every queued directory marker with key that has not
// started, and reports whether none is left running.
func (q *Queue) CancelMarkers(key string) (bool, error) {
	t := q.Begin()
	clean := true
	if n := q.nodes[dirPart(key)]; n != nil && n.chains[key] != nil {
		// Every op with Key key is in key's chain.
		for e := n.chains[key].Front(); e != nil; e = e.Next() {
			if op := e.Value.(*Op); op.Kind == Marker && op.Key == key {
				if ok, _ := t.Cancel(op); !ok {
					clean = false
				}
			}
		}
	}
	return clean, t.Commit()
}
