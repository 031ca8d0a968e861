package fs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ossmount/ossmount/metacache"
	"github.com/ossmount/ossmount/ossio"
)

// Errors the view returns; errno.go maps them.
var (
	errNotExist    = errors.New("no such file or directory")
	errExist       = errors.New("file exists")
	errNotEmpty    = errors.New("directory not empty")
	errNotDir      = errors.New("not a directory")
	errIsDir       = errors.New("is a directory")
	errNameTooLong = errors.New("name too long")
	errInvalid     = errors.New("invalid argument")
	errReadOnly    = errors.New("read-only file system")
)

// maxKeyLen is OSS's limit on an object key, in bytes.
const maxKeyLen = 1023

// checkName refuses a new name that POSIX or OSS cannot hold. A
// directory needs room for its marker's trailing slash.
func (f *FS) checkName(dir, name string, isDir bool) error {
	keyLen := len(f.dirKey(dir) + name)
	if isDir {
		keyLen++
	}
	switch {
	case len(name) > 255:
		return errNameTooLong
	case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00"):
		return errInvalid
	case keyLen > maxKeyLen:
		return errNameTooLong
	}
	return nil
}

// validRemoteName reports whether a name found in a listing can be shown
// as a path component; other keys are skipped (DESIGN: never mapped elsewhere).
func validRemoteName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 && !strings.ContainsRune(name, 0)
}

// stat returns the entry at path p as the mount shows it.
func (f *FS) stat(ctx context.Context, p string) (metacache.Entry, error) {
	if p == "" {
		return f.dirAttrsLocked("", nil), nil
	}
	_, name := splitPath(p)
	for attempt := 0; ; attempt++ {
		epoch := f.q.MoveEpoch()
		f.mu.Lock()
		if fl := f.stagedLocked(p); fl != nil {
			e := fl.entryLocked()
			f.mu.Unlock()
			return e, nil
		}
		r, err := f.ix.resolve(p)
		var local *metacache.Entry
		if err == nil && r.e != nil {
			local, err = f.localLocked(r.where, r.e)
		}
		cands := r.candidates()
		f.mu.Unlock()
		if err != nil || local != nil {
			if local != nil {
				local.Name = name
				return *local, nil
			}
			return metacache.Entry{}, err
		}
		e, err := f.remoteFirst(ctx, p, cands)
		if readThrough(cands, p) && !f.q.MoveStable(epoch) && attempt < maxMoveRetries {
			moveBackoff(attempt) // a move ran while we looked at its source
			continue
		}
		if err == nil && r.e != nil && r.e.kind == kFile && e.IsDir {
			err = errNotExist // OSS still has a directory where a file is on its way
		}
		e.Name = name
		return e, err
	}
}

// localLocked is what the index entry e says of its path when that is
// enough: nil when OSS must be asked. where is where OSS holds it (and the
// cache knows it), which a pending move of a directory above it has not
// changed yet.
func (f *FS) localLocked(where string, e *entry) (*metacache.Entry, error) {
	switch e.kind {
	case kGone:
		return nil, errNotExist
	case kDir:
		a := f.dirAttrsLocked(where, e)
		return &a, nil
	case kFile:
		if e.hasAttrs {
			a := e.attrs
			return &a, nil
		}
	}
	return nil, nil
}

// childWhere is where OSS holds entry ch, named name, of a directory it
// holds at where: as resolve finds it.
func childWhere(where, name string, ch *entry) string {
	if ch.kind == kDir && len(ch.from) > 0 {
		return ch.from[0]
	}
	return joinPath(where, name)
}

// remoteFirst stats the first of cands (where OSS may hold p) that OSS
// holds. Another path than p is asked of OSS itself: the cache learns what
// OSS holds at a path when the index lets go of it, and the index still
// holds the source of a pending copy or move.
func (f *FS) remoteFirst(ctx context.Context, p string, cands []string) (metacache.Entry, error) {
	err := errNotExist
	for _, c := range cands {
		var e metacache.Entry
		if c == p {
			e, err = f.remoteStat(ctx, c)
		} else if e, err = f.fetchEntry(ctx, c); err == nil {
			f.keepKnown(c, &e) // a directory's mode, say, is known there
		}
		if !errors.Is(err, errNotExist) {
			return e, err
		}
	}
	return metacache.Entry{}, err
}

// readThrough reports whether a lookup of p looked at another path in OSS:
// a pending move's source, which may move on while it looks.
func readThrough(cands []string, p string) bool {
	return len(cands) > 1 || len(cands) == 1 && cands[0] != p
}

