package metacache

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListingTTL(t *testing.T) {
	clk := newClock()
	c, _ := openTest(t, clk)
	if _, st := c.Listing("d"); st != Miss {
		t.Fatalf("uncached listing: %v", st)
	}
	if err := c.PutListing("d", []Entry{fileEntry("b", 1), {Name: "a", IsDir: true}}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		want    Status
	}{{0, Fresh}, {time.Minute, Fresh}, {time.Second, Stale}}
	for _, s := range steps {
		clk.Advance(s.advance)
		got, st := c.Listing("d")
		if st != s.want || !slices.Equal(names(got), []string{"a", "b"}) {
			t.Fatalf("+%v: %v %v, want %v [a b]", s.advance, st, names(got), s.want)
		}
	}
	if err := c.InvalidateListing("d"); err != nil {
		t.Fatal(err)
	}
	if _, st := c.Listing("d"); st != Miss {
		t.Fatalf("after invalidate: %v", st)
	}
	// The children's own entries survive an invalidation.
	if _, st := c.Lookup("d/b"); st == Miss {
		t.Fatal("child entry lost on invalidate")
	}
}

func TestEmptyListingIsCached(t *testing.T) {
	c, _ := openTest(t, nil)
	if err := c.PutListing("empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, st := c.Listing("empty"); st != Fresh || len(got) != 0 {
		t.Fatalf("got %v %v, want Fresh []", names(got), st)
	}
}

func TestPutListingReplaces(t *testing.T) {
	clk := newClock()
	c, _ := openTest(t, clk)
	must(t, c.PutListing("d", []Entry{fileEntry("keep", 1), fileEntry("gone", 2), {Name: "olddir", IsDir: true}}))
	must(t, c.PutListing("d/olddir", []Entry{fileEntry("x", 1)}))
	must(t, c.PutListing("d", []Entry{fileEntry("keep", 10), fileEntry("new", 3)}))

	got, st := c.Listing("d")
	if st != Fresh || !slices.Equal(names(got), []string{"keep", "new"}) || got[0].Size != 10 {
		t.Fatalf("listing %v %+v", st, got)
	}
	for path, want := range map[string]Status{"d/keep": Fresh, "d/new": Fresh, "d/gone": Miss, "d/olddir": Miss, "d/olddir/x": Miss} {
		if _, st := c.Lookup(path); st != want {
			t.Errorf("Lookup(%q) = %v, want %v", path, st, want)
		}
	}
	if _, st := c.Listing("d/olddir"); st != Miss {
		t.Errorf("listing of vanished dir: %v", st)
	}
}

