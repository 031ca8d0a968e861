package metacache

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPersistenceAcrossReopen(t *testing.T) {
	clk := newClock()
	dir := filepath.Join(t.TempDir(), "cache")
	c := openAt(t, dir, clk)
	must(t, c.PutListing("d", manyEntries(100)))
	must(t, c.Put("f", fileEntry("f", 5)))
	must(t, c.PutNegative("missing"))
	must(t, c.Close())
	must(t, c.Close()) // idempotent

	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode: %v %v", fi.Mode(), err)
	}

	clk.Advance(10 * time.Second)
	c = openAt(t, dir, clk)
	defer c.Close()
	got, st := c.Listing("d")
	if st != Fresh || len(got) != 100 {
		t.Fatalf("listing after reopen: %d entries, %v", len(got), st)
	}
	if e, st := c.Lookup("f"); st != Fresh || e.Size != 5 {
		t.Fatalf("entry after reopen: %+v %v", e, st)
	}
	if _, st := c.Lookup("missing"); st != Miss { // 10s > NegativeTTL
		t.Fatalf("negative after reopen: %v", st)
	}
	clk.Advance(time.Minute)
	if _, st := c.Listing("d"); st != Stale {
		t.Fatalf("listing past TTL after reopen: %v", st)
	}
}

func TestSchemaMismatchDropsCacheKeepsJournal(t *testing.T) {
	dir := t.TempDir()
	c := openAt(t, dir, nil)
	must(t, c.Put("f", Entry{}))
	must(t, c.JournalPut("k", []byte("v")))
	must(t, c.meta.Update(func(txn *badgerTxn) error { return txn.Set(schemaKey, []byte("old")) }))
	must(t, c.Close())

	c = openAt(t, dir, nil)
	defer c.Close()
	if _, st := c.Lookup("f"); st != Miss {
		t.Fatalf("entry of old schema survived: %v", st)
	}
	if keys := journalKeys(t, c); !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("journal after schema drop: %v", keys)
	}
}

func TestSecondOpenLocked(t *testing.T) {
	dir := t.TempDir()
	c := openAt(t, dir, nil)

	_, err := Open(dir, Options{Logger: quietLogger()})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open in process: %v, want ErrLocked", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "another ossmount") || !strings.Contains(msg, dir) {
		t.Fatalf("error message %q: want one line naming the dir and another ossmount", msg)
	}

	// Another process: re-run this test binary as a helper that tries Open.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "METACACHE_LOCK_HELPER_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "LOCKED") {
		t.Fatalf("helper process: %v\n%s", err, out)
	}

	// After Close the directory can be opened again.
	must(t, c.Close())
	c2 := openAt(t, dir, nil)
	must(t, c2.Close())
}

// TestLockHelperProcess is the other process of TestSecondOpenLocked.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("METACACHE_LOCK_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestSecondOpenLocked")
	}
	c, err := Open(dir, Options{Logger: quietLogger()})
	if err == nil {
		c.Close()
		t.Fatal("Open succeeded in a second process")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open: %v, want ErrLocked", err)
	}
	t.Log("LOCKED:", err)
	os.Stdout.WriteString("LOCKED\n")
}
