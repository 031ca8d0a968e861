package fs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
	"github.com/ossmount/ossmount/ossio"
)

// Attribute tables. OSS listings carry no user metadata, so a cold listing
// alone would show every entry with the mount's default mode, owner and
// mtime although each object's x-oss-meta-* holds the right ones (a HEAD
// per entry is what that would cost). A directory some of whose entries
// have attributes of their own (a chmod, chown or utimes; a mode or owner
// other than the defaults) therefore keeps them in the body of its "dir/"
// marker: one small JSON table, rewritten when they change and read with
// one GET when the directory is listed cold. A file's row counts only
// while its object has the ETag the row names, so a table is never wrong,
// at worst out of date (defaults shown until the next rewrite). A marker
// with an empty body (every directory a registry makes) costs nothing.
// A directory's own attributes are also in its marker's x-oss-meta-*, but
// a cold lookup of a directory does not read them: that would cost a HEAD
// per directory on every cold path walk (a registry's pull looks up ten);
// they come with the listing of its parent.

// maxTableSize bounds the body read back: a marker is not a data file.
const maxTableSize = 16 << 20

// tableRow is one entry's attributes in a table.
type tableRow struct {
	Dir      bool   `json:"dir,omitempty"`
	Mode     uint32 `json:"mode,omitempty"` // with the type bits, as metacache.Entry.Mode
	UID      uint32 `json:"uid,omitempty"`
	GID      uint32 `json:"gid,omitempty"`
	Owner    bool   `json:"owner,omitempty"`
	Mtime    int64  `json:"mtime,omitempty"` // Unix nanoseconds
	MtimeSet bool   `json:"utime,omitempty"`
	ETag     string `json:"etag,omitempty"` // a file's: the row holds for this object only
}

type attrTable struct {
	Version int                 `json:"v"`
	Rows    map[string]tableRow `json:"rows"`
}

func rowOf(e metacache.Entry) tableRow {
	r := tableRow{Dir: e.IsDir, Mode: e.Mode, UID: e.UID, GID: e.GID, Owner: e.HasOwner, MtimeSet: e.MtimeSet, ETag: e.ETag}
	if !e.Mtime.IsZero() {
		r.Mtime = e.Mtime.UnixNano()
	}
	return r
}

// apply sets e's attributes from row r if r describes e as it is.
func (r tableRow) apply(e *metacache.Entry) {
	if r.Dir != e.IsDir || !e.IsDir && (r.ETag == "" || r.ETag != e.ETag) {
		return
	}
	e.Mode, e.UID, e.GID, e.HasOwner = r.Mode, r.UID, r.GID, r.Owner
	if r.Mtime != 0 {
		e.Mtime, e.MtimeSet = time.Unix(0, r.Mtime), r.MtimeSet
	}
}

// ownAttrs reports whether e has attributes a cold listing would not
// show: a mode or owner other than the mount's defaults, or an mtime set
// by utimes.
func (f *FS) ownAttrs(e metacache.Entry) bool {
	def := uint32(0o666)
	if e.IsDir {
		def = 0o777
	}
	if e.Mode != 0 && e.Mode&0o7777 != def&^f.opt.Umask || e.MtimeSet {
		return true
	}
	return e.HasOwner && (e.UID != f.opt.UID || e.GID != f.opt.GID)
}

// dirMeta is the x-oss-meta-* of a directory's marker.
func dirMeta(e metacache.Entry) map[string]string {
	fl := &file{mode: e.Mode, uid: e.UID, gid: e.GID, hasOwner: e.HasOwner, mtime: e.Mtime, mtimeSet: e.MtimeSet}
	return fl.metaLocked()
}

