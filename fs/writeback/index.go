package writeback

import (
	"container/heap"
	"container/list"
	"strings"
	"time"
)

// The queue's indexes, all GUARDED_BY(Queue.mu). They make adding,
// starting, finishing or cancelling an op cost in proportion to the ops it
// conflicts with, not to the number of ops pending (ten thousand files
// waiting out their delay must not slow every create down):
//
//   - per exact key, a chain of the unfinished ops touching it in Seq order:
//     an op may run once it heads all its chains;
//   - the chains hang on a tree of directory prefixes, together with the
//     MoveDir ops (prefix touches), so the moves covering a key are found by
//     walking up and the keys under a move by walking down; a conflict
//     through a prefix is an edge counted in the later op's pblockers;
//   - a heap of ops waiting for their notBefore, and a heap by Seq of the
//     ops that may start now.
//
// An op that may run never stops being allowed to by a later op, so each op
// is looked at again only when something it waits for changes: placeLocked
// runs after every change of an op's state.

// dirNode holds what lives under one directory prefix.
type dirNode struct {
	name     string
	parent   *dirNode
	children map[string]*dirNode   // made when first needed: most nodes are leaves
	chains   map[string]*list.List // exact key (whose dirPart is name) -> its unfinished ops
	moves    []*Op                 // MoveDirs with a prefix whose dirPart is name
}

// chainLink is an op's place in the chain of one key.
type chainLink struct {
	node *dirNode
	key  string
	elem *list.Element
}

// dirPart is the longest prefix of key ending in "/": a prefix touch of P
// covers key only if dirPart(key) lies at or under dirPart(P).
func dirPart(key string) string { return key[:strings.LastIndexByte(key, '/')+1] }

// opHeap is a heap of ops that records each op's position in it, so that
// an op can be removed or moved in O(log n).
type opHeap struct {
	ops  []*Op
	less func(a, b *Op) bool
	idx  func(o *Op) *int // 1 + index in ops; 0 when absent
}

func (h *opHeap) Len() int           { return len(h.ops) }
func (h *opHeap) Less(i, j int) bool { return h.less(h.ops[i], h.ops[j]) }
func (h *opHeap) Swap(i, j int) {
	h.ops[i], h.ops[j] = h.ops[j], h.ops[i]
	*h.idx(h.ops[i]) = i + 1
	*h.idx(h.ops[j]) = j + 1
}
func (h *opHeap) Push(x any) {
	o := x.(*Op)
	h.ops = append(h.ops, o)
	*h.idx(o) = len(h.ops)
}
func (h *opHeap) Pop() any {
	n := len(h.ops) - 1
	o := h.ops[n]
	h.ops[n] = nil
	h.ops = h.ops[:n]
	*h.idx(o) = 0
	return o
}

// set puts o in the heap, or moves it after its key changed.
func (h *opHeap) set(o *Op) {
	if i := *h.idx(o); i > 0 {
		heap.Fix(h, i-1)
	} else {
		heap.Push(h, o)
	}
}

func (h *opHeap) remove(o *Op) {
	if i := *h.idx(o); i > 0 {
		heap.Remove(h, i-1)
	}
}

func (h *opHeap) top() *Op {
	if len(h.ops) == 0 {
		return nil
	}
	return h.ops[0]
}

func (q *Queue) initIndex() {
	q.order = list.New()
	q.nodes = map[string]*dirNode{"": {}}
	q.ready = opHeap{
		less: func(a, b *Op) bool { return a.Seq < b.Seq },
		idx:  func(o *Op) *int { return &o.readyIdx },
	}
	q.timers = opHeap{
		less: func(a, b *Op) bool {
			if !a.timerAt.Equal(b.timerAt) {
				return a.timerAt.Before(b.timerAt)
			}
			return a.Seq < b.Seq
		},
		idx: func(o *Op) *int { return &o.timerIdx },
	}
}

// nodeLocked returns the node of directory prefix name, making it (and its
// ancestors) if create is set; otherwise nil when there is none.
func (q *Queue) nodeLocked(name string, create bool) *dirNode {
	if n := q.nodes[name]; n != nil || !create {
		return n
	}
	parent := q.nodeLocked(parentDir(name), true)
	n := &dirNode{name: name, parent: parent}
	if parent.children == nil {
		parent.children = map[string]*dirNode{}
	}
	parent.children[name] = n
	q.nodes[name] = n
	return n
}

// pruneLocked drops n and the ancestors it leaves empty; the root stays.
func (q *Queue) pruneLocked(n *dirNode) {
	for n.parent != nil && len(n.chains) == 0 && len(n.moves) == 0 && len(n.children) == 0 {
		q.steps++
		delete(n.parent.children, n.name)
		delete(q.nodes, n.name)
		n = n.parent
	}
}

