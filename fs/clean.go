package fs

import (
	"os"
	"time"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
)

// Clean staged files are files whose bytes OSS already holds, kept so that
// what was just written reads locally and a registry's reopen-and-append of
// an upload in progress needs no download. They live within CacheSize,
// least recently used out first, and like any cached entry for at most
// the stat TTL (content-addressed blobs for good).

// markCleanLocked keeps fl as a clean copy once its upload has run.
func (f *FS) markCleanLocked(fl *file) {
	f.unmarkCleanLocked(fl)
	fl.cleanAt = time.Now()
	fl.cleanSize = fl.size
	fl.cleanElem = f.clean.PushFront(fl)
	f.cleanBytes += fl.cleanSize
	f.evictLocked()
}

// unmarkCleanLocked takes fl off the clean list: it is about to change, or go.
func (f *FS) unmarkCleanLocked(fl *file) {
	if fl.cleanElem == nil {
		return
	}
	f.clean.Remove(fl.cleanElem)
	f.cleanBytes -= fl.cleanSize
	fl.cleanElem = nil
}

// evictLocked drops least recently used clean files until they fit.
func (f *FS) evictLocked() {
	for e := f.clean.Back(); e != nil && f.cleanBytes > f.opt.CacheSize; {
		prev := e.Prev()
		if fl := e.Value.(*file); fl.handles == 0 {
			f.dropLocked(fl)
		}
		e = prev
	}
	f.reapLocked()
}

// stagedLocked returns the staged file at p, if any, forgetting a clean
// copy older than the stat TTL so that changes by others are seen.
func (f *FS) stagedLocked(p string) *file {
	fl := f.files[p]
	if fl == nil || fl.cleanElem == nil {
		return fl
	}
	if f.opt.StatTTL > 0 && time.Since(fl.cleanAt) > f.opt.StatTTL && !metacache.IsImmutable(p) && fl.handles == 0 {
		f.dropLocked(fl)
		return nil
	}
	f.clean.MoveToFront(fl.cleanElem)
	return fl
}

// dropLocked forgets a staged file that is no longer in the tree or no
// longer needed; its staging file goes once no handle uses it.
func (f *FS) dropLocked(fl *file) {
	f.unmarkCleanLocked(fl)
	if f.files[fl.path] == fl {
		delete(f.files, fl.path)
		if e := f.ix.get(fl.path); e != nil && e.kind == kFile {
			// Still held (a fresh directory above answers from the
			// index): the entry says from now on what the file did.
			e.attrs, e.hasAttrs = fl.entryLocked(), true
		}
	}
	fl.unlinked = true
	f.reap = append(f.reap, fl)
}

// reapLocked removes the staging files of dropped files once nothing needs
// them: no open handle, and no upload still reading them or still in the
// journal (a crash would replay it). Callers that drop files inside a
// journal transaction reap after it commits.
func (f *FS) reapLocked() {
	keep := f.reap[:0]
	for _, fl := range f.reap {
		if fl.handles > 0 || fl.uploading != nil && !isDone(fl.uploading) || fl.put != nil && !isDone(fl.put) {
			keep = append(keep, fl)
			continue
		}
		if fl.fd != nil {
			fl.fd.Close()
			fl.fd = nil
		}
		os.Remove(fl.staging)
	}
	clear(f.reap[len(keep):])
	f.reap = keep
}

func isDone(op *writeback.Op) bool {
	select {
	case <-op.Done():
		return true
	default:
		return false
	}
}
