package fs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
)

// The index of local changes: one tree of the entries that operations on
// this mount created, changed, removed or moved and that OSS does not show
// yet. It is the only place that decides what exists: an entry here is
// authoritative; a name with no entry is as OSS holds it (through the
// metadata cache). Lookups walk it in O(depth), listings merge a directory's
// entries into the remote listing in O(entries).
//
// Every queued op pins the entry of each key it writes. An entry stays while
// an op pins it or it has children;
// when the last op on it has run (or was cancelled) it retires: what it says
// is written to the metadata cache (OSS now holds the same) and it leaves
// the tree, so the view never flickers and never depends on the order in
// which ops finish. A change that replaces an entry changes it in place, so
// the new state inherits the pins of the old one.
//
// Everything here is GUARDED_BY(FS.mu).

// kind is what an entry says of its name.
type kind uint8

const (
	kNone kind = iota // nothing: OSS decides; the entry only holds entries below it
	kFile
	kDir
	kGone
)

type entry struct {
	name     string
	parent   *entry
	children map[string]*entry
	ops      []*writeback.Op // queued ops that write this entry's key

	kind     kind
	attrs    metacache.Entry // set locally (hasAttrs): what the mount shows until OSS holds it
	hasAttrs bool
	// from, for a file, lists where OSS may hold its bytes until pending
	// copies run, most likely first (a rename of a rename); for a directory,
	// from[0] is where OSS holds its entries until pending moves run.
	from  []string
	moves []*writeback.Op // kDir with from: pending moves that carry its entries on
	// fresh: a directory made here whose entries are all in this index (its
	// old contents, if any, are being removed): OSS is not asked.
	fresh bool
	// dropTree: the cache below this path describes something that is gone
	// or moved; forget it when the entry retires.
	dropTree bool
	// places are where the ops pinned here write in OSS, by Seq: the
	// latest one not dropped is where the entry is there (an entry carried
	// along by a directory move not yet run is still at its old path), and
	// it retires into the cache at that path. An op replaced or cancelled
	// before it ran wrote nothing: the entry is where the ops before it put it.
	places  []place
	markers []*writeback.Op // kDir: queued markers; an rmdir cancels them
	made    *writeback.Op   // kDir: mkdir's own marker: until it runs, OSS has no marker
}

// place is where one op writes an entry in OSS.
type place struct {
	seq uint64
	at  string
}

// at is where OSS holds the entry, as its ops left or will leave it; ""
// when no op placed it.
func (e *entry) at() string {
	if len(e.places) == 0 {
		return ""
	}
	return e.places[len(e.places)-1].at
}

type index struct {
	root   entry
	pinned map[*writeback.Op][]*entry // the entries each op pins
}

func newIndex() *index {
	return &index{root: entry{kind: kDir}, pinned: map[*writeback.Op][]*entry{}}
}

