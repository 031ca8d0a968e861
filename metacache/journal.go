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

// JournalApply stores puts and removes deletes in one durable commit: after
// a crash either all of it is there or none.
func (c *Cache) JournalApply(puts map[string][]byte, deletes []string) error {
	err := c.journal.Update(func(txn *badger.Txn) error {
		for k, v := range puts {
			if err := txn.Set(journalKey(k), v); err != nil {
				return err
			}
		}
		for _, k := range deletes {
			if err := txn.Delete(journalKey(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal commit of %d records: %w", len(puts)+len(deletes), err)
	}
	return nil
}

// JournalDeleteMany removes the records of keys in one durable commit.
func (c *Cache) JournalDeleteMany(keys []string) error {
	err := c.journal.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(journalKey(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal delete %d records: %w", len(keys), err)
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
