package metacache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Listing returns dir's complete cached listing, sorted by name: Fresh while
// younger than StatTTL, then Stale; Miss when it was never cached or was
// invalidated. It reads every entry; Child answers for one name, and
// ListingPage streams a large listing.
func (c *Cache) Listing(dir string) ([]Entry, Status) {
	var (
		fetched time.Time
		found   bool
		entries []Entry
	)
	err := c.meta.View(func(txn *badger.Txn) error {
		var err error
		if fetched, found, err = c.header(txn, dir); err != nil || !found {
			return err
		}
		_, _, err = c.scan(txn, dir, "", 0, func(e Entry) bool {
			entries = append(entries, e)
			return true
		})
		return err
	})
	if err != nil {
		c.log.Warn("metadata cache listing failed; treating as a miss", "dir", dir, "err", err)
		return nil, Miss
	}
	if !found {
		return nil, Miss
	}
	return entries, c.listingStatus(fetched)
}

func (c *Cache) listingStatus(fetched time.Time) Status {
	if c.expired(c.now().Sub(fetched)) {
		return Stale
	}
	return Fresh
}

// Child answers a lookup of name in dir from dir's cached listing alone,
// with two point reads whatever the size of the listing:
//
//   - Miss when dir's listing is not cached (never listed, invalidated, or
//     being replaced by PutListing);
//   - name in the listing: Fresh while the child was seen less than StatTTL
//     ago (always, for an IsImmutable path), else Stale, with the entry.
//     A child is seen when the listing was fetched, or later when SetChild
//     or Put recorded it;
//   - name not in the listing: Negative while the listing is younger than
//     NegativeTTL (an absence is trusted no longer than a negative entry;
//     never with NegativeTTL < 0), then StaleNegative while it is younger
//     than StatTTL, then Miss.
//
// Child does not consult path's own entry (Lookup does); the two agree
// while the listing is cached, as every change to a child updates both.
func (c *Cache) Child(dir, name string) (Entry, Status) {
	if checkPath(dir) != nil || checkName(name) != nil {
		return Entry{}, Miss
	}
	var (
		fetched       time.Time
		listed, found bool
		r             record
	)
	err := c.meta.View(func(txn *badger.Txn) error {
		var err error
		if fetched, listed, err = c.header(txn, dir); err != nil || !listed {
			return err
		}
		item, err := c.get(txn, listingKey(dir, name))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			r, err = decodeRecord(v, name)
			if err == nil && r.negative {
				err = fmt.Errorf("%w: negative record in a listing", errBadRecord)
			}
			found = err == nil
			return err
		})
	})
	if err != nil {
		c.log.Warn("metadata cache child lookup failed; treating as a miss", "dir", dir, "name", name, "err", err)
		return Entry{}, Miss
	}
	if !listed {
		return Entry{}, Miss
	}
	now := c.now()
	if !found {
		switch age := now.Sub(fetched); {
		case c.opt.NegativeTTL <= 0:
			return Entry{}, Miss
		case age < c.opt.NegativeTTL:
			return Entry{}, Negative
		case !c.expired(age):
			return Entry{}, StaleNegative
		}
		return Entry{}, Miss
	}
	// A child's record may be older than the header: PutListing leaves
	// unchanged records in place, and the listing confirmed them when it
	// was fetched. A record written after the fetch is younger.
	seen := r.seen
	if fetched.After(seen) {
		seen = fetched
	}
	if IsImmutable(joinPath(dir, name)) || !c.expired(now.Sub(seen)) {
		return r.entry, Fresh
	}
	return r.entry, Stale
}

// ListingAge returns when dir's cached listing was fetched, reading only
// its header; ok is false when the listing is not cached (Listing would
// answer Miss).
func (c *Cache) ListingAge(dir string) (fetched time.Time, ok bool) {
	err := c.meta.View(func(txn *badger.Txn) error {
		var err error
		fetched, ok, err = c.header(txn, dir)
		return err
	})
	if err != nil {
		c.log.Warn("metadata cache listing header read failed; treating as a miss", "dir", dir, "err", err)
		return time.Time{}, false
	}
	return fetched, ok
}

// Page is what ListingPage reports about one page.
type Page struct {
	// Status is the listing's, as Listing would answer: Fresh or Stale,
	// or Miss when it is not cached (then fn was not called).
	Status Status
	// Fetched is when the listing was fetched. Pages of one listing all
	// carry the same time; another time means that the listing was
	// replaced between two pages, and a caller that must not mix two
	// listings starts again. (SetChild and RemoveChild change a listing in
	// place, as a live directory changes under a reader.)
	Fetched time.Time
	// Last is the name of the last entry passed to fn, "" if none: the
	// next page's after.
	Last string
	// More reports whether the listing has entries after Last.
	More bool
}

