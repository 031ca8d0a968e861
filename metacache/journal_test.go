package metacache

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

type badgerTxn = badger.Txn

func journalKeys(t *testing.T, c *Cache) []string {
	t.Helper()
	var keys []string
	must(t, c.JournalScan(func(k string, v []byte) error {
		keys = append(keys, k)
		return nil
	}))
	return keys
}

func TestJournal(t *testing.T) {
	dir := t.TempDir()
	c := openAt(t, dir, nil)
	// Written out of order; byte order puts "B" < "a" and "a" < "a\x00" < "ab".
	for _, k := range []string{"ab", "a", "B", "a\x00", "z/1", ""} {
		must(t, c.JournalPut(k, []byte("v:"+k)))
	}
	must(t, c.JournalPut("a", []byte("second"))) // overwrite
	must(t, c.JournalDelete("z/1"))
	must(t, c.JournalDelete("never")) // absent: not an error
	// The journal is separate from the cache: DeleteTree("") does not touch it.
	must(t, c.DeleteTree(""))
	must(t, c.Close())

	c = openAt(t, dir, nil)
	defer c.Close()
	want := map[string]string{"": "v:", "B": "v:B", "a": "second", "a\x00": "v:a\x00", "ab": "v:ab"}
	var keys []string
	must(t, c.JournalScan(func(k string, v []byte) error {
		keys = append(keys, k)
		if string(v) != want[k] {
			t.Errorf("value of %q = %q, want %q", k, v, want[k])
		}
		return nil
	}))
	if wantKeys := []string{"", "B", "a", "a\x00", "ab"}; !slices.Equal(keys, wantKeys) {
		t.Fatalf("keys after reopen %q, want %q", keys, wantKeys)
	}

	// fn's error stops the scan and comes back as is.
	stop := errors.New("stop")
	n := 0
	err := c.JournalScan(func(string, []byte) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("scan with error: %v after %d calls", err, n)
	}

	// Deleting while scanning (replay then forget) works.
	must(t, c.JournalScan(func(k string, _ []byte) error { return c.JournalDelete(k) }))
	if keys := journalKeys(t, c); len(keys) != 0 {
		t.Fatalf("journal not empty: %q", keys)
	}
}

// TestJournalValueKept checks that a scanned value may be kept after fn returns.
func TestJournalValueKept(t *testing.T) {
	c, _ := openTest(t, nil)
	big := make([]byte, 100<<10) // above the journal's ValueThreshold: goes to the value log
	for i := range big {
		big[i] = byte(i)
	}
	must(t, c.JournalPut("big", big))
	must(t, c.JournalPut("small", []byte("s")))
	var kept [][]byte
	must(t, c.JournalScan(func(_ string, v []byte) error { kept = append(kept, v); return nil }))
	if len(kept) != 2 || !slices.Equal(kept[0], big) || string(kept[1]) != "s" {
		t.Fatalf("kept values corrupted: %d values", len(kept))
	}
}

// BenchmarkJournalPut measures one durable (fsync'd) journal write.
func BenchmarkJournalPut(b *testing.B) {
	c, _ := openTest(b, nil)
	v := make([]byte, 200)
	i := 0
	for b.Loop() {
		i++
		if err := c.JournalPut(fmt.Sprintf("k%09d", i), v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut measures one asynchronous attribute write.
func BenchmarkPut(b *testing.B) {
	c, _ := openTest(b, nil)
	e := fileEntry("", 1)
	i := 0
	for b.Loop() {
		i++
		if err := c.Put(fmt.Sprintf("d/f%09d", i), e); err != nil {
			b.Fatal(err)
		}
	}
}