// maxMoveRetries bounds how often a lookup starts over because a pending
// move it looked through was carried out meanwhile.
const maxMoveRetries = 20

// moveBackoff waits a little longer at each attempt, so that a lookup gives
// a running move time to finish.
func moveBackoff(attempt int) { time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond) }

// remoteStat returns what OSS holds at path p, from the cache when fresh.
func (f *FS) remoteStat(ctx context.Context, p string) (metacache.Entry, error) {
	if len(f.key(p)) > maxKeyLen {
		return metacache.Entry{}, errNotExist // OSS cannot hold it, nor list with it
	}
	switch e, st := f.cache.Lookup(p); st {
	case metacache.Fresh:
		return e, nil
	case metacache.Negative:
		return e, errNotExist
	}
	dir, name := splitPath(p)
	for waited := false; ; waited = true {
		switch e, st := f.cache.Child(dir, name); st {
		case metacache.Fresh:
			return e, nil
		case metacache.Negative:
			return e, errNotExist
		case metacache.StaleNegative:
			f.revalidate(dir)
			return metacache.Entry{}, errNotExist
		case metacache.Stale:
			if f.servable(dir) {
				f.revalidate(dir)
				return e, nil
			}
		case metacache.Miss:
			if !waited && f.awaitRefresh(ctx, dir) {
				continue // the listing being written answers once it is
			}
		}
		break
	}
	epoch := f.q.DirEpoch(f.dirKey(dir))
	e, err := f.fetchEntry(ctx, p)
	// Under f.mu no op can retire into the cache between the check and
	// the write, which would then overwrite it with an older answer.
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.q.DirStable(f.dirKey(dir), epoch) {
		return e, err // OSS may have answered from before a change: don't cache
	}
	if errors.Is(err, errNotExist) {
		if cerr := f.cache.PutNegative(p); cerr != nil {
			f.log.Warn("cache negative entry", "path", p, "err", cerr)
		}
		return e, err
	}
	if err != nil {
		return e, err
	}
	if cerr := f.cache.Put(p, e); cerr != nil {
		f.log.Warn("cache entry", "path", p, "err", cerr)
	}
	return e, nil
}

// fetchEntry finds path p in OSS with one LIST: the object p itself and the
// common prefix p/ sort close together, so a listing from p shows both.
func (f *FS) fetchEntry(ctx context.Context, p string) (metacache.Entry, error) {
	key := f.key(p)
	_, name := splitPath(p)
	var file *metacache.Entry
	token := ""
	for {
		page, err := f.client.ListPage(ctx, key, "/", token, 1000)
		if err != nil {
			return metacache.Entry{}, fmt.Errorf("look up %q: %w", p, err)
		}
		for _, o := range page.Objects {
			switch o.Key {
			case key:
				e := objectEntry(name, o)
				file = &e
			case key + "/":
				return metacache.Entry{Name: name, IsDir: true, Mtime: o.LastModified}, nil
			}
		}
		for _, pre := range page.Prefixes {
			if pre == key+"/" {
				if file != nil {
					f.log.Warn("key is both an object and a directory; showing the directory", "key", key)
				}
				return metacache.Entry{Name: name, IsDir: true, Mtime: time.Now()}, nil
			}
		}
		// Keys sort by byte; once past key+"/", neither can follow.
		last := ""
		if n := len(page.Objects); n > 0 {
			last = page.Objects[n-1].Key
		}
		if n := len(page.Prefixes); n > 0 && page.Prefixes[n-1] > last {
			last = page.Prefixes[n-1]
		}
		if page.NextToken == "" || last > key+"/" {
			break
		}
		token = page.NextToken
	}
	if file == nil {
		return metacache.Entry{}, errNotExist
	}
	f.withMeta(ctx, p, file)
	return *file, nil
}

// withMeta adds to a file's entry from a listing, which has no user
// metadata, the mode, owner and mtime chmod, chown and utimes left in
// x-oss-meta-* (content-addressed blobs never have any).
func (f *FS) withMeta(ctx context.Context, p string, e *metacache.Entry) {
	if metacache.IsImmutable(p) {
		return
	}
	if o, err := f.client.Head(ctx, f.key(p)); err == nil {
		applyMeta(e, o.Meta)
	}
}

