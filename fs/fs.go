// Package fs presents an OSS bucket prefix as a POSIX tree over FUSE.
//
// The local view of the tree is three layers, read top down:
//   - staged files (files): written through the mount, held in staging files
//     under the cache directory; their data and attributes are local;
//   - the index (index.go): every name a local change created, removed or
//     moved and OSS does not show yet, held until the ops that carry the
//     change out (the writeback queue) have run; it decides whether a name
//     exists and where in OSS its bytes are for now;
//   - the metadata cache (metacache): what OSS is known to hold, refreshed
//     after the stat TTL, never for content-addressed blobs.
//
// Only this package imports go-fuse or speaks errno (see errno.go).
package fs

import (
	"cmp"
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/ossmount/ossmount/fs/writeback"
	"github.com/ossmount/ossmount/metacache"
	"github.com/ossmount/ossmount/ossio"
)

// Options configures a filesystem.
type Options struct {
	Client      *ossio.Client
	Cache       *metacache.Cache
	Prefix      string // key prefix of the mount: "" or "a/b/"
	CacheDir    string // staging files live in CacheDir/staging
	UploadDelay time.Duration
	StatTTL     time.Duration // how long a clean staged copy may stand for the object
	CacheSize   int64         // bytes of clean staged copies kept
	FsyncRemote bool          // fsync of a file also waits for its upload
	UID, GID    uint32
	Umask       uint32
	ReadOnly    bool
	Workers     int
	KernelFiles int // file names the kernel may hold before the oldest are forgotten (evict.go); 0: maxKernelFiles
	Logger      *slog.Logger
}

// FS is the mounted filesystem's state.
type FS struct {
	opt        Options
	log        *slog.Logger
	client     *ossio.Client
	cache      *metacache.Cache
	q          *writeback.Queue
	stagingDir string
	started    time.Time // mtime of directories OSS gives none for

	mu      sync.Mutex
	files   map[string]*file         // GUARDED_BY(mu): staged files by path
	tables  map[string]*writeback.Op // GUARDED_BY(mu): the latest attribute-table rewrite queued, by directory (attrtable.go)
	ix      *index                   // GUARDED_BY(mu): local changes OSS does not show yet (index.go)
	walks   walks                    // directories listed lately (walk.go)
	refresh *revalidator             // listings refreshed in the background (revalidate.go)
	evict   *evictor                 // file names the kernel holds, to forget past a bound (evict.go)
	// clean lists staged files whose bytes OSS holds, most recently used
	// first (see clean.go).
	clean      list.List // GUARDED_BY(mu)
	cleanBytes int64     // GUARDED_BY(mu)
	reap       []*file   // GUARDED_BY(mu): dropped, staging file not yet removed (see reapLocked)

	seq uint64 // GUARDED_BY(mu): names staging files
}

// New builds the filesystem, replays the journal a previous run left in the
// cache directory and starts carrying out pending changes.
func New(opt Options) (*FS, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Prefix != "" && !strings.HasSuffix(opt.Prefix, "/") {
		opt.Prefix += "/"
	}
	f := &FS{
		opt:        opt,
		log:        opt.Logger,
		client:     opt.Client,
		cache:      opt.Cache,
		stagingDir: path.Join(opt.CacheDir, "staging"),
		files:      map[string]*file{},
		tables:     map[string]*writeback.Op{},
		ix:         newIndex(),
		refresh:    newRevalidator(),
		evict:      newEvictor(cmp.Or(opt.KernelFiles, maxKernelFiles)),
		started:    time.Now(),
		seq:        uint64(time.Now().UnixNano()),
	}
	if err := os.MkdirAll(f.stagingDir, 0o700); err != nil {
		return nil, fmt.Errorf("staging directory: %w", err)
	}
	exec := &writeback.Executor{Client: opt.Client, Logger: opt.Logger}
	f.q = writeback.New(writeback.Config{
		Journal: opt.Cache,
		Delay:   opt.UploadDelay,
		Workers: opt.Workers,
		Logger:  opt.Logger,
		OnDone: func(op *writeback.Op) {
			if op.Kind == writeback.Put {
				f.mu.Lock()
				f.reapLocked() // its staging file may be free now
				f.mu.Unlock()
			}
		},
		Run: func(ctx context.Context, op *writeback.Op) error {
			if !f.markerNeeded(ctx, op) {
				f.applied(op)
				return nil
			}
			run := exec.Run
			if op.Kind == writeback.Marker {
				run = f.writeMarker
			}
			if err := run(ctx, op); err != nil {
				return err
			}
			f.applied(op)
			return nil
		},
	})
	exec.Queue = f.q
	ops, err := f.q.Replay()
	if err != nil {
		return nil, err
	}
	f.restore(ops)
	if len(ops) > 0 {
		f.log.Info("finishing changes journaled by an earlier run", "ops", len(ops))
	}
	f.q.Start()
	return f, nil
}

// Flush carries out every pending change, waiting at most until ctx ends.
func (f *FS) Flush(ctx context.Context) error { return f.q.Drain(ctx) }

// Pending is the number of changes not yet carried out in OSS.
func (f *FS) Pending() int { return f.q.Len() }

// Close stops background work; pending changes stay journaled.
func (f *FS) Close() {
	f.refresh.close()
	f.q.Close()
}

// key maps a mount path ("" for the root) to its object key.
func (f *FS) key(p string) string { return f.opt.Prefix + p }

// dirKey is the key prefix of directory p's entries ("" or "a/b/").
func (f *FS) dirKey(p string) string {
	if p == "" {
		return f.opt.Prefix
	}
	return f.opt.Prefix + p + "/"
}

// pathOf maps a key under the prefix back to a mount path.
func (f *FS) pathOf(key string) (string, bool) {
	if !strings.HasPrefix(key, f.opt.Prefix) {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(key, f.opt.Prefix), "/"), true
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func splitPath(p string) (dir, name string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}