// insertLocked indexes a new op, which comes after every op in the queue.
func (q *Queue) insertLocked(op *Op) {
	op.orderElem = q.order.PushBack(op)
	op.links, op.pdeps, op.pwaiters, op.pblockers = nil, nil, nil, 0
	ts := op.touches()
	for i, t := range ts {
		if t.prefix || (i > 0 && ts[0] == t) {
			continue
		}
		q.steps++
		n := q.nodeLocked(dirPart(t.key), true)
		c := n.chains[t.key]
		if c == nil {
			if n.chains == nil {
				n.chains = map[string]*list.List{}
			}
			c = list.New()
			n.chains[t.key] = c
		}
		op.links = append(op.links, chainLink{node: n, key: t.key, elem: c.PushBack(op)})
	}
	// Conflicts through a prefix: earlier moves covering (or, for a move,
	// inside) what op touches, and for a move every earlier op under it.
	var seen map[*Op]bool
	edge := func(earlier *Op) {
		if seen == nil {
			seen = map[*Op]bool{}
		}
		if !seen[earlier] {
			seen[earlier] = true
			op.pdeps = append(op.pdeps, earlier)
			op.pblockers++
			earlier.pwaiters = append(earlier.pwaiters, op)
		}
	}
	for _, t := range ts {
		for d := dirPart(t.key); ; d = parentDir(d) {
			q.steps++
			if n := q.nodes[d]; n != nil {
				for _, m := range n.moves {
					q.steps++
					if movesOverlap(m, t) {
						edge(m)
					}
				}
			}
			if d == "" {
				break
			}
		}
		if t.prefix {
			if n := q.nodes[dirPart(t.key)]; n != nil {
				q.walkLocked(n, t, edge)
			}
		}
	}
	if op.Kind == MoveDir {
		for i, t := range ts {
			if t.prefix && !(i > 0 && ts[0] == t) {
				n := q.nodeLocked(dirPart(t.key), true)
				n.moves = append(n.moves, op)
			}
		}
	}
}

// walkLocked calls fn for every op at or under n that prefix touch t
// overlaps (moves at n itself excepted: the walk up found them).
func (q *Queue) walkLocked(n *dirNode, t touch, fn func(*Op)) {
	q.steps++
	for key, c := range n.chains {
		q.steps++
		if !strings.HasPrefix(key, t.key) {
			continue
		}
		for e := c.Front(); e != nil; e = e.Next() {
			q.steps++
			fn(e.Value.(*Op))
		}
	}
	for _, child := range n.children {
		if !strings.HasPrefix(child.name, t.key) && !strings.HasPrefix(t.key, child.name) {
			continue
		}
		for _, m := range child.moves {
			q.steps++
			if movesOverlap(m, t) {
				fn(m)
			}
		}
		q.walkLocked(child, t, fn)
	}
}

func movesOverlap(m *Op, t touch) bool {
	for _, u := range m.touches() {
		if u.overlaps(t) {
			return true
		}
	}
	return false
}

// removeLocked takes a finished or cancelled op out of the indexes and
// looks again at the ops that waited for it.
func (q *Queue) removeLocked(op *Op) {
	if op.orderElem == nil {
		return
	}
	q.order.Remove(op.orderElem)
	op.orderElem = nil
	q.ready.remove(op)
	q.timers.remove(op)
	now := time.Now()
	for _, l := range op.links {
		q.steps++
		c := l.node.chains[l.key]
		next := l.elem.Next()
		head := l.elem.Prev() == nil
		c.Remove(l.elem)
		if head && next != nil {
			q.placeLocked(next.Value.(*Op), now)
		}
		if c.Len() == 0 {
			delete(l.node.chains, l.key)
			q.pruneLocked(l.node)
		}
	}
	op.links = nil
	for _, w := range op.pwaiters {
		q.steps++
		w.pblockers--
		if w.pblockers == 0 {
			q.placeLocked(w, now)
		}
	}
	op.pwaiters, op.pdeps = nil, nil
	if op.Kind == MoveDir {
		for _, t := range op.touches() {
			if n := q.nodes[dirPart(t.key)]; n != nil {
				for i, m := range n.moves {
					if m == op {
						n.moves = append(n.moves[:i], n.moves[i+1:]...)
						break
					}
				}
				q.pruneLocked(n)
			}
		}
	}
}

// unblockedLocked reports whether no earlier unfinished op conflicts with op.
func (op *Op) unblockedLocked() bool {
	for _, l := range op.links {
		if l.elem.Prev() != nil {
			return false
		}
	}
	return op.pblockers == 0
}

// placeLocked files op where its state says: with the ops that may start
// now, with those waiting for a time, or nowhere (running, waiting for an
// earlier op or for Unhold; whatever changes that places it again).
func (q *Queue) placeLocked(op *Op, now time.Time) {
	q.steps++
	switch {
	case op.orderElem == nil || !op.pendingLocked() || !op.unblockedLocked():
	case op.held && !op.urgent:
	// A failed op waits out its backoff even when urgent.
	case (!op.urgent || op.attempts > 0) && op.notBefore.After(now):
		q.ready.remove(op)
		op.timerAt = op.notBefore
		q.timers.set(op)
		return
	default:
		q.timers.remove(op)
		q.ready.set(op)
		return
	}
	q.ready.remove(op)
	q.timers.remove(op)
}

// urgeLocked makes op urgent, and with it every earlier op it waits for,
// transitively. An op already urgent already did the same.
func (q *Queue) urgeLocked(op *Op, now time.Time) {
	if op.urgent {
		return
	}
	op.urgent = true
	stack := []*Op{op}
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		q.placeLocked(o, now)
		for _, l := range o.links {
			for e := l.elem.Prev(); e != nil; e = e.Prev() {
				q.steps++
				p := e.Value.(*Op)
				if p.urgent {
					break
				}
				p.urgent = true
				stack = append(stack, p)
			}
		}
		for _, p := range o.pdeps {
			q.steps++
			if !p.urgent && p.orderElem != nil {
				p.urgent = true
				stack = append(stack, p)
			}
		}
	}
}
