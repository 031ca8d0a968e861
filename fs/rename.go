package fs

import (
	"context"
	"slices"
	"strings"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
)

// Flags of renameat2(2).
const (
	renameNoReplace = 1
	renameExchange  = 2
)

// rename never waits for OSS (DESIGN.md: the kernel holds a mount-wide lock
// for it). It journals what OSS must do and changes the local view at once.
func (f *FS) rename(ctx context.Context, src, dstDir, dstName string, flags uint32) error {
	if f.opt.ReadOnly {
		return errReadOnly
	}
	if flags&renameExchange != 0 {
		return errInvalid
	}
	dst := joinPath(dstDir, dstName)
	if src == dst {
		return nil
	}
	se, err := f.stat(ctx, src)
	if err != nil {
		return err
	}
	if err := f.checkName(dstDir, dstName, se.IsDir); err != nil {
		return err
	}
	de, derr := f.stat(ctx, dst)
	dstExists := derr == nil
	if dstExists && flags&renameNoReplace != 0 {
		return errExist
	}
	srcDir, _ := splitPath(src)
	if se.IsDir {
		if strings.HasPrefix(dst+"/", src+"/") {
			return errInvalid
		}
		if dstExists {
			if !de.IsDir {
				return errNotDir
			}
			empty, err := f.dirEmpty(ctx, dst)
			if err != nil {
				return err
			}
			if !empty {
				return errNotEmpty
			}
		}
		if err := f.renameDir(src, dst, se, dstExists); err != nil {
			return err
		}
		f.rowGone(src, se)
		f.rowGone(dst, de)
		return f.keepDir(ctx, srcDir)
	}
	if dstExists && de.IsDir {
		return errIsDir
	}
	if err := f.renameFile(src, dst, se, dstExists); err != nil {
		return err
	}
	f.rowGone(src, se)
	f.rowGone(dst, de)
	return f.keepDir(ctx, srcDir)
}

func (f *FS) renameFile(src, dst string, se metacache.Entry, dstExists bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.ix.resolve(src)
	if err != nil {
		return err
	}
	from := append(r.candidates(), src) // where the bytes are until the copy runs
	// One journal commit for the whole rename: after a crash it is carried
	// out entirely or not at all.
	c := f.beginLocked()
	if err := f.renameFileTxn(c, src, dst, dstExists); err != nil {
		c.Commit()
		return err
	}
	return f.commitLocked(c, func() {
		f.ix.set(src, kGone)
		d := f.ix.set(dst, kFile)
		_, name := splitPath(dst)
		d.attrs, d.hasAttrs = se, true
		d.attrs.Name = name
		for _, op := range c.added {
			if op.Kind == writeback.Copy {
				d.from = from
			}
		}
	})
}

func (f *FS) renameFileTxn(t writeback.Log, src, dst string, dstExists bool) error {
	srcKey, dstKey := f.key(src), f.key(dst)
	add := func(op *writeback.Op) error {
		op.Rename = true
		return t.Add(op, false, false)
	}
	placed := false // an op will put the renamed file's bytes at dstKey
	var ops []*writeback.Op
	fl := f.files[src]
	if fl != nil {
		f.settleLocked(t, fl)
		if fl.put != nil {
			// Not uploaded yet: upload it once, under its final key.
			next := &writeback.Op{Kind: writeback.Put, Key: dstKey, Staging: fl.staging, Meta: fl.metaLocked(), Rename: true}
			ok, err := t.Replace(fl.put, next, true)
			if err != nil {
				return err
			}
			if ok {
				fl.put = next
				placed = true
			} else {
				f.settleLocked(t, fl)
			}
		}
		switch {
		case fl.remote == srcKey && placed:
			ops = append(ops, &writeback.Op{Kind: writeback.Delete, Key: srcKey})
			fl.remote = ""
		case fl.remote == srcKey:
			ops = append(ops, &writeback.Op{Kind: writeback.Copy, Src: srcKey, Key: dstKey},
				&writeback.Op{Kind: writeback.Delete, Key: srcKey})
			fl.remote = dstKey
			placed = true
		}
	} else {
		ops = append(ops, &writeback.Op{Kind: writeback.Copy, Src: srcKey, Key: dstKey},
			&writeback.Op{Kind: writeback.Delete, Key: srcKey})
		placed = true
	}
	if dstExists {
		// Whatever stood at dst goes; OSS needs a delete only if nothing replaces it.
		replaced := f.files[dst]
		if err := f.removeFileLocked(t, dst, !placed); err != nil {
			return err
		}
		if placed && fl != nil && (replaced == nil || replaced.remote != "") {
			// OSS holds the replaced file's object at dst until the renamed
			// one lands there: if that is cancelled (an unlink before the
			// upload), dst must still be deleted.
			fl.remote = dstKey
		}
	}
	for _, op := range ops {
		if err := add(op); err != nil {
			return err
		}
	}
	if fl != nil {
		delete(f.files, src)
		fl.path = dst
		f.files[dst] = fl
	}
	return nil
}