// markerContent is what directory p's marker holds when it is written:
// p's own attributes as x-oss-meta-* when it has its own, and the table
// of its entries that have theirs (a file's once OSS holds it: its ETag is
// known). The view answers, so a marker written late says what is true now.
func (f *FS) markerContent(ctx context.Context, p string) ([]byte, map[string]string, error) {
	self, err := f.stat(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	var meta map[string]string
	if f.ownAttrs(self) {
		meta = dirMeta(self)
	}
	rows := map[string]tableRow{}
	entries, err := f.readdir(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if f.ownAttrs(e) && (e.IsDir || e.ETag != "") {
			rows[e.Name] = rowOf(e)
		}
	}
	if len(rows) == 0 {
		return nil, meta, nil
	}
	body, err := json.Marshal(attrTable{Version: 1, Rows: rows})
	return body, meta, err
}

// writeMarker writes op's directory marker with what markerContent says
// (nothing but an empty marker if the directory is gone meanwhile: a later
// op removes it).
func (f *FS) writeMarker(ctx context.Context, op *writeback.Op) error {
	var body []byte
	var meta map[string]string
	for attempt := 0; ; attempt++ {
		p := f.markerPath(op)
		if testHookMarkerPath != nil {
			testHookMarkerPath(p)
		}
		var err error
		body, meta, err = f.markerContent(ctx, p)
		f.log.Debug("directory marker", "key", op.Key, "dir", p, "table", string(body), "err", err)
		if err == nil {
			break
		}
		if f.markerPath(op) != p && attempt < maxMoveRetries {
			continue // renamed while we looked: look where it is now
		}
		body, meta = nil, op.Meta
		break
	}
	_, err := f.client.Put(ctx, op.Key, bytes.NewReader(body), int64(len(body)), meta)
	return err
}

// testHookMarkerPath, set by tests, runs between finding a marker's
// directory and reading it: a rename can come in there.
var testHookMarkerPath func(p string)

// markerPath is the mount path of the directory op writes the marker of:
// a rename since it was queued moved it (and a pending move carries the
// marker along).
func (f *FS) markerPath(op *writeback.Op) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if es := f.ix.pinned[op]; len(es) > 0 {
		return es[0].path()
	}
	p, _ := f.pathOf(op.Key)
	return p
}

// readTable reads the table in the marker at key (of size bytes); a
// missing or unreadable one is no table.
func (f *FS) readTable(ctx context.Context, key string, size int64) map[string]tableRow {
	if size <= 0 || size > maxTableSize {
		return nil
	}
	rc, err := f.client.GetRange(ctx, key, 0, -1)
	if err != nil {
		if !ossio.IsNotFound(err) {
			f.log.Warn("read attribute table", "key", key, "err", err)
		}
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(rc, maxTableSize))
	rc.Close()
	var t attrTable
	if err == nil {
		err = json.Unmarshal(body, &t)
	}
	if err != nil || t.Version != 1 {
		f.log.Warn("attribute table unreadable; showing defaults", "key", key, "err", err)
		return nil
	}
	return t.Rows
}

// applyTable gives the entries of a cold listing the attributes their
// directory's table holds for them.
func applyTable(rows map[string]tableRow, entries []metacache.Entry) {
	if len(rows) == 0 {
		return
	}
	for i := range entries {
		if r, ok := rows[entries[i].Name]; ok {
			r.apply(&entries[i])
		}
	}
}

// rowGone notes that what was at p, with attributes e, is gone from there:
// a row its directory's table holds for it must go too, or a directory
// (whose row names no ETag), or a file with the same bytes, made there
// later would take it for its own.
func (f *FS) rowGone(p string, e metacache.Entry) {
	if !f.ownAttrs(e) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tableChangedLocked(p)
}

// tableChangedLocked queues a rewrite of the table of p's directory: one
// pending rewrite per directory covers every change until it starts.
func (f *FS) tableChangedLocked(p string) {
	if p == "" {
		return
	}
	dir, _ := splitPath(p)
	if f.dirKey(dir) == "" {
		return // the whole bucket is mounted: its root has no marker
	}
	if op := f.tables[dir]; op != nil && f.q.Pending(op) {
		if es := f.ix.pinned[op]; len(es) > 0 && es[0].path() == dir {
			return // (not if the directory it was queued for was renamed since)
		}
	}
	c := f.beginLocked()
	op := &writeback.Op{Kind: writeback.Marker, Key: f.dirKey(dir), Meta: map[string]string{}}
	if err := c.Add(op, true, false); err != nil {
		c.Commit()
		f.log.Warn("queue attribute table", "dir", dir, "err", err)
		return
	}
	if err := f.commitLocked(c, nil); err != nil {
		f.log.Warn("queue attribute table", "dir", dir, "err", err)
		return
	}
	f.tables[dir] = op
}
