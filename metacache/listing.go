package metacache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Listing returns dir's complete cached listing, sorted by name: Fresh while
// younger than StatTTL, then Stale; Miss when it was never cached or was
// invalidated.
func (c *Cache) Listing(dir string) ([]Entry, Status) {
	var (
		fetched time.Time
		found   bool
		entries []Entry
	)
	err := c.meta.View(func(txn *badger.Txn) error {
		item, err := txn.Get(headerKey(dir))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error {
			fetched, err = decodeHeader(v)
			return err
		}); err != nil {
			return err
		}
		prefix := listingPrefix(dir)
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false // values are inline in the LSM tree; read them in place
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			name := string(item.Key()[len(prefix):])
			if err := item.Value(func(v []byte) error {
				r, err := decodeRecord(v, name)
				if err != nil {
					return fmt.Errorf("child %q: %w", name, err)
				}
				entries = append(entries, r.entry)
				return nil
			}); err != nil {
				return err
			}
		}
		found = true
		return nil
	})
	if err != nil {
		c.log.Warn("metadata cache listing failed; treating as a miss", "dir", dir, "err", err)
		return nil, Miss
	}
	if !found {
		return nil, Miss
	}
	if c.expired(c.now().Sub(fetched)) {
		return entries, Stale
	}
	return entries, Fresh
}

// PutListing stores entries as dir's complete listing, fetched now. It
// replaces the previous listing and Puts every child's entry. Children of
// the previous listing that are gone are forgotten (Miss), with everything
// cached below them. The writes are batched; while they are in progress the
// listing reads as a Miss, never as a mixture of old and new.
func (c *Cache) PutListing(dir string, entries []Entry) error {
	if err := checkPath(dir); err != nil {
		return fmt.Errorf("put listing: %w", err)
	}
	keep := make(map[string]struct{}, len(entries))
	for i := range entries {
		if err := checkName(entries[i].Name); err != nil {
			return fmt.Errorf("put listing %q: %w", dir, err)
		}
		keep[entries[i].Name] = struct{}{}
	}
	if err := c.putListing(dir, entries, keep); err != nil {
		return fmt.Errorf("put listing %q: %w", dir, err)
	}
	return nil
}

func (c *Cache) putListing(dir string, entries []Entry, keep map[string]struct{}) error {
	now := c.now()
	mu := c.dirLock(dir)
	mu.Lock()
	defer mu.Unlock()

	hk := headerKey(dir)
	if err := c.meta.Update(func(txn *badger.Txn) error { return txn.Delete(hk) }); err != nil {
		return fmt.Errorf("drop header: %w", err)
	}
	gone, goneDirs, err := c.oldChildren(dir, keep)
	if err != nil {
		return err
	}
	wb := c.meta.NewWriteBatch()
	defer wb.Cancel()
	for _, name := range gone {
		if err := wb.Delete(listingKey(dir, name)); err != nil {
			return err
		}
		if err := wb.Delete(entryKey(joinPath(dir, name))); err != nil {
			return err
		}
	}
	for i := range entries {
		e := &entries[i]
		rec := encodeAttrs(e, now)
		if err := wb.Set(listingKey(dir, e.Name), rec); err != nil {
			return err
		}
		if err := wb.Set(entryKey(joinPath(dir, e.Name)), rec); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("write children: %w", err)
	}
	for _, name := range goneDirs {
		if err := c.deleteTree(joinPath(dir, name)); err != nil {
			return err
		}
	}
	if err := c.meta.Update(func(txn *badger.Txn) error { return txn.Set(hk, encodeHeader(now)) }); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	return nil
}

// oldChildren returns the children in dir's stored listing that are not in
// keep, and which of those were directories.
func (c *Cache) oldChildren(dir string, keep map[string]struct{}) (gone, goneDirs []string, err error) {
	err = c.meta.View(func(txn *badger.Txn) error {
		prefix := listingPrefix(dir)
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			name := string(item.Key()[len(prefix):])
			if _, ok := keep[name]; ok {
				continue
			}
			gone = append(gone, name)
			isDir := false
			_ = item.Value(func(v []byte) error {
				r, err := decodeRecord(v, name)
				isDir = err == nil && r.entry.IsDir
				return nil
			})
			if isDir {
				goneDirs = append(goneDirs, name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("scan old listing: %w", err)
	}
	return gone, goneDirs, nil
}

// SetChild records a local change: e.Name in dir now has attributes e. It
// is added to or replaced in dir's cached listing if there is one (keeping
// the listing's fetch time), and dir/e.Name is Put.
func (c *Cache) SetChild(dir string, e Entry) error {
	if err := checkPath(dir); err != nil {
		return fmt.Errorf("set child: %w", err)
	}
	if err := checkName(e.Name); err != nil {
		return fmt.Errorf("set child in %q: %w", dir, err)
	}
	path := joinPath(dir, e.Name)
	if err := c.put(path, &e); err != nil {
		return fmt.Errorf("set child %q: %w", path, err)
	}
	return nil
}

// RemoveChild records a local removal: name is dropped from dir's cached
// listing (if any) and dir/name is recorded as Negative.
func (c *Cache) RemoveChild(dir, name string) error {
	if err := checkPath(dir); err != nil {
		return fmt.Errorf("remove child: %w", err)
	}
	if err := checkName(name); err != nil {
		return fmt.Errorf("remove child from %q: %w", dir, err)
	}
	if err := c.removeChild(dir, name); err != nil {
		return fmt.Errorf("remove child %q: %w", joinPath(dir, name), err)
	}
	return nil
}

func (c *Cache) removeChild(dir, name string) error {
	path := joinPath(dir, name)
	mu := c.dirLock(dir)
	mu.Lock()
	defer mu.Unlock()
	return c.meta.Update(func(txn *badger.Txn) error {
		// Unconditional: without a header the key is at most an orphan.
		if err := txn.Delete(listingKey(dir, name)); err != nil {
			return err
		}
		if c.opt.NegativeTTL < 0 {
			return txn.Delete(entryKey(path))
		}
		return txn.Set(entryKey(path), encodeNegative(c.now()))
	})
}

// InvalidateListing makes the next Listing(dir) a Miss. Child entries are
// kept: each has its own freshness.
func (c *Cache) InvalidateListing(dir string) error {
	mu := c.dirLock(dir)
	mu.Lock()
	defer mu.Unlock()
	if err := c.meta.Update(func(txn *badger.Txn) error { return txn.Delete(headerKey(dir)) }); err != nil {
		return fmt.Errorf("invalidate listing %q: %w", dir, err)
	}
	return nil
}

// The header value is the fetch time in Unix nanoseconds, as a varint.
func encodeHeader(fetched time.Time) []byte {
	return binary.AppendVarint(nil, fetched.UnixNano())
}

func decodeHeader(b []byte) (time.Time, error) {
	v, n := binary.Varint(b)
	if n <= 0 || n != len(b) {
		return time.Time{}, fmt.Errorf("%w: listing header", errBadRecord)
	}
	return time.Unix(0, v), nil
}
