package fs

import (
	"container/list"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
	"github.com/ossmount/ossmount/ossio"
)

// file is a file whose bytes are staged locally: being written, or written
// and not yet dropped after its upload. Every field is GUARDED_BY(FS.mu).
// fd is open only while handles > 0 (thousands of files may wait for their
// upload or stay as clean copies, and each open descriptor counts against
// the process's limit); while it is open it does not change, and is safe
// for concurrent ReadAt/WriteAt.
type file struct {
	path     string
	staging  string   // path of the staging file
	fd       *os.File // the staging file, open read-write while handles > 0
	size     int64
	mtime    time.Time
	mode     uint32 // permission bits; 0 = mount default
	uid, gid uint32
	hasOwner bool
	mtimeSet bool   // mtime was set by utimes
	attrsSet bool   // chmod, chown or utimes since the last upload: its directory's table follows once it ran
	etag     string // of the object OSS holds for generation etagGen
	etagGen  uint64

	gen        uint64 // bumped by every change to the bytes
	flushedGen uint64 // gen when the last upload was queued
	writers    int    // open handles that may write
	handles    int    // open handles of any kind
	unlinked   bool   // removed from the tree; open handles may still use it

	put       *writeback.Op // latest upload queued; may have started or finished
	uploading *writeback.Op // the upload settled out of put: it may still be running
	remote    string        // key where OSS holds (or an earlier queued op puts) an earlier version

	cleanElem *list.Element // on FS.clean while OSS holds exactly these bytes
	cleanAt   time.Time
	cleanSize int64
}

func (fl *file) entryLocked() metacache.Entry {
	return metacache.Entry{
		Name: filepath.Base(fl.path), Size: fl.size, Mtime: fl.mtime, MtimeSet: fl.mtimeSet,
		Mode: fl.mode, UID: fl.uid, GID: fl.gid, HasOwner: fl.hasOwner,
		ETag: fl.etagLocked(),
	}
}

// touchLocked records a change of the bytes now: the mtime is the time of
// the write again, and a utimes mtime listed in the directory's attribute
// table no longer holds (the table's row names the ETag, which a write
// that leaves the bytes as they were does not change).
func (fl *file) touchLocked() {
	if fl.mtimeSet {
		fl.attrsSet = true
	}
	fl.mtime, fl.mtimeSet = time.Now(), false
}

// etagLocked is the ETag of the object that holds these bytes and
// attributes in OSS, "" until one does.
func (fl *file) etagLocked() string {
	if fl.etagGen != fl.gen {
		return ""
	}
	return fl.etag
}

// meta is the user metadata an upload carries, so that modes, owners and
// mtimes survive in OSS.
func (fl *file) metaLocked() map[string]string {
	m := map[string]string{"mtime": strconv.FormatInt(fl.mtime.UnixNano(), 10)}
	if fl.mode != 0 {
		m["mode"] = strconv.FormatUint(uint64(fl.mode), 8)
	}
	if fl.hasOwner {
		m["uid"] = strconv.FormatUint(uint64(fl.uid), 10)
		m["gid"] = strconv.FormatUint(uint64(fl.gid), 10)
	}
	if fl.mtimeSet {
		m["utime"] = "1"
	}
	return m
}

// settleLocked notes that the latest upload has left the queue's pending
// state: from now on OSS has (or is getting) that version at its key.
func (f *FS) settleLocked(log writeback.Log, fl *file) {
	if fl.put != nil && !log.Pending(fl.put) {
		fl.remote = fl.put.Key
		fl.uploading, fl.put = fl.put, nil
	}
}

func (f *FS) newStagingPath() string {
	f.mu.Lock()
	f.seq++
	n := f.seq
	f.mu.Unlock()
	return filepath.Join(f.stagingDir, strconv.FormatUint(n, 36))
}

