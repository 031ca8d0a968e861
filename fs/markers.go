package fs

import (
	"context"

	"github.com/ossmount/ossmount/fs/writeback"
)

// Directory markers. OSS has no directories: a directory is the common
// prefix of the keys under it, or an empty "dir/" marker object. A marker is
// needed only while a directory has nothing in it, so mkdir queues one
// (delayed like an upload), the marker is skipped if the directory has
// entries by the time it would be written, and a directory left empty by an
// unlink, rmdir or rename gets one then. A registry's tree thus holds the
// same keys as distribution's own OSS driver writes, plus markers only for
// directories that really are empty.

// markerNeeded reports whether op must be carried out: any op but a marker,
// and a marker only for a directory the view shows empty.
func (f *FS) markerNeeded(ctx context.Context, op *writeback.Op) bool {
	if op.Kind != writeback.Marker || op.Meta != nil {
		return true // a marker with metadata holds a directory's attributes
	}
	if _, ok := f.pathOf(op.Key); !ok {
		return true
	}
	// The directory the marker was queued for may have been renamed since
	// (a pending move carries the marker along): ask about it, not about
	// whatever now has the marker's old name.
	empty, err := f.dirEmpty(ctx, f.markerPath(op))
	return err != nil || empty
}

// keepDir queues a marker for directory p if it is now empty, so that it
// does not vanish from OSS with its last entry.
func (f *FS) keepDir(ctx context.Context, p string) error {
	if p == "" {
		return nil
	}
	if empty, err := f.dirEmpty(ctx, p); err != nil || !empty {
		return nil // gone, or still holding something
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.ix.get(p)
	if e != nil && (e.kind == kGone || e.kind == kFile) {
		return nil // removed meanwhile
	}
	if e != nil && len(e.markers) > 0 {
		return nil // a marker is still to come
	}
	c := f.beginLocked()
	op := &writeback.Op{Kind: writeback.Marker, Key: f.key(p) + "/"}
	c.Add(op, true, false)
	return f.commitLocked(c, func() {
		if e := f.ix.ensure(p); e.kind == kNone {
			e.kind = kDir
		}
	})
}

// dirEmpty reports whether directory p shows no entries. It reads no more
// of the listing than it must: an entry of the index, or the first name of
// OSS's listing that the index does not remove, answers.
func (f *FS) dirEmpty(ctx context.Context, p string) (bool, error) {
	return throughMoves(f, func() (bool, bool, error) { return f.dirEmptyOnce(ctx, p) })
}

func (f *FS) dirEmptyOnce(ctx context.Context, p string) (empty, through bool, err error) {
	f.mu.Lock()
	r, err := f.ix.resolve(p)
	if err == nil && r.e != nil && r.e.kind == kGone {
		err = errNotExist
	}
	gone := map[string]bool{}
	if err == nil && r.e != nil {
		for name, ch := range r.e.children {
			switch ch.kind {
			case kFile, kDir:
				f.mu.Unlock()
				return false, false, nil
			case kGone:
				gone[name] = true
			}
		}
	}
	f.mu.Unlock()
	if err != nil || r.none {
		return true, false, err
	}
	empty = true
	err = f.remoteEach(ctx, r.where, r.where == p, func(name string) bool {
		if !gone[name] {
			empty = false
		}
		return empty
	})
	return empty, r.where != p, err
}

// remoteEach calls fn with the names OSS lists in directory p, in order,
// until fn returns false.
func (f *FS) remoteEach(ctx context.Context, p string, cached bool, fn func(name string) bool) error {
	entries, err := f.remoteListing(ctx, p, cached, false)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !fn(e.Name) {
			return nil
		}
	}
	return nil
}
