package fs

import (
	"os"
	"strings"
	"time"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
)

// applied runs once op has been carried out in OSS, before it leaves the
// queue (so the view never flickers): the cache of what OSS holds learns of
// the change, and a staged file that is now clean may be dropped.
//
// A file and a directory of one name are different keys whose ops finish in
// any order; while another op on the same name is still pending, the cache
// cannot tell which of them OSS will end up holding, so it forgets the name
// and its directory's listing rather than guess.
func (f *FS) applied(op *writeback.Op) {
	p, ok := f.pathOf(op.Key)
	if !ok {
		return
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	var errs []error
	set := func(p string, e metacache.Entry) {
		dir, name := splitPath(p)
		e.Name = name
		errs = append(errs, f.ensureAncestors(op, dir))
		if f.q.Busy(op, f.key(p), e.IsDir) {
			errs = append(errs, f.cache.Delete(p), f.cache.InvalidateListing(dir))
			return
		}
		errs = append(errs, f.cache.SetChild(dir, e))
	}
	remove := func(p string, dirKind bool) {
		dir, name := splitPath(p)
		if f.q.Busy(op, f.key(p), false) {
			errs = append(errs, f.cache.Delete(p), f.cache.InvalidateListing(dir))
			return
		}
		if e, st := f.cache.Lookup(p); (st == metacache.Fresh || st == metacache.Stale) && e.IsDir != dirKind {
			return // the cache holds the other kind, which this op did not touch
		}
		errs = append(errs, f.cache.RemoveChild(dir, name))
	}
	switch op.Kind {
	case writeback.Put:
		e := f.uploaded(op, p)
		set(p, e)
		f.keepIfClean(op, p)
	case writeback.Copy:
		sp, _ := f.pathOf(op.Src)
		if se, st := f.cache.Lookup(sp); (st == metacache.Fresh || st == metacache.Stale) && !se.IsDir {
			set(p, se)
		} else {
			// The source's size is not known here: let the next lookup ask OSS.
			dir, _ := splitPath(p)
			errs = append(errs, f.cache.Delete(p), f.cache.InvalidateListing(dir))
		}
	case writeback.Delete:
		remove(p, strings.HasSuffix(op.Key, "/"))
	case writeback.Marker:
		f.mu.Lock()
		if f.markers[p] == op {
			delete(f.markers, p)
		}
		f.mu.Unlock()
		set(p, metacache.Entry{IsDir: true, Mtime: time.Now()})
	case writeback.MoveDir:
		sp, _ := f.pathOf(op.Src)
		errs = append(errs, f.cache.DeleteTree(sp), f.cache.DeleteTree(p))
		remove(sp, true)
		set(p, metacache.Entry{IsDir: true, Mtime: time.Now()})
	}
	for _, err := range errs {
		if err != nil {
			f.log.Warn("cache update after an OSS change", "op", op.Kind, "key", op.Key, "err", err)
			return
		}
	}
}

// uploaded is the entry of the object a Put just wrote.
func (f *FS) uploaded(op *writeback.Op, p string) metacache.Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.files[p]; fl != nil && fl.staging == op.Staging {
		return fl.entryLocked()
	}
	e := metacache.Entry{Mtime: time.Now()}
	if st, err := os.Stat(op.Staging); err == nil {
		e.Size = st.Size()
	}
	return e
}

// keepIfClean puts p's staged file on the clean list once OSS holds
// exactly its bytes.
func (f *FS) keepIfClean(op *writeback.Op, p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.files[p]; fl != nil && fl.put == op && fl.writers == 0 && fl.gen <= fl.flushedGen {
		fl.remote, fl.put = op.Key, nil
		f.markCleanLocked(fl)
	}
}

// ensureAncestors records every directory above a key just created as an
// entry of its parent: a listing cached while the creation was pending, when
// OSS had nothing under that prefix yet, must not hide the directory once
// the op has left the queue.
func (f *FS) ensureAncestors(op *writeback.Op, dir string) error {
	for dir != "" {
		parent, name := splitPath(dir)
		// A fresh entry is in its parent's cached listing (the cache keeps
		// the two in step); anything else is written, unless other ops on
		// that directory (its removal, say) are still to come.
		if e, st := f.cache.Lookup(dir); (st != metacache.Fresh || !e.IsDir) && !f.q.Busy(op, f.key(dir), true) {
			if err := f.cache.SetChild(parent, metacache.Entry{Name: name, IsDir: true, Mtime: f.started}); err != nil {
				return err
			}
		}
		dir = parent
	}
	return nil
}