// applyMeta reads the attributes an upload stored in x-oss-meta-*.
func applyMeta(e *metacache.Entry, meta map[string]string) {
	if v, err := strconv.ParseUint(meta["mode"], 8, 32); err == nil {
		e.Mode = uint32(v)
	}
	uid, uerr := strconv.ParseUint(meta["uid"], 10, 32)
	gid, gerr := strconv.ParseUint(meta["gid"], 10, 32)
	if uerr == nil && gerr == nil {
		e.UID, e.GID, e.HasOwner = uint32(uid), uint32(gid), true
	}
	if v, err := strconv.ParseInt(meta["mtime"], 10, 64); err == nil {
		e.Mtime = time.Unix(0, v)
		_, e.MtimeSet = meta["utime"]
	}
}

func objectEntry(name string, o ossio.Object) metacache.Entry {
	return metacache.Entry{Name: name, Size: o.Size, Mtime: o.LastModified, ETag: o.ETag}
}

// readdir lists directory p as the mount shows it, sorted by name: OSS's
// listing (through the cache) with the index's entries of p laid over it.
func (f *FS) readdir(ctx context.Context, p string) ([]metacache.Entry, error) {
	return throughMoves(f, func() ([]metacache.Entry, bool, error) { return f.readdirOnce(ctx, p) })
}

// throughMoves runs once until its answer can be trusted: once reports
// whether it read through a pending move's source, and if a move started
// or ended meanwhile, the move may have carried the entries away between
// the lookup and the listing, so it runs again.
func throughMoves[T any](f *FS, once func() (T, bool, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		epoch := f.q.MoveEpoch()
		v, through, err := once()
		if !through || f.q.MoveStable(epoch) || attempt >= maxMoveRetries {
			return v, err
		}
		moveBackoff(attempt)
	}
}

// localChild is an index entry of a listed directory, copied out of the lock.
type localChild struct {
	name  string
	kind  kind
	attrs *metacache.Entry // nil: ask OSS at cands
	cands []string
}