// TestListingRoundTrip10k stores and reads back a 10,000-entry listing and
// logs how long each half took (never asserted: the machine is shared).
func TestListingRoundTrip10k(t *testing.T) {
	c, _ := openTest(t, nil)
	entries := manyEntries(10000)
	start := time.Now()
	must(t, c.PutListing("big", entries))
	put := time.Since(start)
	start = time.Now()
	got, st := c.Listing("big")
	read := time.Since(start)
	t.Logf("10,000 entries: PutListing %v, Listing %v", put, read)
	if st != Fresh || len(got) != len(entries) {
		t.Fatalf("got %d entries, %v", len(got), st)
	}
	want := slices.Clone(entries)
	slices.SortFunc(want, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	for i := range want {
		if !entriesEqual(got[i], want[i]) {
			t.Fatalf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if e, st := c.Lookup("big/" + entries[1234].Name); st != Fresh || e.Size != entries[1234].Size {
		t.Fatalf("child entry: %+v %v", e, st)
	}
}

func BenchmarkPutListing10k(b *testing.B) {
	c, _ := openTest(b, nil)
	entries := manyEntries(10000)
	for b.Loop() {
		if err := c.PutListing("big", entries); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListing10k(b *testing.B) {
	c, _ := openTest(b, nil)
	must(b, c.PutListing("big", manyEntries(10000)))
	for b.Loop() {
		if got, _ := c.Listing("big"); len(got) != 10000 {
			b.Fatal(len(got))
		}
	}
}

func TestSetChildRemoveChild(t *testing.T) {
	tests := []struct {
		name        string
		cached      bool
		op          func(c *Cache) error
		wantListing []string // nil: listing stays a Miss
		path        string
		wantStatus  Status
	}{
		{"set on cached adds", true, func(c *Cache) error { return c.SetChild("d", fileEntry("c", 9)) }, []string{"a", "b", "c"}, "d/c", Fresh},
		{"set on cached replaces", true, func(c *Cache) error { return c.SetChild("d", fileEntry("a", 9)) }, []string{"a", "b"}, "d/a", Fresh},
		{"set on uncached", false, func(c *Cache) error { return c.SetChild("d", fileEntry("c", 9)) }, nil, "d/c", Fresh},
		{"remove on cached", true, func(c *Cache) error { return c.RemoveChild("d", "a") }, []string{"b"}, "d/a", Negative},
		{"remove absent on cached", true, func(c *Cache) error { return c.RemoveChild("d", "zz") }, []string{"a", "b"}, "d/zz", Negative},
		{"remove on uncached", false, func(c *Cache) error { return c.RemoveChild("d", "a") }, nil, "d/a", Negative},
		{"put updates cached listing", true, func(c *Cache) error { return c.Put("d/c", fileEntry("", 9)) }, []string{"a", "b", "c"}, "d/c", Fresh},
		{"put negative drops from listing", true, func(c *Cache) error { return c.PutNegative("d/b") }, []string{"a"}, "d/b", Negative},
		{"delete leaves listing", true, func(c *Cache) error { return c.Delete("d/b") }, []string{"a", "b"}, "d/b", Miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c, _ := openTest(t, clk)
			if tt.cached {
				must(t, c.PutListing("d", []Entry{fileEntry("a", 1), fileEntry("b", 2)}))
			} else {
				must(t, c.Put("d/a", fileEntry("a", 1)))
			}
			clk.Advance(30 * time.Second)
			must(t, tt.op(c))
			got, st := c.Listing("d")
			switch {
			case tt.wantListing == nil && st != Miss:
				t.Errorf("listing %v %v, want Miss", names(got), st)
			case tt.wantListing != nil && (st != Fresh || !slices.Equal(names(got), tt.wantListing)):
				t.Errorf("listing %v %v, want Fresh %v", names(got), st, tt.wantListing)
			}
			if tt.wantListing != nil {
				// The listing keeps its fetch time: 30s + 31s > StatTTL.
				clk.Advance(31 * time.Second)
				if _, st := c.Listing("d"); st != Stale {
					t.Errorf("listing fetch time not kept: %v", st)
				}
				clk.Advance(-31 * time.Second)
			}
			if _, st := c.Lookup(tt.path); st != tt.wantStatus {
				t.Errorf("Lookup(%q) = %v, want %v", tt.path, st, tt.wantStatus)
			}
			if tt.wantStatus == Fresh {
				if e, _ := c.Lookup(tt.path); e.Size != 9 {
					t.Errorf("Lookup(%q).Size = %d, want 9", tt.path, e.Size)
				}
				if i := slices.Index(names(got), "c"); i >= 0 && got[i].Size != 9 {
					t.Errorf("listing entry size %d, want 9", got[i].Size)
				}
			}
		})
	}
}

func manyEntries(n int) []Entry {
	out := make([]Entry, n)
	for i := range out {
		// Not generated in sorted order, to check that Listing sorts.
		out[i] = fileEntry(fmt.Sprintf("sha256-%08x-layer", (i*7919)%n), int64(i))
		out[i].Mode = 0o644
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPutListing10kChanged replaces a 10,000-entry listing by one in
// which every record differs, so no child key can be kept.
func BenchmarkPutListing10kChanged(b *testing.B) {
	c, _ := openTest(b, nil)
	a, z := manyEntries(10000), manyEntries(10000)
	for i := range z {
		z[i].Size++
	}
	for i := 0; b.Loop(); i++ {
		entries := a
		if i%2 == 1 {
			entries = z
		}
		if err := c.PutListing("big", entries); err != nil {
			b.Fatal(err)
		}
	}
}