// stage makes p a staged file: empty, or holding the object's bytes when
// fetch is set. existed says OSS may hold a version of p that a later
// rename or unlink must remove. The caller installs it in f.files.
func (f *FS) stage(ctx context.Context, p string, fetch, existed bool, e metacache.Entry) (*file, error) {
	sp := f.newStagingPath()
	fd, err := os.OpenFile(sp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create staging file: %w", err)
	}
	fl := &file{path: p, staging: sp, fd: fd, mtime: time.Now(), mode: e.Mode, uid: e.UID, gid: e.GID, hasOwner: e.HasOwner}
	if existed {
		fl.remote = f.key(p)
	}
	if fetch {
		var obj ossio.Object
		err := f.fromOSS(p, func(key string) error {
			if err := fd.Truncate(0); err != nil {
				return err
			}
			var err error
			obj, err = f.client.Download(ctx, key, fd)
			return err
		})
		if err != nil {
			fd.Close()
			os.Remove(sp)
			return nil, fmt.Errorf("fetch %q: %w", p, err)
		}
		fl.size = obj.Size
		fl.mtime, fl.mtimeSet = e.Mtime, e.MtimeSet
		fl.etag = obj.ETag // of generation 0: these bytes
	}
	return fl, nil
}

// fromOSS calls get with each key where OSS may hold the bytes of file p
// until one is found. A pending move of it may run meanwhile, so the keys
// are looked up again once if none had it.
func (f *FS) fromOSS(p string, get func(key string) error) error {
	err := error(errNotExist)
	for attempt := 0; attempt < 2; attempt++ {
		f.mu.Lock()
		r, rerr := f.ix.resolve(p)
		f.mu.Unlock()
		if rerr != nil {
			return rerr
		}
		for _, c := range r.candidates() {
			if err = get(f.key(c)); !ossio.IsNotFound(err) {
				return err
			}
		}
	}
	return err
}

// closeIdle gives back a use of fl's descriptor (when used) and closes it
// if nothing uses it any more.
func (f *FS) closeIdle(fl *file, used bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if used {
		fl.handles--
	}
	f.closeIdleLocked(fl)
}

func (f *FS) closeIdleLocked(fl *file) {
	if fl.handles == 0 && fl.fd != nil {
		fl.fd.Close()
		fl.fd = nil
	}
}

// reopenLocked opens fl's descriptor for a new handle.
func (f *FS) reopenLocked(fl *file) error {
	if fl.fd != nil {
		return nil
	}
	fd, err := os.OpenFile(fl.staging, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("reopen staging file of %q: %w", fl.path, err)
	}
	fl.fd = fd
	return nil
}

// install puts a freshly staged file in place, unless another caller
// staged p meanwhile; it returns the file in place.
func (f *FS) installLocked(fl *file) *file {
	if cur := f.files[fl.path]; cur != nil {
		fl.fd.Close()
		os.Remove(fl.staging)
		return cur
	}
	f.files[fl.path] = fl
	return fl
}

