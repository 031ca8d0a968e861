package metacache

import (
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Lookup returns what is cached about path. A negative entry is Negative
// while younger than NegativeTTL, then Miss. Attributes are Fresh until
// StatTTL has passed, then Stale (the entry is still returned, for
// revalidation); attributes of an IsImmutable path never go Stale.
func (c *Cache) Lookup(path string) (Entry, Status) {
	var r record
	found := false
	err := c.meta.View(func(txn *badger.Txn) error {
		item, err := c.get(txn, entryKey(path))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		_, name := splitPath(path)
		return item.Value(func(v []byte) error {
			r, err = decodeRecord(v, name)
			found = err == nil
			return err
		})
	})
	if err != nil {
		c.log.Warn("metadata cache lookup failed; treating as a miss", "path", path, "err", err)
		return Entry{}, Miss
	}
	if !found {
		return Entry{}, Miss
	}
	age := c.now().Sub(r.seen)
	if r.negative {
		if c.opt.NegativeTTL > 0 && age < c.opt.NegativeTTL {
			return Entry{}, Negative
		}
		return Entry{}, Miss
	}
	if IsImmutable(path) || !c.expired(age) {
		return r.entry, Fresh
	}
	return r.entry, Stale
}

// expired reports whether something seen age ago is past StatTTL.
func (c *Cache) expired(age time.Duration) bool {
	return c.opt.StatTTL < 0 || age > c.opt.StatTTL
}

// Put records e as path's attributes, seen now (a remote fetch or a local
// change); e.Name is ignored. If the parent's listing is cached, the child
// is added or replaced there too (keeping the listing's fetch time), so that
// Lookup and Listing never disagree about a path seen to exist.
func (c *Cache) Put(path string, e Entry) error {
	if err := checkPath(path); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := c.put(path, &e); err != nil {
		return fmt.Errorf("put %q: %w", path, err)
	}
	return nil
}

func (c *Cache) put(path string, e *Entry) error {
	rec := encodeAttrs(e, c.now())
	if path == "" { // the root has no parent listing
		return c.meta.Update(func(txn *badger.Txn) error { return txn.Set(entryKey(path), rec) })
	}
	dir, name := splitPath(path)
	mu := c.dirLock(dir)
	mu.Lock()
	defer mu.Unlock()
	c.touch(dir, name)
	return c.meta.Update(func(txn *badger.Txn) error {
		if err := txn.Set(entryKey(path), rec); err != nil {
			return err
		}
		if ok, err := hasKey(txn, headerKey(dir)); err != nil || !ok {
			return err
		}
		return txn.Set(listingKey(dir, name), rec)
	})
}

// PutNegative records that path was seen not to exist, now. If the parent's
// listing is cached, path is dropped from it. With NegativeTTL < 0 the entry
// is forgotten instead.
func (c *Cache) PutNegative(path string) error {
	if err := checkPath(path); err != nil {
		return fmt.Errorf("put negative: %w", err)
	}
	if path == "" {
		return fmt.Errorf("put negative: the root always exists")
	}
	dir, name := splitPath(path)
	if err := c.removeChild(dir, name); err != nil {
		return fmt.Errorf("put negative %q: %w", path, err)
	}
	return nil
}

// Delete forgets path's entry (positive or negative): the next Lookup is a
// Miss. Listings are left alone.
func (c *Cache) Delete(path string) error {
	err := c.meta.Update(func(txn *badger.Txn) error { return txn.Delete(entryKey(path)) })
	if err != nil {
		return fmt.Errorf("delete %q: %w", path, err)
	}
	return nil
}

func hasKey(txn *badger.Txn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}