func components(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// get returns the entry at p, or nil.
func (ix *index) get(p string) *entry {
	e := &ix.root
	for _, c := range components(p) {
		if e = e.children[c]; e == nil {
			return nil
		}
	}
	return e
}

// ensure returns the entry at p, making kNone entries on the way.
func (ix *index) ensure(p string) *entry {
	e := &ix.root
	for _, c := range components(p) {
		ch := e.children[c]
		if ch == nil {
			ch = &entry{name: c, parent: e}
			if e.children == nil {
				e.children = map[string]*entry{}
			}
			e.children[c] = ch
		}
		e = ch
	}
	return e
}

func (e *entry) path() string {
	if e.parent == nil {
		return ""
	}
	var parts []string
	for ; e.parent != nil; e = e.parent {
		parts = append(parts, e.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// set makes the entry at p say k, keeping its pins and children.
func (ix *index) set(p string, k kind) *entry {
	e := ix.ensure(p)
	if e.kind == kDir || e.kind == kGone {
		e.dropTree = e.dropTree || k != kDir // what was cached below it is no more
	}
	e.kind = k
	e.hasAttrs, e.attrs = false, metacache.Entry{}
	e.from, e.moves, e.fresh = nil, nil, false
	e.markers, e.made = nil, nil
	return e
}

// pin records that op writes at p: the entry stays until op has run or was
// cancelled. A creating op also makes the directories above p exist.
func (ix *index) pin(op *writeback.Op, p string, creates bool) *entry {
	e := ix.ensure(p)
	for a := e.parent; creates && a != nil && a.parent != nil; a = a.parent {
		if a.kind == kNone {
			a.kind = kDir
		}
	}
	e.ops = append(e.ops, op)
	i := len(e.places)
	for i > 0 && e.places[i-1].seq > op.Seq {
		i--
	}
	e.places = slices.Insert(e.places, i, place{op.Seq, p})
	ix.pinned[op] = append(ix.pinned[op], e)
	return e
}

// unpin forgets op, which ran or (ran false) was dropped before it ran,
// and returns the entries it pinned.
func (ix *index) unpin(op *writeback.Op, ran bool) []*entry {
	es := ix.pinned[op]
	delete(ix.pinned, op)
	for _, e := range es {
		e.ops = removeOp(e.ops, op)
		if i := slices.IndexFunc(e.places, func(pl place) bool { return pl.seq == op.Seq }); i >= 0 {
			if ran {
				e.places = e.places[i:] // what ran before it is overtaken
			} else {
				e.places = slices.Delete(e.places, i, i+1)
			}
		}
		e.markers = removeOp(e.markers, op)
		e.moves = removeOp(e.moves, op)
		if e.made == op {
			e.made = nil
		}
	}
	return es
}

func removeOp(ops []*writeback.Op, op *writeback.Op) []*writeback.Op {
	for i, o := range ops {
		if o == op {
			return append(ops[:i], ops[i+1:]...)
		}
	}
	return ops
}

// idle reports whether nothing keeps e in the tree but, for a file, its
// staged copy (checked by the caller).
func (e *entry) idle() bool { return e.parent != nil && len(e.ops) == 0 && len(e.children) == 0 }

// detach takes an idle entry out of the tree.
func (e *entry) detach() {
	if e.parent != nil && e.parent.children[e.name] == e {
		delete(e.parent.children, e.name)
	}
}

// resolved is what the index says about one path.
type resolved struct {
	e     *entry // the entry at the path, or nil
	where string // where OSS holds it (a mount path), unless none
	none  bool   // OSS holds nothing there that counts (a fresh directory above)
}

// resolve walks to p. It fails with errNotExist or errNotDir when an entry
// above p is gone or a file.
func (ix *index) resolve(p string) (resolved, error) {
	r := resolved{e: &ix.root}
	for i, c := range components(p) {
		r.where = joinPath(r.where, c)
		if r.e == nil {
			continue
		}
		r.e = r.e.children[c]
		if r.e == nil {
			continue
		}
		last := i == len(components(p))-1
		switch r.e.kind {
		case kGone:
			if !last {
				return resolved{}, errNotExist
			}
		case kFile:
			if !last {
				return resolved{}, errNotDir
			}
		case kDir:
			if len(r.e.from) > 0 {
				r.where = r.e.from[0] // moved in: OSS holds its entries there
			}
			// A fresh directory's own listing does not count; below it, a
			// directory that is not fresh (any more: its marker has run, or
			// it was moved in) has its entries in OSS at where, and in
			// the cache once they retired.
			r.none = r.e.fresh
		}
	}
	return r, nil
}

// candidates lists where OSS may hold the bytes of the file at p, first
// choice first.
func (r resolved) candidates() []string {
	if r.e != nil && r.e.kind == kFile {
		// Its own upload puts it at where, even in a fresh directory.
		return append(append([]string(nil), r.e.from...), r.where)
	}
	if r.none {
		return nil
	}
	return []string{r.where}
}

// moveTree moves the entry at src (made if missing) to dst and leaves a
// gone entry at src. Whatever dst held (an empty directory, or entries
// still being removed) merges into the moved entry, keeping its pins.
func (ix *index) moveTree(src, dst string) (moved, gone *entry) {
	moved = ix.ensure(src)
	moved.detach()
	gone = ix.ensure(src)
	gone.kind, gone.dropTree = kGone, true
	slot := ix.ensure(dst)
	moved.name, moved.parent = slot.name, slot.parent
	slot.parent.children[slot.name] = moved
	ix.merge(moved, slot)
	return moved, gone
}

// merge moves old's pins and children into e, which takes old's place.
// What old and its children said describes the directory that was at the
// target (empty, so at most entries still being removed from OSS): it
// must not hide what the moved directory holds. Their pins stay, on
// entries that leave the view to the moved tree (kNone).
func (ix *index) merge(e, old *entry) {
	for _, op := range old.ops {
		es := ix.pinned[op]
		for i := range es {
			if es[i] == old {
				es[i] = e
			}
		}
		e.ops = append(e.ops, op)
	}
	for name, ch := range old.children {
		if cur := e.children[name]; cur != nil {
			ix.merge(cur, ch)
			continue
		}
		if e.children == nil {
			e.children = map[string]*entry{}
		}
		ch.parent = e
		e.children[name] = ch
		ch.holdPinsOnly()
	}
}

// holdPinsOnly makes e and its children say nothing: OSS (through the
// moved tree's own places) decides, and they only wait for their ops.
func (e *entry) holdPinsOnly() {
	e.kind, e.dropTree, e.fresh = kNone, false, false
	e.hasAttrs, e.attrs, e.from, e.moves = false, metacache.Entry{}, nil, nil
	for _, ch := range e.children {
		ch.holdPinsOnly()
	}
}

// dump describes the index, for test failures.
func (ix *index) dump() string {
	var b strings.Builder
	var walk func(e *entry, depth int)
	walk = func(e *entry, depth int) {
		fmt.Fprintf(&b, "%s%q kind=%d ops=%d from=%v fresh=%v drop=%v attrs=%v\n", strings.Repeat("  ", depth), e.name, e.kind, len(e.ops), e.from, e.fresh, e.dropTree, e.hasAttrs)
		for _, ch := range e.children {
			walk(ch, depth+1)
		}
	}
	walk(&ix.root, 0)
	return b.String()
}
