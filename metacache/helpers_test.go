package metacache

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// clock is an injectable time source for TTL tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openTest opens a cache in a fresh temporary directory and closes it at
// the end of the test.
func openTest(t testing.TB, clk *clock) (*Cache, string) {
	t.Helper()
	dir := t.TempDir()
	c := openAt(t, dir, clk)
	t.Cleanup(func() { c.Close() })
	return c, dir
}

func openAt(t testing.TB, dir string, clk *clock) *Cache {
	t.Helper()
	opt := Options{Logger: quietLogger()}
	if clk != nil {
		opt.Now = clk.Now
	}
	c, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

func fileEntry(name string, size int64) Entry {
	return Entry{Name: name, Size: size, Mtime: time.Unix(1700000000, 123456789), ETag: `"0123456789ABCDEF0123456789ABCDEF"`}
}

func names(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}
