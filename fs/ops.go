package fs

import (
	"context"
	"os"
	"syscall"
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
	if err := f.reopenLocked(fl); err != nil {
		return nil, err
	}
	fl.handles++
	if write {
		f.unmarkCleanLocked(fl) // it may change now
		fl.writers++
		if e := f.ix.ensure(fl.path); e.kind != kFile {
			f.ix.set(fl.path, kFile) // its size and mtime are the staged file's now
		}
		if fl.put != nil && f.q.Pending(fl.put) {
			f.q.Hold(fl.put) // a reopen for writing postpones the upload
		}
		if trunc && fl.size > 0 {
			if err := fl.fd.Truncate(0); err != nil {
				fl.handles--
				fl.writers--
				f.closeIdleLocked(fl)
				return nil, err
			}
			fl.size = 0
			fl.gen++
			fl.touchLocked()
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
	fl.touchLocked()
}

func (f *FS) release(fl *file, write bool) {
	f.mu.Lock()
	// (The handle counts until it is committed: that keeps fd open.)
	// The kernel sends release after close(2) has returned, so a chmod or
	// utimes may have come in between while this handle still counted as
	// a writer: what it changed is committed now.
	changed := write && fl.writers == 1 && fl.gen > fl.flushedGen && !fl.unlinked
	if write {
		fl.writers--
		if fl.writers == 0 && fl.put != nil && f.q.Pending(fl.put) {
			f.q.Unhold(fl.put)
		}
		if fl.writers == 0 && !changed && f.files[fl.path] == fl {
			if e := f.ix.get(fl.path); e != nil {
				f.retireLocked(e) // closed unchanged: nothing will upload it
			}
		}
	}
	f.mu.Unlock()
	if changed {
		if _, err := f.commit(fl); err != nil {
			f.log.Warn("commit after the last close", "path", fl.path, "err", err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.handles--
	f.closeIdleLocked(fl)
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
	fl, err := f.stage(ctx, p, false, serr == nil, metacache.Entry{Mode: mode&0o7777 | syscall.S_IFREG})
	if err != nil {
		return nil, metacache.Entry{}, err
	}
	if caller, ok := fuse.FromContext(ctx); ok && (caller.Uid != f.opt.UID || caller.Gid != f.opt.GID) {
		fl.uid, fl.gid, fl.hasOwner = caller.Uid, caller.Gid, true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.beginLocked()
	if old := f.files[p]; old != nil {
		f.discardLocked(c, old)
		if old.remote != "" {
			fl.remote = old.remote
		}
	}
	if err := f.commitLocked(c, func() { f.ix.set(p, kFile) }); err != nil {
		fl.fd.Close()
		os.Remove(fl.staging)
		return nil, metacache.Entry{}, err
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
	attrs := metacache.Entry{Name: name, IsDir: true, Mtime: time.Now(), Mode: mode&0o7777 | syscall.S_IFDIR}
	if caller, ok := fuse.FromContext(ctx); ok && (caller.Uid != f.opt.UID || caller.Gid != f.opt.GID) {
		attrs.UID, attrs.GID, attrs.HasOwner = caller.Uid, caller.Gid, true
	}
	// The marker waits like an upload: the registry removes many of the
	// directories it makes within moments, and then none need be written.
	op := &writeback.Op{Kind: writeback.Marker, Key: f.key(p) + "/"}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.beginLocked()
	c.Add(op, true, false)
	err := f.commitLocked(c, func() {
		e := f.ix.set(p, kDir)
		// Nothing in OSS under it counts: it did not exist, or what OSS
		// still holds there is on its way out. No LIST of a new directory.
		e.fresh, e.made = true, op
		e.attrs, e.hasAttrs = attrs, true
	})
	if err != nil {
		return metacache.Entry{}, err
	}
	return attrs, nil
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
	c := f.beginLocked()
	if err = f.removeFileLocked(c, p, true); err == nil {
		err = f.commitLocked(c, func() { f.ix.set(p, kGone) })
	} else {
		c.Commit()
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	f.rowGone(p, e)
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
	e, err := f.stat(ctx, p)
	if err != nil {
		return err
	} else if !e.IsDir {
		return errNotDir
	}
	empty, err := f.dirEmpty(ctx, p)
	if err != nil {
		return err
	}
	if !empty {
		return errNotEmpty
	}
	if err := f.removeDir(p); err != nil {
		return err
	}
	f.rowGone(p, e)
	dir, _ := splitPath(p)
	return f.keepDir(ctx, dir)
}

// removeDir takes directory p out of the tree: its queued markers are
// cancelled, and OSS's marker deleted unless mkdir's own was never written.
func (f *FS) removeDir(p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.beginLocked()
	fresh, clean := false, true
	if e := f.ix.get(p); e != nil {
		fresh = e.made != nil
		for _, m := range append([]*writeback.Op(nil), e.markers...) {
			if ok, _ := c.Cancel(m); !ok {
				clean = false // running: the delete below follows it
			}
		}
	}
	if !fresh || !clean {
		c.Add(&writeback.Op{Kind: writeback.Delete, Key: f.key(p) + "/"}, false, false)
	}
	return f.commitLocked(c, func() {
		e := f.ix.set(p, kGone)
		e.dropTree = true
	})
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
		fl.mode, fl.uid, fl.gid, fl.hasOwner, fl.mtime, fl.mtimeSet = e.Mode, e.UID, e.GID, e.HasOwner, e.Mtime, e.MtimeSet
		fl.attrsSet = true
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
		f.applyAttrs(&e, in)
		return e, f.setDirAttrs(p, e)
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
		kind := uint32(syscall.S_IFREG)
		if e.IsDir {
			kind = syscall.S_IFDIR
		}
		e.Mode = mode&0o7777 | kind // explicit, even 0000
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
		e.Mtime, e.MtimeSet = mtime, true
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
	fl.touchLocked()
	f.mu.Unlock()
	if opened {
		_, err := f.commit(fl)
		return err
	}
	return nil
}

// setDirAttrs keeps a directory's mode, owner and mtime in the x-oss-meta-*
// of its marker, which is written for them even when the directory has entries.
func (f *FS) setDirAttrs(p string, e metacache.Entry) error {
	op := &writeback.Op{Kind: writeback.Marker, Key: f.key(p) + "/", Meta: dirMeta(e)}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.beginLocked()
	c.Add(op, true, false)
	err := f.commitLocked(c, func() {
		d := f.ix.ensure(p)
		if d.kind != kDir {
			d = f.ix.set(p, kDir)
		}
		d.attrs, d.hasAttrs = e, true
	})
	if err == nil {
		f.tableChangedLocked(p) // its row in its parent's table
	}
	return err
}
