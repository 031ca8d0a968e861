package metacache

import (
	"testing"
	"time"
)

// TestLookupTTL walks entries through their lifetimes with an injected clock.
func TestLookupTTL(t *testing.T) {
	const blob = "docker/registry/v2/blobs/sha256/ab/abcdef/data"
	type step struct {
		advance time.Duration
		want    Status
	}
	tests := []struct {
		name  string
		path  string
		setup func(c *Cache, path string) error
		steps []step
	}{
		{
			name:  "file goes stale after StatTTL",
			path:  "a/file",
			setup: func(c *Cache, p string) error { return c.Put(p, fileEntry("ignored", 3)) },
			steps: []step{{0, Fresh}, {time.Minute, Fresh}, {time.Nanosecond, Stale}, {time.Hour, Stale}},
		},
		{
			name:  "negative expires after NegativeTTL",
			path:  "a/missing",
			setup: func(c *Cache, p string) error { return c.PutNegative(p) },
			steps: []step{{0, Negative}, {4 * time.Second, Negative}, {time.Second, Miss}},
		},
		{
			name:  "immutable blob never stale",
			path:  blob,
			setup: func(c *Cache, p string) error { return c.Put(p, fileEntry("data", 7)) },
			steps: []step{{0, Fresh}, {24 * time.Hour, Fresh}, {365 * 24 * time.Hour, Fresh}},
		},
		{
			name:  "immutable blob negative still expires",
			path:  blob,
			setup: func(c *Cache, p string) error { return c.PutNegative(p) },
			steps: []step{{0, Negative}, {5 * time.Second, Miss}},
		},
		{
			name:  "never cached",
			path:  "nope",
			setup: func(*Cache, string) error { return nil },
			steps: []step{{0, Miss}},
		},
		{
			name:  "deleted",
			path:  "gone",
			setup: func(c *Cache, p string) error { c.Put(p, Entry{}); return c.Delete(p) },
			steps: []step{{0, Miss}},
		},
		{
			name:  "deleted negative",
			path:  "gone",
			setup: func(c *Cache, p string) error { c.PutNegative(p); return c.Delete(p) },
			steps: []step{{0, Miss}},
		},
		{
			name:  "put refreshes",
			path:  "r",
			setup: func(c *Cache, p string) error { return c.Put(p, Entry{}) },
			steps: []step{{2 * time.Minute, Stale}},
		},
		{
			name:  "root",
			path:  "",
			setup: func(c *Cache, p string) error { return c.Put(p, Entry{IsDir: true}) },
			steps: []step{{0, Fresh}, {2 * time.Minute, Stale}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c, _ := openTest(t, clk)
			if err := tt.setup(c, tt.path); err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				if _, got := c.Lookup(tt.path); got != s.want {
					t.Fatalf("step %d (+%v): status %v, want %v", i, s.advance, got, s.want)
				}
			}
		})
	}
}

func TestLookupReturnsEntry(t *testing.T) {
	clk := newClock()
	c, _ := openTest(t, clk)
	in := Entry{Name: "whatever", Size: 42, Mtime: time.Unix(1, 2), Mode: 0o640, UID: 7, GID: 8, HasOwner: true, ETag: `"e"`}
	if err := c.Put("dir/sub/f.txt", in); err != nil {
		t.Fatal(err)
	}
	want := in
	want.Name = "f.txt"
	for _, advance := range []time.Duration{0, time.Hour} { // Fresh, then Stale: both return the entry
		clk.Advance(advance)
		got, st := c.Lookup("dir/sub/f.txt")
		if !entriesEqual(got, want) {
			t.Fatalf("%v: got %+v, want %+v", st, got, want)
		}
	}
}

func TestTTLOptions(t *testing.T) {
	tests := []struct {
		name        string
		opt         Options
		negative    Status
		positiveNow Status
	}{
		{"defaults", Options{}, Negative, Fresh},
		{"negative caching off", Options{NegativeTTL: -1}, Miss, Fresh},
		{"stat caching off", Options{StatTTL: -1}, Negative, Stale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			tt.opt.Now, tt.opt.Logger = clk.Now, quietLogger()
			c, err := Open(t.TempDir(), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.PutNegative("n")
			c.Put("p", Entry{})
			if _, st := c.Lookup("n"); st != tt.negative {
				t.Errorf("negative: %v, want %v", st, tt.negative)
			}
			if _, st := c.Lookup("p"); st != tt.positiveNow {
				t.Errorf("positive: %v, want %v", st, tt.positiveNow)
			}
		})
	}
}

func TestBadPaths(t *testing.T) {
	c, _ := openTest(t, nil)
	tests := []struct {
		name string
		err  error
	}{
		{"leading slash", c.Put("/a", Entry{})},
		{"trailing slash", c.Put("a/", Entry{})},
		{"nul", c.Put("a\x00b", Entry{})},
		{"negative root", c.PutNegative("")},
		{"child with slash", c.SetChild("d", Entry{Name: "x/y"})},
		{"empty child", c.SetChild("d", Entry{})},
		{"listing bad name", c.PutListing("d", []Entry{{Name: "ok"}, {Name: ""}})},
		{"remove bad name", c.RemoveChild("d", "a/b")},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}