func (f *FS) readdirOnce(ctx context.Context, p string) (out []metacache.Entry, through bool, err error) {
	f.mu.Lock()
	r, err := f.ix.resolve(p)
	if err == nil && r.e != nil {
		switch r.e.kind {
		case kGone:
			err = errNotExist
		case kFile:
			err = errNotDir
		}
	}
	if err != nil {
		f.mu.Unlock()
		return nil, false, err
	}
	var locals []localChild
	if r.e != nil {
		locals = make([]localChild, 0, len(r.e.children))
		for name, ch := range r.e.children {
			if ch.kind == kNone {
				continue
			}
			cp := joinPath(p, name)
			lc := localChild{name: name, kind: ch.kind}
			if fl := f.stagedLocked(cp); fl != nil && ch.kind == kFile {
				a := fl.entryLocked()
				lc.attrs = &a
			} else if a, _ := f.localLocked(childWhere(r.where, name, ch), ch); a != nil {
				lc.attrs = a
			} else if ch.kind == kFile {
				cr := resolved{e: ch, where: joinPath(r.where, name), none: r.none}
				lc.cands = cr.candidates()
			}
			locals = append(locals, lc)
		}
	}
	f.mu.Unlock()
	through = !r.none && r.where != p
	var base []metacache.Entry
	if !r.none {
		cached := r.where == p
		walking := cached && f.walks.note(p)
		if base, err = f.remoteListing(ctx, r.where, cached, walking); err != nil {
			return nil, through, err
		}
	}
	if len(locals) == 0 {
		return base, through, nil // already sorted
	}
	byName := make(map[string]metacache.Entry, len(base)+len(locals))
	for _, e := range base {
		byName[e.Name] = e
	}
	for _, lc := range locals {
		switch {
		case lc.kind == kGone:
			delete(byName, lc.name)
		case lc.attrs != nil:
			a := *lc.attrs
			a.Name = lc.name
			byName[lc.name] = a
		default:
			if cur, ok := byName[lc.name]; ok && !cur.IsDir {
				continue // OSS's own listing has its size
			}
			a, err := f.remoteFirst(ctx, joinPath(p, lc.name), lc.cands)
			if err != nil || a.IsDir {
				a = metacache.Entry{} // not there yet: an empty file, as it was made
			}
			through = through || readThrough(lc.cands, joinPath(p, lc.name))
			a.Name = lc.name
			byName[lc.name] = a
		}
	}
	out = make([]metacache.Entry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, through, nil
}

// remoteListing returns OSS's entries of directory p, from the cache when fresh.
// Unless cached is set (p is the source of a pending move: see
// remoteFirst), it asks OSS and keeps nothing.
//
// walking asks for the whole subtree to be listed and cached at once when
// p is not cached (see walk.go).
func (f *FS) remoteListing(ctx context.Context, p string, cached, walking bool) ([]metacache.Entry, error) {
	if len(f.dirKey(p)) > maxKeyLen {
		return nil, nil
	}
	if !cached {
		// Read through a pending move's source: the cache still knows its
		// entries' attributes there.
		entries, err := f.listOSS(ctx, p)
		if err == nil {
			f.keepKnownAttrs(p, entries)
		}
		return entries, err
	}
	entries, st := f.cache.Listing(p)
	switch {
	case st == metacache.Fresh:
		return entries, nil
	case walking:
		return f.listTree(ctx, p)
	case st == metacache.Stale && f.servable(p):
		f.revalidate(p)
		return entries, nil
	}
	return f.fetchListing(ctx, p)
}

// fetchListing lists directory p in OSS and caches the listing, unless a
// change in p started or ended meanwhile.
func (f *FS) fetchListing(ctx context.Context, p string) ([]metacache.Entry, error) {
	prefix := f.dirKey(p)
	epoch := f.q.DirEpoch(prefix)
	entries, err := f.listOSS(ctx, p)
	if err != nil {
		return nil, err
	}
	f.keepKnownAttrs(p, entries)
	f.mu.Lock() // see remoteStat
	defer f.mu.Unlock()
	if !f.q.DirStable(prefix, epoch) {
		return entries, nil // OSS may have answered from before a change: don't cache
	}
	if err := f.cache.PutListing(p, entries); err != nil {
		f.log.Warn("cache listing", "dir", p, "err", err)
	}
	return entries, nil
}

// listOSS lists directory p in OSS, sorted by name.
func (f *FS) listOSS(ctx context.Context, p string) ([]metacache.Entry, error) {
	prefix := f.dirKey(p)
	byName := map[string]metacache.Entry{}
	var marker ossio.Object
	err := f.client.List(ctx, prefix, "/", func(page ossio.Page) error {
		for _, o := range page.Objects {
			name := strings.TrimPrefix(o.Key, prefix)
			if name == "" { // the directory's own marker: its body is the attribute table
				marker = o
				continue
			}
			if !validRemoteName(name) {
				f.log.Warn("skipping a key that cannot be a path", "key", o.Key)
				continue
			}
			if _, dup := byName[name]; !dup {
				byName[name] = objectEntry(name, o)
			}
		}
		for _, pre := range page.Prefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(pre, prefix), "/")
			if !validRemoteName(name) {
				f.log.Warn("skipping keys that cannot be paths", "prefix", pre)
				continue
			}
			if e, dup := byName[name]; dup && !e.IsDir {
				f.log.Warn("key is both an object and a directory; showing the directory", "key", prefix+name)
			}
			byName[name] = metacache.Entry{Name: name, IsDir: true, Mtime: time.Now()}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	entries := make([]metacache.Entry, 0, len(byName))
	for _, e := range byName {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	applyTable(f.readTable(ctx, marker.Key, marker.Size), entries)
	return entries, nil
}

// keepKnownAttrs carries into a fresh listing of directory p the mode,
// owner and mtime the cache already knows for its entries (from an upload
// of this mount, a chmod, or a lookup that read x-oss-meta-*): OSS listings
// carry no user metadata, and a refresh must not reset them to defaults.
// A file keeps them while it is the same object (size, and ETag where both
// are known); a directory always.
func (f *FS) keepKnownAttrs(p string, entries []metacache.Entry) {
	for i := range entries {
		f.keepKnown(joinPath(p, entries[i].Name), &entries[i])
	}
}

// keepKnown is keepKnownAttrs for the entry n OSS shows at p.
func (f *FS) keepKnown(p string, n *metacache.Entry) {
	old, st := f.cache.Lookup(p)
	if st != metacache.Fresh && st != metacache.Stale || old.IsDir != n.IsDir {
		return
	}
	if !n.IsDir && (old.Size != n.Size || old.ETag != "" && n.ETag != "" && old.ETag != n.ETag) {
		return
	}
	n.Mode, n.UID, n.GID, n.HasOwner = old.Mode, old.UID, old.GID, old.HasOwner
	if !old.Mtime.IsZero() {
		n.Mtime, n.MtimeSet = old.Mtime, old.MtimeSet
	}
}
