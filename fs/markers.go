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
	if op.Kind != writeback.Marker {
		return true
	}
	p, ok := f.pathOf(op.Key)
	if !ok {
		return true
	}
	entries, err := f.readdir(ctx, p)
	return err != nil || len(entries) == 0
}

// keepDir queues a marker for directory p if it is now empty, so that it
// does not vanish from OSS with its last entry.
func (f *FS) keepDir(ctx context.Context, p string) error {
	if p == "" {
		return nil
	}
	entries, err := f.readdir(ctx, p)
	if err != nil || len(entries) > 0 {
		return nil // gone, or still holding something
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markers[p] != nil {
		return nil // mkdir's own marker is still to come
	}
	// Not in f.markers: OSS may already hold a marker for this directory,
	// so an rmdir must delete it rather than cancel this one.
	return f.q.Add(&writeback.Op{Kind: writeback.Marker, Key: f.key(p) + "/"}, true, false)
}
