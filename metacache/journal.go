package metacache

import (
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// The journal holds opaque records of the write-back layer. It lives in its
// own database opened with SyncWrites (see the package comment for why), so
// every commit below is fsync'd before it returns.

// JournalPut stores value under key, durably: it is on disk when JournalPut
// returns.
func (c *Cache) JournalPut(key string, value []byte) error {
	err := c.journal.Update(func(txn *badger.Txn) error { return txn.Set(journalKey(key), value) })
	if err != nil {
		return fmt.Errorf("journal put %q: %w", key, err)
	}
	return nil
}

// JournalDelete removes key's record, durably. Deleting a missing key is not
// an error.
func (c *Cache) JournalDelete(key string) error {
	err := c.journal.Update(func(txn *badger.Txn) error { return txn.Delete(journalKey(key)) })
	if err != nil {
		return fmt.Errorf("journal delete %q: %w", key, err)
	}
	return nil
}

// JournalScan calls fn for every record in key byte order, and stops at the
// first error fn returns, which it returns unwrapped. value is a copy fn may
// keep. fn may call JournalPut and JournalDelete; whether the scan then sees
// the change is unspecified (it reads a snapshot).
func (c *Cache) JournalScan(fn func(key string, value []byte) error) error {
	var fnErr error
	err := c.journal.View(func(txn *badger.Txn) error {
		prefix := []byte{tagJournal}
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read %q: %w", item.Key()[1:], err)
			}
			if fnErr = fn(string(item.Key()[1:]), v); fnErr != nil {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal scan: %w", err)
	}
	return fnErr
}
