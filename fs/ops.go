package fs

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
)

// open opens p. Writers get the staged file (fetched from OSS first unless
// truncated); readers of a file that is only in OSS stream it. keepCache
// tells the kernel it may keep cached pages (content-addressed blobs).
func (f *FS) open(ctx context.Context, p string, flags int) (*handle, bool, error) {
	write := flags&(os.O_WRONLY|os.O_RDWR) != 0
	if write && f.opt.ReadOnly {
		return nil, false, errReadOnly
	}
	trunc := flags&os.O_TRUNC != 0
	for {
		f.mu.Lock()
		fl := f.stagedLocked(p)
		f.mu.Unlock()
		if fl == nil {
			e, err := f.stat(ctx, p)
			if err != nil {
				return nil, false, err
			}
			if e.IsDir {
				return nil, false, errIsDir
			}
			if !write {
				rr := newRemoteReader(f, p, e.Size)
				return &handle{fsys: f, rr: rr}, metacache.IsImmutable(p), nil
			}
			staged, err := f.stage(ctx, p, !trunc && e.Size > 0, true, e)
			if err != nil {
				return nil, false, err
			}
			f.mu.Lock()
			fl = f.installLocked(staged)
			f.mu.Unlock()
		}
		h, err := f.openStaged(fl, write, trunc)
		if h != nil || err != nil {
			return h, false, err
		}
		// Evicted or removed meanwhile: look again.
	}
}

// openStaged opens a handle on a staged file, unless it left the tree.
func (f *FS) openStaged(fl *file, write, trunc bool) (*handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl.unlinked {
		return nil, nil
	}
	fl.handles++
	if write {
		f.unmarkCleanLocked(fl) // it may change now
		fl.writers++
		if fl.put != nil && f.q.Pending(fl.put) {
			f.q.Hold(fl.put) // a reopen for writing postpones the upload
		}
		if trunc && fl.size > 0 {
			if err := fl.fd.Truncate(0); err != nil {
				fl.handles--
				fl.writers--
				return nil, err
			}
			fl.size = 0
			fl.gen++
			fl.mtime = time.Now()
		}
	}
	return &handle{fsys: f, fl: fl, write: write}, nil
}

// allocate reserves staging space, so that a later write cannot fail for
// want of local disk.
func (f *FS) allocate(fl *file, off, size int64, mode uint32) error {
	if err := unix.Fallocate(int(fl.fd.Fd()), mode, off, size); err != nil {
		return err
	}
	if mode&unix.FALLOC_FL_KEEP_SIZE == 0 {
		f.wrote(fl, off+size)
	}
	return nil
}

// wrote records a write that ended at end.
func (f *FS) wrote(fl *file, end int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.size = max(fl.size, end)
	fl.gen++
	fl.mtime = time.Now()
}

func (f *FS) release(fl *file, write bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.handles--
	if write {
		fl.writers--
		if fl.writers == 0 && fl.put != nil && f.q.Pending(fl.put) {
			f.q.Unhold(fl.put)
		}
	}
	f.reapLocked()
}

