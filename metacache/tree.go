package metacache

import (
	"fmt"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// DeleteTree forgets path's entry, its listing, and every entry and listing
// below it (a directory renamed or removed). Siblings sharing a name prefix
// ("ab" next to "a") are untouched. The parent's listing is not changed:
// that is RemoveChild's or SetChild's job. DeleteTree("") empties the
// metadata cache; the journal is never touched.
func (c *Cache) DeleteTree(path string) error {
	if err := checkPath(path); err != nil {
		return fmt.Errorf("delete tree: %w", err)
	}
	// Holding path's own stripe keeps a concurrent PutListing(path) from
	// interleaving; listings deeper down may race, as any remote listing
	// fetched before a rename would.
	mu := c.dirLock(path)
	mu.Lock()
	defer mu.Unlock()
	if err := c.deleteTree(path); err != nil {
		return fmt.Errorf("delete tree %q: %w", path, err)
	}
	return nil
}

// treeRanges returns the exact keys and key prefixes that make up the
// subtree at path (see the key schema in keys.go). Headers come first so
// that listings turn into Misses before their children vanish.
func treeRanges(path string) (exact, prefixes [][]byte) {
	if path == "" {
		return nil, [][]byte{{tagHeader}, {tagListing}, {tagEntry}}
	}
	below := path + "/"
	exact = [][]byte{headerKey(path), entryKey(path)}
	prefixes = [][]byte{
		tagged(tagHeader, below),
		listingPrefix(path),
		tagged(tagListing, below),
		tagged(tagEntry, below),
	}
	return exact, prefixes
}

// DeleteTreeExcept is DeleteTree, but what is cached at and below the
// children of path named in keep stays (path's own listing goes whole): a
// directory made again whose old contents are forgotten, but for entries
// moved into it meanwhile.
func (c *Cache) DeleteTreeExcept(path string, keep []string) error {
	if err := checkPath(path); err != nil {
		return fmt.Errorf("delete tree: %w", err)
	}
	mu := c.dirLock(path)
	mu.Lock()
	defer mu.Unlock()
	if err := c.deleteTreeExcept(path, keep); err != nil {
		return fmt.Errorf("delete tree %q: %w", path, err)
	}
	return nil
}

func (c *Cache) deleteTree(path string) error { return c.deleteTreeExcept(path, nil) }

// kept reports whether key, of the subtree at path, lies at or below one
// of the children of path named in keep.
func kept(key []byte, path string, keep []string) bool {
	if len(keep) == 0 {
		return false
	}
	p := string(key[1:])
	if key[0] == tagListing {
		dir, name, _ := strings.Cut(p, string(rune(listingSep)))
		if dir == path {
			return false // path's own listing
		}
		p = joinPath(dir, name)
	}
	for _, k := range keep {
		base := joinPath(path, k)
		if p == base || strings.HasPrefix(p, base+"/") {
			return true
		}
	}
	return false
}

func (c *Cache) deleteTreeExcept(path string, keep []string) error {
	exact, prefixes := treeRanges(path)
	wb := c.meta.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range exact {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	err := c.meta.View(func(txn *badger.Txn) error {
		for _, prefix := range prefixes {
			it := c.newIterator(txn, prefix)
			for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
				if kept(it.Item().Key(), path, keep) {
					continue
				}
				if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
					it.Close()
					return err
				}
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan subtree: %w", err)
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("delete subtree: %w", err)
	}
	c.touchTree(path)
	return nil
}

// MoveTree moves everything cached at and below src (entries, listings,
// negative entries) to the same names below dst, after forgetting what was
// cached at and below dst: a directory move carried out in OSS. The parents'
// listings are not changed: that is RemoveChild's and SetChild's job.
func (c *Cache) MoveTree(src, dst string) error {
	if err := checkPath(src); err != nil {
		return fmt.Errorf("move tree: %w", err)
	}
	if err := checkPath(dst); err != nil {
		return fmt.Errorf("move tree: %w", err)
	}
	if src == "" || dst == "" || src == dst {
		return fmt.Errorf("move tree %q to %q: not a move between two directories", src, dst)
	}
	if err := c.DeleteTree(dst); err != nil {
		return err
	}
	type kv struct{ k, v []byte }
	var moved []kv
	exact, prefixes := treeRanges(src)
	err := c.meta.View(func(txn *badger.Txn) error {
		take := func(item *badger.Item) error {
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			moved = append(moved, kv{item.KeyCopy(nil), v})
			return nil
		}
		for _, k := range exact {
			item, err := txn.Get(k)
			if err == nil {
				err = take(item)
			}
			if err != nil && err != badger.ErrKeyNotFound {
				return err
			}
		}
		for _, prefix := range prefixes {
			it := c.newIterator(txn, prefix)
			for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
				if err := take(it.Item()); err != nil {
					it.Close()
					return err
				}
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("move tree %q: scan: %w", src, err)
	}
	wb := c.meta.NewWriteBatch()
	defer wb.Cancel()
	for _, m := range moved {
		// Every key of the subtree is a tag, then src, then the rest.
		nk := append(append([]byte{m.k[0]}, dst...), m.k[1+len(src):]...)
		if err := wb.Set(nk, m.v); err != nil {
			return err
		}
		if err := wb.Delete(m.k); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("move tree %q to %q: %w", src, dst, err)
	}
	return nil
}