// commit makes fl's bytes durable on local disk and queues (journaled) their
// upload: what close and fsync promise. It returns the upload op.
func (f *FS) commit(fl *file) (*writeback.Op, error) {
	f.mu.Lock()
	gen, flushed, put, fd := fl.gen, fl.flushedGen, fl.put, fl.fd
	if fd != nil {
		fl.handles++ // keeps fd open through the sync
	}
	f.mu.Unlock()
	if gen <= flushed {
		f.closeIdle(fl, fd != nil)
		return put, nil // nothing written since the last commit (an fsync before close)
	}
	if fd != nil {
		// (Closed, it was synced when its last handle committed it.)
		err := fd.Sync()
		f.closeIdle(fl, true)
		if err != nil {
			return nil, fmt.Errorf("sync staging file of %q: %w", fl.path, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl.unlinked || gen <= fl.flushedGen {
		return fl.put, nil
	}
	c := f.beginLocked()
	view := func() {
		e := f.ix.ensure(fl.path)
		if e.kind != kFile {
			e = f.ix.set(fl.path, kFile)
		}
		e.attrs, e.hasAttrs = fl.entryLocked(), true
	}
	if fl.put != nil && c.Pending(fl.put) {
		meta := fl.metaLocked()
		if maps.Equal(meta, fl.put.Meta) {
			c.Commit()
			fl.flushedGen = gen // the queued upload will read these bytes
			return fl.put, nil
		}
		// Attributes changed: the upload must carry the new ones.
		next := &writeback.Op{Kind: writeback.Put, Key: fl.put.Key, Staging: fl.staging, Meta: meta, Rename: fl.put.Rename}
		if ok, _ := c.Replace(fl.put, next, true); ok {
			if err := f.commitLocked(c, view); err != nil {
				return nil, err
			}
			fl.put = next
			fl.flushedGen = gen
			return next, nil
		}
	}
	f.settleLocked(c, fl)
	op := &writeback.Op{Kind: writeback.Put, Key: f.key(fl.path), Staging: fl.staging, Meta: fl.metaLocked()}
	c.Add(op, true, fl.writers > 0)
	if err := f.commitLocked(c, view); err != nil {
		return nil, err
	}
	fl.put = op
	fl.flushedGen = gen
	return op, nil
}

// restore rebuilds the index and the staged files from the ops a previous
// run journaled, in their order.
func (f *FS) restore(ops []*writeback.Op) {
	keep := map[string]bool{}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, op := range ops {
		f.replayLocked(op)
		if op.Kind != writeback.Put {
			continue
		}
		keep[op.Staging] = true
		key, ok := whereLater(ops[i+1:], op.Key)
		if !ok {
			// A later op replaces or deletes it: the pending ops alone
			// tell what the tree holds there.
			continue
		}
		p, ok := f.pathOf(key)
		if !ok {
			continue
		}
		st, err := os.Stat(op.Staging)
		if err != nil {
			f.log.Error("staging file of a journaled upload is missing", "key", op.Key, "err", err)
			continue
		}
		fl := &file{path: p, staging: op.Staging, size: st.Size(), mtime: st.ModTime(), put: op,
			remote: op.Key} // an older version may be there: a rename must delete it
		applyFileMeta(fl, op.Meta)
		if key != op.Key {
			// A pending directory move carries the upload to p, as when a
			// directory is renamed during an upload (see renameDir).
			fl.put, fl.remote = nil, key
		}
		f.files[p] = fl
	}
	// Staging files no journaled upload needs are clean copies from the last run.
	entries, _ := os.ReadDir(f.stagingDir)
	for _, e := range entries {
		if sp := filepath.Join(f.stagingDir, e.Name()); !keep[sp] {
			os.Remove(sp)
		}
	}
}

// applyFileMeta restores what an upload's metadata says of a staged file.
func applyFileMeta(fl *file, meta map[string]string) {
	var e metacache.Entry
	applyMeta(&e, meta)
	fl.mode, fl.uid, fl.gid, fl.hasOwner = e.Mode, e.UID, e.GID, e.HasOwner
	if !e.Mtime.IsZero() {
		fl.mtime, fl.mtimeSet = e.Mtime, e.MtimeSet
	}
}

// replayLocked makes the index say what op, journaled by an earlier run,
// will make of the tree, and pins it there, as the operation that made it did.
func (f *FS) replayLocked(op *writeback.Op) {
	p := f.opPath(op.Key)
	// Ops that ran before the crash may have left entries the cache never
	// learned of (they retire only with the last op on them): the listings
	// above every key still pending are read from OSS again.
	for _, k := range []string{op.Key, op.Src} {
		if k == "" {
			continue
		}
		for d := f.opPath(k); d != ""; {
			d, _ = splitPath(d)
			if err := f.cache.InvalidateListing(d); err != nil {
				f.log.Warn("cache listing", "dir", d, "err", err)
			}
		}
	}
	switch op.Kind {
	case writeback.Put:
		f.ix.set(p, kFile)
	case writeback.Copy:
		src := f.opPath(op.Src)
		r, _ := f.ix.resolve(src)
		cands := r.candidates()
		e := f.ix.set(p, kFile)
		e.from = append(cands, src)
	case writeback.Delete:
		e := f.ix.set(p, kGone)
		e.dropTree = e.dropTree || strings.HasSuffix(op.Key, "/")
	case writeback.Marker:
		if e := f.ix.ensure(p); e.kind != kDir {
			// Made anew where something is on its way out: as mkdir did.
			wasGone := e.kind == kGone
			f.ix.set(p, kDir).fresh = wasGone
		}
	case writeback.MoveDir:
		f.moveDirLocked(f.opPath(op.Src), p)
	}
	f.pinLocked(op)
}

// whereLater follows key through ops (later than the one that made it):
// directory moves carry it to a new key; ok is false when an op replaces,
// copies over or deletes it there.
func whereLater(ops []*writeback.Op, key string) (string, bool) {
	for _, op := range ops {
		if op.Kind == writeback.MoveDir {
			if rest, ok := strings.CutPrefix(key, op.Src); ok {
				key = op.Key + rest
			}
			continue
		}
		if op.Key == key || op.Src == key {
			return key, false
		}
	}
	return key, true
}