func (f *FS) create(ctx context.Context, dir, name string, flags int, mode uint32) (*handle, metacache.Entry, error) {
	if f.opt.ReadOnly {
		return nil, metacache.Entry{}, errReadOnly
	}
	if err := f.checkName(dir, name, false); err != nil {
		return nil, metacache.Entry{}, err
	}
	p := joinPath(dir, name)
	f.mu.Lock()
	staged := f.stagedLocked(p) != nil
	f.mu.Unlock()
	if staged {
		// Write over it in place, as open(2) without O_CREAT would: its
		// queued upload must not be dropped before the new bytes are closed.
		h, _, err := f.open(ctx, p, flags|os.O_RDWR)
		if err != nil {
			return nil, metacache.Entry{}, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return h, h.fl.entryLocked(), nil
	}
	_, serr := f.stat(ctx, p)
	fl, err := f.stage(ctx, p, false, serr == nil, metacache.Entry{Mode: mode & 0o7777})
	if err != nil {
		return nil, metacache.Entry{}, err
	}
	if caller, ok := fuse.FromContext(ctx); ok && (caller.Uid != f.opt.UID || caller.Gid != f.opt.GID) {
		fl.uid, fl.gid, fl.hasOwner = caller.Uid, caller.Gid, true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if old := f.files[p]; old != nil {
		f.discardLocked(f.q, old)
		if old.remote != "" {
			fl.remote = old.remote
		}
	}
	f.files[p] = fl
	fl.gen = 1 // even an empty new file is uploaded
	fl.handles, fl.writers = 1, 1
	return &handle{fsys: f, fl: fl, write: true}, fl.entryLocked(), nil
}

// discardLocked drops a staged file whose name is being replaced or
// removed, cancelling its upload if that has not started.
func (f *FS) discardLocked(log writeback.Log, fl *file) {
	f.settleLocked(log, fl)
	if fl.put != nil {
		if ok, err := log.Cancel(fl.put); err != nil {
			f.log.Warn("cancel upload", "key", fl.put.Key, "err", err)
		} else if ok {
			fl.put = nil
		} else {
			f.settleLocked(log, fl)
		}
	}
	f.dropLocked(fl)
}

func (f *FS) mkdir(ctx context.Context, dir, name string, mode uint32) (metacache.Entry, error) {
	if f.opt.ReadOnly {
		return metacache.Entry{}, errReadOnly
	}
	if err := f.checkName(dir, name, true); err != nil {
		return metacache.Entry{}, err
	}
	p := joinPath(dir, name)
	if _, err := f.stat(ctx, p); err == nil {
		return metacache.Entry{}, errExist
	}
	// The marker waits like an upload: the registry removes many of the
	// directories it makes within moments, and then none need be written.
	op := &writeback.Op{Kind: writeback.Marker, Key: f.key(p) + "/"}
	f.mu.Lock()
	err := f.q.Add(op, true, false)
	if err == nil {
		f.markers[p] = op
	}
	f.mu.Unlock()
	if err != nil {
		return metacache.Entry{}, err
	}
	// Nothing in OSS is under a directory that did not exist, unless a
	// pending move is still carrying its old contents away: list it as empty.
	if !f.q.Busy(op, f.key(p), false) {
		if err := f.cache.PutListing(p, nil); err != nil {
			f.log.Warn("cache listing", "dir", p, "err", err)
		}
	}
	return metacache.Entry{Name: name, IsDir: true, Mtime: time.Now(), Mode: mode & 0o7777}, nil
}

func (f *FS) unlink(ctx context.Context, p string) error {
	if f.opt.ReadOnly {
		return errReadOnly
	}
	e, err := f.stat(ctx, p)
	if err != nil {
		return err
	}
	if e.IsDir {
		return errIsDir
	}
	f.mu.Lock()
	// Cancelling its upload and deleting it reach the journal together: a
	// crash in between must not bring back an older version from OSS.
	t := f.q.Begin()
	err = f.removeFileLocked(t, p, true)
	if cerr := t.Commit(); err == nil {
		err = cerr
	}
	f.reapLocked()
	f.mu.Unlock()
	if err != nil {
		return err
	}
	dir, _ := splitPath(p)
	return f.keepDir(ctx, dir)
}

// removeFileLocked takes file p out of the tree; deleteRemote is false when
// a rename is about to put something else at its key anyway.
func (f *FS) removeFileLocked(log writeback.Log, p string, deleteRemote bool) error {
	needDelete := true
	if fl := f.files[p]; fl != nil {
		f.discardLocked(log, fl)
		needDelete = fl.remote != "" // an upload that started counts: settled into remote
	}
	if !needDelete || !deleteRemote {
		return nil
	}
	return log.Add(&writeback.Op{Kind: writeback.Delete, Key: f.key(p)}, false, false)
}

func (f *FS) rmdir(ctx context.Context, p string) error {
	if f.opt.ReadOnly {
		return errReadOnly
	}
	entries, err := f.readdir(ctx, p)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return errNotEmpty
	}
	if err := f.removeDir(p); err != nil {
		return err
	}
	// OSS may list the directory only as the common prefix of objects whose
	// deletes are queued (it never had a marker, or the marker is never
	// written): once they run, it is gone, and no op will tell the cache.
	f.applyMu.Lock()
	dir, name := splitPath(p)
	err = errors.Join(f.cache.DeleteTree(p), f.cache.RemoveChild(dir, name))
	f.applyMu.Unlock()
	if err != nil {
		return err
	}
	return f.keepDir(ctx, dir)
}

func (f *FS) removeDir(p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	marker := f.key(p) + "/"
	fresh := f.markers[p] != nil // made by mkdir here: OSS had no marker before
	delete(f.markers, p)
	// Markers still queued (mkdir's, or one an unlink queued to keep the
	// emptied directory) must not bring it back.
	clean, err := f.q.CancelMarkers(marker)
	if err != nil {
		return err
	}
	if fresh && clean {
		return nil // never written: nothing to delete
	}
	return f.q.Add(&writeback.Op{Kind: writeback.Delete, Key: marker}, false, false)
}

func (f *FS) fsyncDir(ctx context.Context, p string) error {
	return f.q.Barrier(ctx, f.dirKey(p))
}

func (f *FS) setattr(ctx context.Context, p string, fl *file, in *fuse.SetAttrIn) (metacache.Entry, error) {
	if f.opt.ReadOnly {
		return metacache.Entry{}, errReadOnly
	}
	if size, ok := in.GetSize(); ok {
		if err := f.truncate(ctx, p, fl, int64(size)); err != nil {
			return metacache.Entry{}, err
		}
	}
	if !hasAttrs(in) {
		return f.stat(ctx, p)
	}
	f.mu.Lock()
	if fl == nil {
		fl = f.files[p]
	}
	if fl != nil {
		e := fl.entryLocked()
		f.applyAttrs(&e, in)
		fl.mode, fl.uid, fl.gid, fl.hasOwner, fl.mtime = e.Mode, e.UID, e.GID, e.HasOwner, e.Mtime
		fl.gen++ // the new attributes travel with the next upload
		writers := fl.writers
		f.mu.Unlock()
		if writers == 0 {
			if _, err := f.commit(fl); err != nil {
				return e, err
			}
		}
		return e, nil
	}
	f.mu.Unlock()
	if e, err := f.stat(ctx, p); err != nil {
		return e, err
	} else if e.IsDir {
		// Directories keep their attributes in the cache only: a directory
		// may be nothing but a prefix, with no object to hold metadata.
		f.applyAttrs(&e, in)
		return e, f.cache.Put(p, e)
	}
	// Only in OSS: stage it, so the attributes travel with its bytes.
	h, _, err := f.open(ctx, p, os.O_RDWR)
	if err != nil {
		return metacache.Entry{}, err
	}
	defer f.release(h.fl, true)
	e, err := f.setattr(ctx, p, h.fl, in)
	if err != nil {
		return e, err
	}
	_, err = f.commit(h.fl)
	return e, err
}

func hasAttrs(in *fuse.SetAttrIn) bool {
	_, mode := in.GetMode()
	_, uid := in.GetUID()
	_, gid := in.GetGID()
	_, mtime := in.GetMTime()
	return mode || uid || gid || mtime
}

// applyAttrs applies what chmod, chown and utimes set in in to e. An owner
// never set before starts from the mount's defaults.
func (f *FS) applyAttrs(e *metacache.Entry, in *fuse.SetAttrIn) {
	if mode, ok := in.GetMode(); ok {
		e.Mode = mode & 0o7777
	}
	uid, hasUID := in.GetUID()
	gid, hasGID := in.GetGID()
	if (hasUID || hasGID) && !e.HasOwner {
		e.UID, e.GID, e.HasOwner = f.opt.UID, f.opt.GID, true
	}
	if hasUID {
		e.UID = uid
	}
	if hasGID {
		e.GID = gid
	}
	if mtime, ok := in.GetMTime(); ok {
		e.Mtime = mtime
	}
}

func (f *FS) truncate(ctx context.Context, p string, fl *file, size int64) error {
	opened := false
	if fl == nil {
		h, _, err := f.open(ctx, p, os.O_RDWR)
		if err != nil {
			return err
		}
		fl, opened = h.fl, true
		defer f.release(fl, true)
	}
	if err := fl.fd.Truncate(size); err != nil {
		return err
	}
	f.mu.Lock()
	fl.size = size
	fl.gen++
	fl.mtime = time.Now()
	f.mu.Unlock()
	if opened {
		_, err := f.commit(fl)
		return err
	}
	return nil
}
