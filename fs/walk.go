package fs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ossmount/ossmount/metacache"
	"github.com/ossmount/ossmount/ossio"
)

// Walks. find, du, ls -R and a registry's garbage collection list every
// directory of a subtree; one delimited LIST per directory makes a walk of
// a registry cost a request per layer directory. When a directory missing
// from the cache is listed soon after its parent was, the mount takes it
// for a walk: it lists the directory's whole subtree with flat LIST pages
// (1,000 keys each, whatever the depth) and caches the listing of every
// directory in it, so that the rest of the walk needs no request.

// walkWindow is how recently the parent must have been listed.
const walkWindow = 10 * time.Second

// walks remembers which directories were listed lately.
type walks struct {
	mu     sync.Mutex
	listed map[string]time.Time // GUARDED_BY(mu)
}

// note records that directory p was listed now, and reports whether its
// parent was listed within walkWindow.
func (w *walks) note(p string) bool {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.listed == nil {
		w.listed = map[string]time.Time{}
	}
	if len(w.listed) > 4096 { // forget what is too old to matter
		for d, at := range w.listed {
			if now.Sub(at) > walkWindow {
				delete(w.listed, d)
			}
		}
	}
	w.listed[p] = now
	if p == "" {
		return false
	}
	at, ok := w.listed[parentOf(p)]
	return ok && now.Sub(at) < walkWindow
}

// listTree lists directory p's whole subtree with flat pages, caches the
// listing of every directory in it (unless a change under p started or
// ended meanwhile) and returns p's own entries, sorted.
func (f *FS) listTree(ctx context.Context, p string) ([]metacache.Entry, error) {
	prefix := f.dirKey(p)
	epoch := f.q.DirEpoch(prefix)
	stale := false
	// open holds the directories on the path of the current key, p first:
	// keys come sorted, so a directory is complete once a key leaves it.
	type openDir struct {
		path    string
		entries map[string]metacache.Entry
		marker  ossio.Object // its own, whose body is its attribute table
	}
	open := []*openDir{{path: p, entries: map[string]metacache.Entry{}}}
	var result []metacache.Entry
	closeTop := func() {
		d := open[len(open)-1]
		open = open[:len(open)-1]
		entries := make([]metacache.Entry, 0, len(d.entries))
		for _, e := range d.entries {
			entries = append(entries, e)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
		applyTable(f.readTable(ctx, d.marker.Key, d.marker.Size), entries)
		if d.path == p {
			result = entries
		}
		if stale || len(f.dirKey(d.path)) > maxKeyLen {
			return
		}
		f.keepKnownAttrs(d.path, entries)
		f.mu.Lock() // see remoteStat
		defer f.mu.Unlock()
		if !f.q.DirStable(prefix, epoch) {
			stale = true // OSS may have answered from before a change: cache nothing more
			return
		}
		if err := f.cache.PutListing(d.path, entries); err != nil {
			f.log.Warn("cache listing", "dir", d.path, "err", err)
		}
	}
	err := f.client.List(ctx, prefix, "", func(page ossio.Page) error {
		for _, o := range page.Objects {
			rel := strings.TrimPrefix(o.Key, prefix)
			if rel == "" {
				open[0].marker = o // p's own
				continue
			}
			parts := strings.Split(rel, "/")
			name := parts[len(parts)-1] // "" for a marker "a/b/"
			dirs := parts[:len(parts)-1]
			if !validPath(dirs) || name != "" && !validRemoteName(name) {
				f.log.Warn("skipping a key that cannot be a path", "key", o.Key)
				continue
			}
			dir := p
			if len(dirs) > 0 {
				dir = joinPath(p, strings.Join(dirs, "/"))
			}
			for len(open) > 1 && !inside(dir, open[len(open)-1].path) {
				closeTop()
			}
			// Open the directories between the top and the key's own.
			for top := open[len(open)-1]; top.path != dir; top = open[len(open)-1] {
				rest := strings.TrimPrefix(strings.TrimPrefix(dir, top.path), "/")
				child, _, _ := strings.Cut(rest, "/")
				if e, dup := top.entries[child]; dup && !e.IsDir {
					f.log.Warn("key is both an object and a directory; showing the directory", "key", f.key(joinPath(top.path, child)))
				}
				top.entries[child] = metacache.Entry{Name: child, IsDir: true, Mtime: time.Now()}
				open = append(open, &openDir{path: joinPath(top.path, child), entries: map[string]metacache.Entry{}})
			}
			if name == "" {
				open[len(open)-1].marker = o // a marker: its directory is open now
				continue
			}
			top := open[len(open)-1]
			if e, dup := top.entries[name]; !dup || !e.IsDir {
				top.entries[name] = objectEntry(name, o)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	for len(open) > 0 {
		closeTop()
	}
	return result, nil
}

// inside reports whether directory d is dir or below it.
func inside(d, dir string) bool {
	_, ok := cutPath(d, dir)
	return ok
}

// validPath reports whether every directory name of a key can be shown.
func validPath(dirs []string) bool {
	for _, d := range dirs {
		if !validRemoteName(d) {
			return false
		}
	}
	return true
}
