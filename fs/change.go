package fs

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
)

// change gathers the journal records of one operation (a rename's copy and
// delete, an unlink's cancelled upload and delete) so that they reach the
// journal in one commit, and remembers them so that the index can pin and
// unpin them once that commit succeeded.
type change struct {
	*writeback.Txn
	added, dropped []*writeback.Op
}

var _ writeback.Log = (*change)(nil)

// beginLocked starts a change; commitLocked ends it. The caller holds f.mu
// from one to the other (lock order: FS.mu, then the queue's).
func (f *FS) beginLocked() *change { return &change{Txn: f.q.Begin()} }

func (c *change) Add(op *writeback.Op, delayed, held bool) error {
	c.added = append(c.added, op)
	return c.Txn.Add(op, delayed, held)
}

func (c *change) Replace(old, next *writeback.Op, delayed bool) (bool, error) {
	ok, err := c.Txn.Replace(old, next, delayed)
	if ok {
		c.added = append(c.added, next)
		c.dropped = append(c.dropped, old)
	}
	return ok, err
}

func (c *change) Cancel(op *writeback.Op) (bool, error) {
	ok, err := c.Txn.Cancel(op)
	if ok {
		c.dropped = append(c.dropped, op)
	}
	return ok, err
}

// commitLocked journals c; once that succeeded, view sets what the index
// says of the names the operation changed, and c's ops are pinned there.
// On error nothing changed.
func (f *FS) commitLocked(c *change, view func()) error {
	if err := c.Commit(); err != nil {
		return err
	}
	if view != nil {
		view()
	}
	for _, op := range c.added {
		f.pinLocked(op)
	}
	for _, op := range c.dropped {
		f.unpinLocked(op, false)
	}
	f.reapLocked()
	return nil
}

// opPath is the mount path of an op's key ("a/b" for "PREFIX/a/b" and "PREFIX/a/b/").
func (f *FS) opPath(key string) string {
	p, _ := f.pathOf(key)
	return p
}

// pinLocked records op in the index at the path it writes.
func (f *FS) pinLocked(op *writeback.Op) {
	switch op.Kind {
	case writeback.Put, writeback.Copy:
		f.ix.pin(op, f.opPath(op.Key), true)
	case writeback.Marker:
		e := f.ix.pin(op, f.opPath(op.Key), true)
		e.markers = append(e.markers, op)
	case writeback.MoveDir:
		e := f.ix.pin(op, f.opPath(op.Key), true)
		e.moves = append(e.moves, op)
		f.ix.pin(op, f.opPath(op.Src), false)
	default:
		f.ix.pin(op, f.opPath(op.Key), false)
	}
}

// unpinLocked forgets an op that ran or (ran false) was dropped before it
// ran; entries nothing else holds retire.
func (f *FS) unpinLocked(op *writeback.Op, ran bool) {
	for _, e := range f.ix.unpin(op, ran) {
		f.retireLocked(e)
	}
}

// applied runs once op has been carried out in OSS, before it leaves the
// queue: entries it held retire into the metadata cache, and a staged file
// that is now clean may be kept as a cached copy.
func (f *FS) applied(op *writeback.Op) {
	f.log.Debug("carried out", "op", op.Kind, "key", op.Key, "src", op.Src)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op.Kind {
	case writeback.MoveDir:
		// The entries that read through to the source now find them at the target.
		src, dst := f.opPath(op.Src), f.opPath(op.Key)
		// OSS moved exactly what it held under src (which the cache knows,
		// modes and owners included) to dst, over at most an empty
		// directory: the cache follows.
		if err := f.cache.MoveTree(src, dst); err != nil {
			f.log.Warn("cache update after a directory move", "dir", dst, "err", err)
		}
		if es := f.ix.pinned[op]; len(es) > 0 {
			// The moved directory (pinned first; another rename may have
			// moved it on since): what the cache holds where OSS has its
			// entries is right now, and a later move carries the cache
			// along. Dropping it when the entry retires would also drop
			// what its children learned meanwhile.
			es[0].dropTree = false
		}
		// What was written under src, or is to be read there, is under
		// dst now, wherever the entries that say so are in the tree now:
		// a later rename may have moved them out of the moved directory.
		f.ix.root.moveAt(op.Seq, src, dst)
	case writeback.Put:
		f.uploadedLocked(op)
		f.keepIfCleanLocked(op, f.opPath(op.Key))
	case writeback.Copy:
		f.uploadedLocked(op)
	}
	f.unpinLocked(op, true)
}

// moveAt follows a directory move from src to dst, op seq, now carried
// out, in e and below: where an earlier op wrote under src (a later op's
// key already names the place after the move), and where OSS held an
// entry's bytes or entries under src, is under dst now.
func (e *entry) moveAt(seq uint64, src, dst string) {
	for i, pl := range e.places {
		if rest, ok := cutPath(pl.at, src); ok && pl.at != "" && pl.seq < seq {
			e.places[i].at = dst + rest
		}
	}
	for i, from := range e.from {
		if rest, ok := cutPath(from, src); ok {
			e.from[i] = dst + rest
		}
	}
	for _, ch := range e.children {
		ch.moveAt(seq, src, dst)
	}
}

// cutPath reports whether p is dir or below it, and what follows dir.
func cutPath(p, dir string) (string, bool) {
	if p == dir {
		return "", true
	}
	if dir == "" {
		return "/" + p, true
	}
	rest, ok := strings.CutPrefix(p, dir+"/")
	return "/" + rest, ok
}