// renameDir moves a directory: one journaled op moves every object under
// it in OSS; staged files inside are re-keyed and upload under the new name.
func (f *FS) renameDir(src, dst string, se metacache.Entry, dstExists bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.beginLocked()
	if err := f.renameDirTxn(c, src, dst, dstExists); err != nil {
		c.Commit()
		return err
	}
	err := f.commitLocked(c, func() {
		moved := f.moveDirLocked(src, dst)
		if !moved.hasAttrs { // its mode and owner go along
			_, name := splitPath(dst)
			moved.attrs, moved.hasAttrs = se, true
			moved.attrs.Name = name
		}
	})
	if err == nil && f.ownAttrs(se) {
		f.tableChangedLocked(dst) // its row, under its new name
	}
	return err
}

// moveDirLocked moves directory src to dst in the index: the entries below
// it go along, and until the moves pending on the way run, OSS holds them
// where src's are now.
func (f *FS) moveDirLocked(src, dst string) *entry {
	r, _ := f.ix.resolve(src)
	// Moves pending above src carry its entries on first: dst must learn
	// where they end up when each of them has run.
	var carriers []*writeback.Op
	for e := r.e; e != nil && e.parent != nil; e = e.parent {
		carriers = append(carriers, e.moves...)
	}
	if r.e == nil {
		carriers = nil
		for e := f.ix.get(parentOf(src)); e != nil && e.parent != nil; e = e.parent {
			carriers = append(carriers, e.moves...)
		}
	}
	moved, _ := f.ix.moveTree(src, dst)
	if moved.kind != kDir {
		moved.kind = kDir
	}
	if !r.none {
		moved.from = []string{r.where}
	} else if moved.fresh {
		keepSources(moved, r.where)
	}
	moved.dropTree = true
	clearMade(moved) // the move carries markers along: an rmdir there must delete
	for _, op := range carriers {
		if !slices.Contains(moved.ops, op) {
			moved.ops = append(moved.ops, op)
			f.ix.pinned[op] = append(f.ix.pinned[op], moved)
			moved.moves = append(moved.moves, op)
		}
	}
	return moved
}

// keepSources records, below a fresh directory moved from where, where
// OSS holds what its entries that are not fresh hold (a directory moved
// into it, or made in it, whose ops ran; a file uploaded there): only
// they had anything written under where, and the move carries it along.
// (where itself is no source: a fresh directory made again after an older
// one at its name was moved away has nothing of that one's.)
func keepSources(e *entry, where string) {
	for name, ch := range e.children {
		at := joinPath(where, name)
		switch {
		case ch.kind == kDir && ch.fresh:
			keepSources(ch, at)
		case ch.kind == kDir && len(ch.from) == 0, ch.kind == kFile && !slices.Contains(ch.from, at):
			ch.from = append(ch.from, at)
		}
	}
}

func clearMade(e *entry) {
	e.made = nil
	for _, ch := range e.children {
		clearMade(ch)
	}
}

func parentOf(p string) string {
	dir, _ := splitPath(p)
	return dir
}

func (f *FS) renameDirTxn(t writeback.Log, src, dst string, dstExists bool) error {
	if dstExists {
		t.Add(&writeback.Op{Kind: writeback.Delete, Key: f.key(dst) + "/", Rename: true}, false, false)
	}
	move := &writeback.Op{Kind: writeback.MoveDir, Src: f.key(src) + "/", Key: f.key(dst) + "/", Rename: true}
	t.Add(move, false, false)
	for p, fl := range f.files {
		rest, ok := strings.CutPrefix(p, src+"/")
		if !ok {
			continue
		}
		np := dst + "/" + rest
		f.settleLocked(t, fl)
		if fl.remote != "" {
			// The move carries the object along.
			fl.remote = f.key(dst) + "/" + strings.TrimPrefix(fl.remote, f.key(src)+"/")
		}
		if fl.put != nil {
			next := &writeback.Op{Kind: writeback.Put, Key: f.key(np), Staging: fl.staging, Meta: fl.metaLocked(), Rename: true}
			ok, err := t.Replace(fl.put, next, true)
			if err != nil {
				return err
			}
			if ok {
				fl.put = next
			} else {
				// Already uploading under the old name; the move waits for it and carries it.
				f.settleLocked(t, fl)
				fl.remote = f.key(np)
			}
		}
		delete(f.files, p)
		fl.path = np
		f.files[np] = fl
	}
	return nil
}
