package metacache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrLocked is wrapped by Open's error when another process (or another Open
// in this one) holds the cache directory.
var ErrLocked = errors.New("cache dir locked")

type lockedError struct{ dir string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("cache dir %s: another ossmount uses that cache dir", e.dir)
}
func (e *lockedError) Unwrap() error { return ErrLocked }

// Cache is an open cache directory. All methods are safe for concurrent use.
type Cache struct {
	opt     Options
	log     *slog.Logger
	meta    *badger.DB // attributes and listings; asynchronous writes
	journal *badger.DB // write-back journal; SyncWrites
	lock    *os.File   // flock'd cache directory; released by Close

	// dirMu serialises the read-modify-write of one directory's listing
	// (PutListing against SetChild/RemoveChild/Put of a child), striped by a
	// hash of the directory path. A goroutine holds at most one stripe, so
	// there is no lock order to respect.
	dirMu [64]sync.Mutex
	seed  maphash.Seed

	// listMu serialises PutListing of one directory (same striping as
	// dirMu; taken before dirMu). PutListing holds dirMu only to drop the
	// header at its start and to write it at its end, not while it writes
	// the children, so that SetChild, RemoveChild and Put of a child (of
	// that directory, or of another on the same stripe) are not held up by
	// a large listing. Readers take neither lock.
	listMu [64]sync.Mutex

	// pending holds, for each directory whose PutListing is writing its
	// children without dirMu, a note that a change to that directory's
	// listing (Put, SetChild, RemoveChild, PutNegative, InvalidateListing,
	// DeleteTree) happened meanwhile; PutListing then rewrites under dirMu.
	pendMu  sync.Mutex
	pending map[string]*listingWrite

	// afterChildren, when set (tests only), runs in PutListing after the
	// unlocked write of the children, before dirMu is taken again.
	afterChildren func(dir string)

	// Counters of Badger work, for tests that assert the cost of an
	// operation without timing it.
	nGets  atomic.Int64 // point reads (txn.Get) by readers
	nIters atomic.Int64 // iterators opened, by readers and writers

	stop      chan struct{} // closed by Close: ends the GC loop
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the cache in dir (created 0700). A second Open of the
// same dir while the first is open, from any process, fails with an error
// wrapping ErrLocked.
func Open(dir string, opt Options) (*Cache, error) {
	opt = opt.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cache dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		opt: opt, log: opt.Logger, lock: lock, seed: maphash.MakeSeed(),
		pending: make(map[string]*listingWrite), stop: make(chan struct{}),
	}
	c.meta, err = badger.Open(metaOptions(filepath.Join(dir, "meta"), opt.Logger))
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open metadata cache in %s: %w", dir, err)
	}
	if err := c.checkSchema(); err != nil {
		c.meta.Close()
		lock.Close()
		return nil, fmt.Errorf("open metadata cache in %s: %w", dir, err)
	}
	c.journal, err = badger.Open(journalOptions(filepath.Join(dir, "journal"), opt.Logger))
	if err != nil {
		c.meta.Close()
		lock.Close()
		return nil, fmt.Errorf("open journal in %s: %w", dir, err)
	}
	c.wg.Add(1)
	go c.gcLoop()
	return c, nil
}

// lockDir takes an exclusive flock on the cache directory itself. Badger
// locks its own subdirectories too, but its error does not wrap the errno,
// and ours must say in one line what is wrong. flock locks belong to the open
// file description, so a second Open in the same process is refused as well.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open cache dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &lockedError{dir: dir}
		}
		return nil, fmt.Errorf("lock cache dir %s: %w", dir, err)
	}
	return f, nil
}

// checkSchema drops the metadata database when it was written with another
// key schema: it is only a cache, and a wrong decode is worse than a refetch.
// The journal is never dropped.
func (c *Cache) checkSchema() error {
	var have []byte
	err := c.meta.View(func(txn *badger.Txn) error {
		it, err := txn.Get(schemaKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		have, err = it.ValueCopy(nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if string(have) == schemaVersion {
		return nil
	}
	if have != nil {
		c.log.Warn("metadata cache has another schema version; dropping it", "have", string(have), "want", schemaVersion)
		if err := c.meta.DropAll(); err != nil {
			return fmt.Errorf("drop old schema: %w", err)
		}
	}
	return c.meta.Update(func(txn *badger.Txn) error {
		return txn.Set(schemaKey, []byte(schemaVersion))
	})
}

// Close stops the background work and closes both databases. Pending cache
// writes are flushed by Badger; journal writes already were.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		c.wg.Wait()
		var errs []error
		if err := c.journal.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close journal: %w", err))
		}
		if err := c.meta.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close metadata cache: %w", err))
		}
		if err := c.lock.Close(); err != nil { // closing the descriptor drops the flock
			errs = append(errs, fmt.Errorf("unlock cache dir: %w", err))
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// gcLoop offers both value logs to Badger's GC until Close.
func (c *Cache) gcLoop() {
	defer c.wg.Done()
	t := time.NewTicker(gcInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.runGC(c.meta, "meta")
			c.runGC(c.journal, "journal")
		}
	}
}

func (c *Cache) runGC(db *badger.DB, name string) {
	for i := 0; i < 16; i++ { // bounded so that Close never waits long
		select {
		case <-c.stop:
			return
		default:
		}
		err := db.RunValueLogGC(0.5)
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			c.log.Warn("value log GC failed", "db", name, "err", err)
		}
		return
	}
}

// dirLock returns the stripe guarding dir's listing.
func (c *Cache) dirLock(dir string) *sync.Mutex {
	return &c.dirMu[c.stripe(dir)]
}

// listLock returns the stripe serialising PutListing of dir.
func (c *Cache) listLock(dir string) *sync.Mutex {
	return &c.listMu[c.stripe(dir)]
}

func (c *Cache) stripe(dir string) uint64 {
	return maphash.String(c.seed, dir) % uint64(len(c.dirMu))
}

// get is txn.Get, counted.
func (c *Cache) get(txn *badger.Txn, key []byte) (*badger.Item, error) {
	c.nGets.Add(1)
	return txn.Get(key)
}

// newIterator opens a key-only-prefetch iterator over prefix, counted.
// Values are inline in the LSM tree; they are read in place.
func (c *Cache) newIterator(txn *badger.Txn, prefix []byte) *badger.Iterator {
	c.nIters.Add(1)
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	return txn.NewIterator(opts)
}

func (c *Cache) now() time.Time { return c.opt.Now() }