// ListingPage streams dir's cached listing in name order: it calls fn for
// each entry whose name sorts after after ("" from the start), until limit
// entries were passed (limit <= 0: no limit) or fn returns false. One page
// is read from one consistent snapshot and each entry is decoded once;
// fn runs inside a Badger read transaction, so it should not block (it may
// call other Cache methods). On an error the page has Status Miss; fn may
// have been called for some entries already.
func (c *Cache) ListingPage(dir, after string, limit int, fn func(Entry) bool) (Page, error) {
	var p Page
	found := false
	err := c.meta.View(func(txn *badger.Txn) error {
		var err error
		if p.Fetched, found, err = c.header(txn, dir); err != nil || !found {
			return err
		}
		p.Last, p.More, err = c.scan(txn, dir, after, limit, fn)
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("listing page of %q: %w", dir, err)
	}
	if !found {
		return Page{}, nil
	}
	p.Status = c.listingStatus(p.Fetched)
	return p, nil
}

// header reads dir's listing header: its fetch time, and whether it exists.
func (c *Cache) header(txn *badger.Txn, dir string) (fetched time.Time, ok bool, err error) {
	item, err := c.get(txn, headerKey(dir))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	err = item.Value(func(v []byte) error {
		fetched, err = decodeHeader(v)
		return err
	})
	return fetched, err == nil, err
}

// scan calls fn for the children of dir's listing after after, in name
// order, up to limit of them (<= 0: all) or until fn returns false. It
// returns the last name passed to fn and whether more children follow.
func (c *Cache) scan(txn *badger.Txn, dir, after string, limit int, fn func(Entry) bool) (last string, more bool, err error) {
	prefix := listingPrefix(dir)
	it := c.newIterator(txn, prefix)
	defer it.Close()
	start := prefix
	if after != "" {
		// Names hold no 0x00, so after+0x00 is the least key past after.
		start = append(append(append([]byte(nil), prefix...), after...), listingSep)
	}
	n := 0
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		if limit > 0 && n >= limit {
			return last, true, nil
		}
		item := it.Item()
		name := string(item.Key()[len(prefix):])
		var e Entry
		if err := item.Value(func(v []byte) error {
			r, err := decodeRecord(v, name)
			if err != nil {
				return fmt.Errorf("child %q: %w", name, err)
			}
			e = r.entry
			return nil
		}); err != nil {
			return last, false, err
		}
		last = name
		n++
		if !fn(e) {
			it.Next()
			return last, it.ValidForPrefix(prefix), nil
		}
	}
	return last, false, nil
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
	keep := make(map[string]int, len(entries))
	for i := range entries {
		if err := checkName(entries[i].Name); err != nil {
			return fmt.Errorf("put listing %q: %w", dir, err)
		}
		keep[entries[i].Name] = i // a repeated name: the last one wins, as it would in Badger
	}
	if err := c.putListing(dir, entries, keep); err != nil {
		return fmt.Errorf("put listing %q: %w", dir, err)
	}
	return nil
}

// listingWrite notes that dir's listing was changed while PutListing was
// writing its children without dirMu (guarded by Cache.pendMu), and which
// children were Put meanwhile.
type listingWrite struct {
	dirty bool
	put   map[string]struct{}
}

// putListing replaces dir's listing in three steps:
//
//  1. under dirMu: delete the header (the listing now reads as a Miss, and
//     Put/SetChild stop adding children to it) and register a listingWrite;
//  2. without dirMu: write the children and forget the gone ones;
//  3. under dirMu: if nothing changed dir's listing during step 2, write
//     the header; otherwise do step 2 again, under dirMu, first.
//
// Step 3's check is what keeps a concurrent local change from being lost
// or half applied: a Put during step 2 found no header and so wrote only
// the child's entry, a RemoveChild may have deleted a child key step 2 had
// just written, and so on. Redoing the write under dirMu orders
// PutListing after every such change, as holding dirMu throughout would.
// listMu keeps two PutListings of one directory from overlapping.
func (c *Cache) putListing(dir string, entries []Entry, keep map[string]int) error {
	now := c.now()
	lm := c.listLock(dir)
	lm.Lock()
	defer lm.Unlock()
	mu := c.dirLock(dir)

	hk := headerKey(dir)
	w := &listingWrite{}
	mu.Lock()
	err := c.meta.Update(func(txn *badger.Txn) error { return txn.Delete(hk) })
	if err == nil {
		c.pendMu.Lock()
		c.pending[dir] = w
		c.pendMu.Unlock()
	}
	mu.Unlock()
	if err != nil {
		return fmt.Errorf("drop header: %w", err)
	}
	defer func() {
		c.pendMu.Lock()
		delete(c.pending, dir)
		c.pendMu.Unlock()
	}()

	err = c.writeChildren(dir, entries, keep, now)
	if c.afterChildren != nil {
		c.afterChildren(dir)
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return err // the header stays deleted: a Miss
	}
	c.pendMu.Lock()
	dirty, put := w.dirty, w.put
	c.pendMu.Unlock()
	if dirty {
		if err := c.writeChildren(dir, entries, keep, now); err != nil {
			return err
		}
		// A child Put meanwhile found no header, so it has no listing key
		// for writeChildren to find. Had the Put come before PutListing
		// took the header away, the child would be forgotten if it is
		// not in the new listing: so it is now.
		for name := range put {
			if _, ok := keep[name]; !ok {
				if err := c.deleteTree(joinPath(dir, name)); err != nil {
					return err
				}
			}
		}
	}
	if err := c.meta.Update(func(txn *badger.Txn) error { return txn.Set(hk, encodeHeader(now)) }); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	return nil
}