// retireLocked takes e and then its parents out of the index once nothing
// holds them, writing what they say to the metadata cache first: OSS holds
// the same now, and the cache answers for the name from then on.
func (f *FS) retireLocked(e *entry) {
	for e != nil && e.parent != nil && len(e.ops) == 0 {
		if e.fresh {
			// Its own ops have run: OSS holds nothing of what it replaced.
			// Its entries may retire into a cached listing of their own now.
			f.unfreshLocked(e)
			if len(e.children) > 0 {
				for _, ch := range slices.Collect(maps.Values(e.children)) {
					f.retireLocked(ch) // the last one retires e too
				}
				return
			}
		}
		if len(e.children) > 0 || e.parent.fresh {
			return // a fresh parent answers from the index alone
		}
		p := e.path()
		if fl := f.files[p]; e.kind == kFile && fl != nil && (fl.writers > 0 || fl.gen > fl.flushedGen) {
			return // still being written: its next upload will hold it
		}
		at := e.at()
		if at == "" {
			r, _ := f.ix.resolve(p)
			at = r.where
		}
		if err := f.learnLocked(p, at, e); err != nil {
			f.log.Warn("cache update after an OSS change", "path", p, "err", err)
		}
		parent := e.parent
		e.detach()
		e = parent
	}
}

// unfreshLocked turns a fresh directory into one whose entries the cache
// answers for: an empty listing, which its entries retire into.
func (f *FS) unfreshLocked(e *entry) {
	e.fresh = false
	r, _ := f.ix.resolve(e.path())
	p := r.where
	// What the cache held below p before it was made here is forgotten,
	// but for its entries' own subtrees: a directory moved into it, or
	// made in it and whose marker ran, may have learned there already,
	// and one renamed away since is still there in OSS until its move
	// runs, which carries that knowledge along (a gone entry drops what
	// is left when it retires).
	var keep []string
	for name, ch := range e.children {
		if ch.kind != kNone {
			keep = append(keep, name)
		}
	}
	errs := []error{f.cache.DeleteTreeExcept(p, keep), f.cache.PutListing(p, nil)}
	e.dropTree = false
	if err := errors.Join(errs...); err != nil {
		f.log.Warn("cache listing", "dir", p, "err", err)
	}
}

// learnLocked writes what e says of p to the metadata cache, which holds
// it at at, where OSS has it.
func (f *FS) learnLocked(p, at string, e *entry) error {
	dir, name := splitPath(at)
	var errs []error
	if e.dropTree {
		errs = append(errs, f.cache.DeleteTree(at))
	}
	switch e.kind {
	case kFile:
		var a metacache.Entry
		switch fl := f.files[p]; {
		case fl != nil:
			a = fl.entryLocked()
		case e.hasAttrs:
			a = e.attrs
		default: // not known here (a copy journaled by an earlier run): ask OSS next time
			return errors.Join(append(errs, f.cache.Delete(at), f.cache.InvalidateListing(dir))...)
		}
		a.Name, a.IsDir = name, false
		errs = append(errs, f.cache.SetChild(dir, a))
	case kDir:
		a := f.dirAttrsLocked(at, e)
		a.Name = name
		errs = append(errs, f.cache.SetChild(dir, a))
	case kGone:
		errs = append(errs, f.cache.RemoveChild(dir, name))
	}
	return errors.Join(errs...)
}

// dirAttrsLocked is what the mount shows for directory p with entry e.
func (f *FS) dirAttrsLocked(p string, e *entry) metacache.Entry {
	if e != nil && e.hasAttrs {
		a := e.attrs
		a.IsDir = true
		return a
	}
	if c, st := f.cache.Lookup(p); (st == metacache.Fresh || st == metacache.Stale) && c.IsDir {
		return c
	}
	return metacache.Entry{IsDir: true, Mtime: f.started}
}

// uploadedLocked learns the ETag of the object a Put or Copy left, and
// queues a rewrite of its directory's attribute table if the file has
// attributes of its own: the table's row for it names that object.
func (f *FS) uploadedLocked(op *writeback.Op) {
	es := f.ix.pinned[op]
	if len(es) == 0 || op.ETag == "" {
		return
	}
	e := es[0] // the file's entry, wherever renames have put it since
	p := e.path()
	var attrs metacache.Entry
	switch fl := f.files[p]; {
	case fl != nil:
		// The latest upload ran, or the copy (which a rename queued after
		// it, so it copied what that upload put) did.
		latest := fl.put == op || fl.put == nil && (fl.uploading == op || op.Kind == writeback.Copy)
		if !latest || fl.gen > fl.flushedGen {
			return // OSS does not hold these bytes there yet
		}
		fl.etag, fl.etagGen = op.ETag, fl.gen
		attrs = fl.entryLocked()
	case e.hasAttrs && e.kind == kFile:
		e.attrs.ETag = op.ETag
		attrs = e.attrs
	default:
		return
	}
	if fl := f.files[p]; f.ownAttrs(attrs) || fl != nil && fl.attrsSet {
		f.tableChangedLocked(p)
		if fl != nil {
			fl.attrsSet = false
		}
	}
}

// keepIfCleanLocked puts p's staged file on the clean list once OSS holds
// exactly its bytes.
func (f *FS) keepIfCleanLocked(op *writeback.Op, p string) {
	if fl := f.files[p]; fl != nil && fl.put == op && fl.writers == 0 && fl.gen <= fl.flushedGen {
		fl.remote, fl.put = op.Key, nil
		f.markCleanLocked(fl)
	}
}

// uploadedSize is the size of a staging file an op uploaded, for a file no
// longer staged.
func uploadedSize(op *writeback.Op) (int64, time.Time) {
	if st, err := os.Stat(op.Staging); err == nil {
		return st.Size(), st.ModTime()
	}
	return 0, time.Now()
}