// writeChildren writes entries as dir's children, seen now, and forgets the
// stored children that are not in keep, with everything below those that
// were directories. A stored child whose attributes are unchanged keeps
// its listing key (and the seen time in it; Child takes the later of that
// and the header's fetch time); its entry key is rewritten, so that Lookup
// sees it seen now.
func (c *Cache) writeChildren(dir string, entries []Entry, keep map[string]int, now time.Time) error {
	// One buffer for all records: they stay referenced until the batch
	// is flushed, and 100,000 small allocations cost more heap.
	ends := make([]int, len(entries))
	var buf []byte
	for i := range entries {
		buf = appendAttrs(buf, &entries[i], now)
		ends[i] = len(buf)
	}
	recs := make([][]byte, len(entries))
	start := 0
	for i, end := range ends {
		recs[i] = buf[start:end:end]
		start = end
	}
	same := make([]bool, len(entries))
	gone, goneDirs, err := c.oldChildren(dir, keep, recs, same)
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
		name := entries[i].Name
		if keep[name] != i {
			continue // a repeated name: only its last record is written
		}
		if !same[i] {
			if err := wb.Set(listingKey(dir, name), recs[i]); err != nil {
				return err
			}
		}
		if err := wb.Set(entryKey(joinPath(dir, name)), recs[i]); err != nil {
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
	return nil
}

// oldChildren scans dir's stored listing keys (whether or not a header
// makes them a listing). It returns the children not in keep, and which of
// those were directories; and it sets same[i] for each entry i whose stored
// record equals recs[i] but for the seen time.
func (c *Cache) oldChildren(dir string, keep map[string]int, recs [][]byte, same []bool) (gone, goneDirs []string, err error) {
	err = c.meta.View(func(txn *badger.Txn) error {
		prefix := listingPrefix(dir)
		it := c.newIterator(txn, prefix)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			key := item.Key()[len(prefix):]
			if i, ok := keep[string(key)]; ok { // no allocation for the lookup
				_ = item.Value(func(v []byte) error {
					same[i] = sameAttrs(v, recs[i])
					return nil
				})
				continue
			}
			name := string(key)
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

// sameAttrs reports whether two encoded records are both attributes and
// equal but for their seen times.
func sameAttrs(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 || a[0] != recAttrs || b[0] != recAttrs {
		return false
	}
	_, na := binary.Varint(a[1:])
	_, nb := binary.Varint(b[1:])
	if na <= 0 || nb <= 0 {
		return false
	}
	return bytes.Equal(a[1+na:], b[1+nb:])
}

// touch records, under dir's dirMu, a change to dir's listing, for a
// PutListing of dir writing its children meanwhile; put is the name of a
// child Put, if that is the change.
func (c *Cache) touch(dir, put string) {
	c.pendMu.Lock()
	if w := c.pending[dir]; w != nil {
		w.dirty = true
		if put != "" {
			if w.put == nil {
				w.put = make(map[string]struct{})
			}
			w.put[put] = struct{}{}
		}
	}
	c.pendMu.Unlock()
}

// touchTree records that the listings of path and of every directory below
// it were deleted.
func (c *Cache) touchTree(path string) {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	for dir, w := range c.pending {
		if path == "" || dir == path || len(dir) > len(path) && dir[len(path)] == '/' && dir[:len(path)] == path {
			w.dirty = true
		}
	}
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
	c.touch(dir, "")
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
	c.touch(dir, "")
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
