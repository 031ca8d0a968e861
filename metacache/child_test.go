package metacache

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// openOpts is openTest with options (Logger and Now are filled in).
func openOpts(t testing.TB, clk *clock, opt Options) *Cache {
	t.Helper()
	opt.Logger = quietLogger()
	opt.Now = clk.Now
	c, err := Open(t.TempDir(), opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestChild(t *testing.T) {
	listed := func(c *Cache, _ *clock) error {
		return c.PutListing("d", []Entry{fileEntry("a", 1), {Name: "sub", IsDir: true}})
	}
	tests := []struct {
		name  string
		opt   Options
		setup func(c *Cache, clk *clock) error
		dir   string
		child string
		want  Status
		size  int64 // checked when an entry is returned
	}{
		{name: "never listed", setup: func(*Cache, *clock) error { return nil }, dir: "d", child: "a", want: Miss},
		{name: "entry without listing", setup: func(c *Cache, _ *clock) error { return c.Put("d/a", fileEntry("", 1)) },
			dir: "d", child: "a", want: Miss},
		{name: "present", setup: listed, dir: "d", child: "a", want: Fresh, size: 1},
		{name: "present at StatTTL", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(time.Minute)
			return err
		}, dir: "d", child: "a", want: Fresh, size: 1},
		{name: "present past StatTTL", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(time.Minute + time.Second)
			return err
		}, dir: "d", child: "a", want: Stale, size: 1},
		{name: "present, StatTTL negative", opt: Options{StatTTL: -1}, setup: listed, dir: "d", child: "a", want: Stale, size: 1},
		{name: "immutable never stale", setup: func(c *Cache, clk *clock) error {
			err := c.PutListing("blobs/sha256/ab/abcdef", []Entry{fileEntry("data", 7)})
			clk.Advance(time.Hour)
			return err
		}, dir: "blobs/sha256/ab/abcdef", child: "data", want: Fresh, size: 7},
		{name: "set after fetch: own seen time, fresh", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(50 * time.Second)
			err = firstErr(err, c.SetChild("d", fileEntry("a", 9)))
			clk.Advance(50 * time.Second) // listing 100s old, child 50s
			return err
		}, dir: "d", child: "a", want: Fresh, size: 9},
		{name: "set after fetch: own seen time, stale", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(50 * time.Second)
			err = firstErr(err, c.Put("d/a", fileEntry("", 9)))
			clk.Advance(61 * time.Second)
			return err
		}, dir: "d", child: "a", want: Stale, size: 9},
		{name: "new child set after fetch", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(50 * time.Second)
			err = firstErr(err, c.SetChild("d", fileEntry("new", 3)))
			clk.Advance(50 * time.Second)
			return err
		}, dir: "d", child: "new", want: Fresh, size: 3},
		{name: "unchanged child relisted: fetch time", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(50 * time.Second)
			err = firstErr(err, listed(c, clk)) // same records: the child keys are kept
			clk.Advance(50 * time.Second)
			return err
		}, dir: "d", child: "a", want: Fresh, size: 1},
		{name: "absent in young listing", setup: listed, dir: "d", child: "zz", want: Negative},
		{name: "absent just before NegativeTTL", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(5*time.Second - 1)
			return err
		}, dir: "d", child: "zz", want: Negative},
		{name: "absent at NegativeTTL", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(5 * time.Second)
			return err
		}, dir: "d", child: "zz", want: StaleNegative},
		{name: "absent at StatTTL", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(time.Minute + 1)
			return err
		}, dir: "d", child: "zz", want: Miss},
		{name: "absent, NegativeTTL negative", opt: Options{NegativeTTL: -1}, setup: listed, dir: "d", child: "zz", want: Miss},
		{name: "absent, longer NegativeTTL", opt: Options{NegativeTTL: time.Minute}, setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(30 * time.Second)
			return err
		}, dir: "d", child: "zz", want: Negative},
		{name: "absent after set in old listing: header's time", setup: func(c *Cache, clk *clock) error {
			err := listed(c, clk)
			clk.Advance(10 * time.Second)
			return firstErr(err, c.SetChild("d", fileEntry("other", 1)))
		}, dir: "d", child: "zz", want: StaleNegative},
		{name: "removed", setup: func(c *Cache, clk *clock) error {
			return firstErr(listed(c, clk), c.RemoveChild("d", "a"))
		}, dir: "d", child: "a", want: Negative},
		{name: "invalidated", setup: func(c *Cache, clk *clock) error {
			return firstErr(listed(c, clk), c.InvalidateListing("d"))
		}, dir: "d", child: "a", want: Miss},
		{name: "invalidated, absent", setup: func(c *Cache, clk *clock) error {
			return firstErr(listed(c, clk), c.InvalidateListing("d"))
		}, dir: "d", child: "zz", want: Miss},
		{name: "empty listing", setup: func(c *Cache, _ *clock) error { return c.PutListing("d", nil) },
			dir: "d", child: "a", want: Negative},
		{name: "root listing", setup: func(c *Cache, _ *clock) error { return c.PutListing("", []Entry{fileEntry("a", 4)}) },
			dir: "", child: "a", want: Fresh, size: 4},
		{name: "prefix sibling dir not confused", setup: func(c *Cache, _ *clock) error {
			return c.PutListing("dd", []Entry{fileEntry("a", 1)})
		}, dir: "d", child: "a", want: Miss},
		{name: "bad name", setup: listed, dir: "d", child: "a/b", want: Miss},
		{name: "empty name", setup: listed, dir: "d", child: "", want: Miss},
		{name: "immutable absent", setup: func(c *Cache, _ *clock) error {
			return c.PutListing("blobs/sha256/ab/abcdef", nil)
		}, dir: "blobs/sha256/ab/abcdef", child: "data", want: Negative},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := openOpts(t, clk, tt.opt)
			must(t, tt.setup(c, clk))
			e, st := c.Child(tt.dir, tt.child)
			if st != tt.want {
				t.Fatalf("Child(%q, %q) = %v, want %v", tt.dir, tt.child, st, tt.want)
			}
			if st == Fresh || st == Stale {
				if e.Name != tt.child || e.Size != tt.size {
					t.Fatalf("Child(%q, %q) = %+v, want name %q size %d", tt.dir, tt.child, e, tt.child, tt.size)
				}
			} else if e != (Entry{}) {
				t.Fatalf("Child(%q, %q) = %+v with %v", tt.dir, tt.child, e, st)
			}
		})
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestListingAge(t *testing.T) {
	clk := newClock()
	c, _ := openTest(t, clk)
	if _, ok := c.ListingAge("d"); ok {
		t.Fatal("uncached listing has an age")
	}
	fetched := clk.Now()
	must(t, c.PutListing("d", []Entry{fileEntry("a", 1)}))
	clk.Advance(time.Hour)
	must(t, c.SetChild("d", fileEntry("b", 1))) // keeps the fetch time
	if got, ok := c.ListingAge("d"); !ok || !got.Equal(fetched) {
		t.Fatalf("ListingAge = %v %v, want %v true", got, ok, fetched)
	}
	must(t, c.InvalidateListing("d"))
	if _, ok := c.ListingAge("d"); ok {
		t.Fatal("invalidated listing has an age")
	}
}

// checkAgree checks that Child(dir, name) agrees with Listing(dir) and
// with Lookup(dir/name).
func checkAgree(t *testing.T, c *Cache, step, dir string, names []string) {
	t.Helper()
	listing, lst := c.Listing(dir)
	for _, name := range names {
		path := joinPath(dir, name)
		e, st := c.Child(dir, name)
		le, lookSt := c.Lookup(path)
		i := slices.IndexFunc(listing, func(e Entry) bool { return e.Name == name })
		switch {
		case lst == Miss:
			if st != Miss {
				t.Errorf("%s: Child(%q) = %v with the listing a Miss", step, path, st)
			}
		case i >= 0:
			if st != Fresh && st != Stale || !entriesEqual(e, listing[i]) {
				t.Errorf("%s: Child(%q) = %+v %v, listing has %+v", step, path, e, st, listing[i])
			}
			// Lookup may have forgotten the path (Delete), never disagree.
			if lookSt != Miss && (lookSt != st || !entriesEqual(le, listing[i])) {
				t.Errorf("%s: Lookup(%q) = %+v %v, Child %+v %v", step, path, le, lookSt, e, st)
			}
		default:
			fetched, _ := c.ListingAge(dir)
			want := Miss
			switch age := c.now().Sub(fetched); {
			case age < c.opt.NegativeTTL:
				want = Negative
			case !c.expired(age):
				want = StaleNegative
			}
			if st != want {
				t.Errorf("%s: Child(%q) = %v for a name not in a listing %v old, want %v", step, path, st, c.now().Sub(fetched), want)
			}
			if lookSt == Fresh || lookSt == Stale {
				t.Errorf("%s: Lookup(%q) = %v, absent from the listing", step, path, lookSt)
			}
		}
	}
}

func TestChildAgrees(t *testing.T) {
	clk := newClock()
	c, _ := openTest(t, clk)
	all := []string{"a", "b", "c", "sub", "x"}
	steps := []struct {
		name string
		op   func() error
	}{
		{"put listing", func() error {
			return c.PutListing("d", []Entry{fileEntry("a", 1), fileEntry("b", 2), {Name: "sub", IsDir: true}})
		}},
		{"set child new", func() error { return c.SetChild("d", fileEntry("c", 3)) }},
		{"set child replace", func() error { return c.SetChild("d", fileEntry("a", 10)) }},
		{"put", func() error { return c.Put("d/x", fileEntry("", 11)) }},
		{"remove child", func() error { return c.RemoveChild("d", "b") }},
		{"put negative", func() error { return c.PutNegative("d/c") }},
		{"remove absent", func() error { return c.RemoveChild("d", "zz") }},
		{"delete entry", func() error { return c.Delete("d/a") }},
		{"delete subtree", func() error { return c.DeleteTree("d/sub") }},
		{"relist", func() error {
			return c.PutListing("d", []Entry{fileEntry("a", 10), fileEntry("b", 2), fileEntry("x", 11)})
		}},
		{"invalidate", func() error { return c.InvalidateListing("d") }},
		{"set child uncached", func() error { return c.SetChild("d", fileEntry("c", 5)) }},
		{"relist again", func() error { return c.PutListing("d", []Entry{fileEntry("c", 5)}) }},
		{"delete tree", func() error { return c.DeleteTree("d") }},
		{"set child after delete", func() error { return c.SetChild("d", fileEntry("a", 1)) }},
		// The listing must hold "a": a child Put while the listing is not
		// cached has no listing key, so a listing without it would leave
		// its entry alone (Lookup Fresh, Child Negative).
		{"list after delete", func() error { return c.PutListing("d", []Entry{fileEntry("a", 1), fileEntry("b", 1)}) }},
		{"delete root tree", func() error { return c.DeleteTree("") }},
	}
	for _, s := range steps {
		clk.Advance(time.Second)
		must(t, s.op())
		checkAgree(t, c, s.name, "d", all)
	}
}

// TestChildCost checks that Child reads two keys and opens no iterator,
// whatever the size of the listing: counted, not timed.
func TestChildCost(t *testing.T) {
	c, _ := openTest(t, newClock()) // a stopped clock: the listings stay young
	small, big := manyEntries(10), manyEntries(100000)
	must(t, c.PutListing("small", small))
	must(t, c.PutListing("big", big))
	for _, tc := range []struct {
		dir     string
		entries []Entry
	}{{"small", small}, {"big", big}} {
		for _, name := range []string{tc.entries[len(tc.entries)/2].Name, "absent"} {
			gets, iters := c.nGets.Load(), c.nIters.Load()
			_, st := c.Child(tc.dir, name)
			if st != Fresh && st != Negative {
				t.Fatalf("Child(%q, %q) = %v", tc.dir, name, st)
			}
			if d := c.nIters.Load() - iters; d != 0 {
				t.Errorf("Child(%q, %q) opened %d iterators", tc.dir, name, d)
			}
			if d := c.nGets.Load() - gets; d != 2 {
				t.Errorf("Child(%q, %q) did %d point reads, want 2", tc.dir, name, d)
			}
		}
		gets, iters := c.nGets.Load(), c.nIters.Load()
		if _, ok := c.ListingAge(tc.dir); !ok || c.nGets.Load()-gets != 1 || c.nIters.Load() != iters {
			t.Errorf("ListingAge(%q): ok %v, %d reads, %d iterators", tc.dir, ok, c.nGets.Load()-gets, c.nIters.Load()-iters)
		}
	}
}

func BenchmarkChild(b *testing.B) {
	for _, n := range []int{10, 100000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			c, _ := openTest(b, nil)
			entries := manyEntries(n)
			must(b, c.PutListing("d", entries))
			for i := 0; b.Loop(); i++ {
				if _, st := c.Child("d", entries[i%n].Name); st != Fresh {
					b.Fatal(st)
				}
			}
		})
	}
}

// BenchmarkLookupByListing is what a lookup cost before Child: reading the
// whole listing.
func BenchmarkLookupByListing(b *testing.B) {
	for _, n := range []int{10, 100000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			c, _ := openTest(b, nil)
			must(b, c.PutListing("d", manyEntries(n)))
			for b.Loop() {
				if _, st := c.Listing("d"); st != Fresh {
					b.Fatal(st)
				}
			}
		})
	}
}

func TestListingPage(t *testing.T) {
	clk := newClock()
	c, _ := openTest(t, clk)
	if p, err := c.ListingPage("d", "", 10, func(Entry) bool { t.Fatal("fn called on a Miss"); return true }); err != nil || p.Status != Miss {
		t.Fatalf("uncached: %+v %v", p, err)
	}
	entries := manyEntries(1000)
	must(t, c.PutListing("d", entries))
	want, _ := c.Listing("d")
	for _, limit := range []int{1, 7, 333, 999, 1000, 1001, 0, -1} {
		var got []Entry
		after, pages := "", 0
		for {
			p, err := c.ListingPage("d", after, limit, func(e Entry) bool { got = append(got, e); return true })
			if err != nil || p.Status != Fresh || !p.Fetched.Equal(clk.Now()) {
				t.Fatalf("limit %d: %+v %v", limit, p, err)
			}
			pages++
			if n := len(got); n > 0 && p.Last != got[n-1].Name {
				t.Fatalf("limit %d: Last %q, last passed %q", limit, p.Last, got[n-1].Name)
			}
			if !p.More {
				break
			}
			after = p.Last
		}
		if len(got) != len(want) {
			t.Fatalf("limit %d: %d entries, want %d", limit, len(got), len(want))
		}
		for i := range want {
			if !entriesEqual(got[i], want[i]) {
				t.Fatalf("limit %d: entry %d %+v, want %+v", limit, i, got[i], want[i])
			}
		}
		if limit > 0 && pages != (1000+limit-1)/limit {
			t.Errorf("limit %d: %d pages", limit, pages)
		}
	}

	// after need not be a name in the listing; fn can stop early.
	var got []string
	p, err := c.ListingPage("d", want[10].Name+"!", 0, func(e Entry) bool {
		got = append(got, e.Name)
		return len(got) < 3
	})
	if err != nil || !slices.Equal(got, names(want[11:14])) || p.Last != want[13].Name || !p.More {
		t.Fatalf("stopped page: %v %+v %v", got, p, err)
	}
	got = nil
	p, _ = c.ListingPage("d", want[997].Name, 0, func(e Entry) bool { got = append(got, e.Name); return false })
	if !slices.Equal(got, []string{want[998].Name}) || !p.More {
		t.Fatalf("stopped before the last: %v %+v", got, p)
	}
	got = nil
	p, _ = c.ListingPage("d", want[998].Name, 0, func(e Entry) bool { got = append(got, e.Name); return false })
	if !slices.Equal(got, []string{want[999].Name}) || p.More {
		t.Fatalf("stopped at the last: %v %+v", got, p)
	}
	p, _ = c.ListingPage("d", want[999].Name, 5, func(e Entry) bool { t.Fatalf("past the end: %v", e.Name); return true })
	if p.Status != Fresh || p.More || p.Last != "" {
		t.Fatalf("past the end: %+v", p)
	}

	// A replacement between pages shows as another fetch time; staleness.
	p1, _ := c.ListingPage("d", "", 10, func(Entry) bool { return true })
	clk.Advance(2 * time.Minute)
	p2, _ := c.ListingPage("d", p1.Last, 10, func(Entry) bool { return true })
	if p2.Status != Stale || !p2.Fetched.Equal(p1.Fetched) {
		t.Fatalf("aged page: %+v, first %+v", p2, p1)
	}
	must(t, c.PutListing("d", entries[:5]))
	p3, _ := c.ListingPage("d", p1.Last, 10, func(Entry) bool { return true })
	if p3.Fetched.Equal(p1.Fetched) || p3.Status != Fresh {
		t.Fatalf("replaced listing: %+v, first %+v", p3, p1)
	}
}

// TestReadersTakeNoLock calls every reader while holding both lock stripes
// of the directory: a reader that took one would deadlock.
func TestReadersTakeNoLock(t *testing.T) {
	c, _ := openTest(t, nil)
	must(t, c.PutListing("d", []Entry{fileEntry("a", 1)}))
	lm, mu := c.listLock("d"), c.dirLock("d")
	lm.Lock()
	mu.Lock()
	defer lm.Unlock()
	defer mu.Unlock()
	if _, st := c.Child("d", "a"); st != Fresh {
		t.Errorf("Child: %v", st)
	}
	if _, st := c.Lookup("d/a"); st != Fresh {
		t.Errorf("Lookup: %v", st)
	}
	if _, st := c.Listing("d"); st != Fresh {
		t.Errorf("Listing: %v", st)
	}
	if _, ok := c.ListingAge("d"); !ok {
		t.Error("ListingAge: not cached")
	}
	if p, err := c.ListingPage("d", "", 0, func(Entry) bool { return true }); err != nil || p.Status != Fresh {
		t.Errorf("ListingPage: %+v %v", p, err)
	}
}

// TestPutListingConcurrentChange runs a local change while PutListing is
// between writing the children and writing the header (through the
// afterChildren hook, which runs without dirMu: a change that took it would
// deadlock otherwise). Meanwhile readers see a Miss; afterwards the result is
// that of the change followed by PutListing, and the cache is consistent.
func TestPutListingConcurrentChange(t *testing.T) {
	old := []Entry{fileEntry("a", 1), fileEntry("gone", 2), {Name: "sub", IsDir: true}}
	listing := []Entry{fileEntry("a", 5), fileEntry("b", 6), {Name: "sub", IsDir: true}}
	tests := []struct {
		name   string
		change func(c *Cache) error
	}{
		{"none", func(*Cache) error { return nil }},
		{"set new child", func(c *Cache) error { return c.SetChild("p/d", fileEntry("new", 9)) }},
		{"set listed child", func(c *Cache) error { return c.SetChild("p/d", fileEntry("b", 9)) }},
		{"put gone child", func(c *Cache) error { return c.Put("p/d/gone", fileEntry("", 9)) }},
		{"remove listed child", func(c *Cache) error { return c.RemoveChild("p/d", "a") }},
		{"put negative", func(c *Cache) error { return c.PutNegative("p/d/b") }},
		{"invalidate", func(c *Cache) error { return c.InvalidateListing("p/d") }},
		{"delete tree", func(c *Cache) error { return c.DeleteTree("p/d") }},
		{"delete parent tree", func(c *Cache) error { return c.DeleteTree("p") }},
		{"delete root tree", func(c *Cache) error { return c.DeleteTree("") }},
		{"other dir", func(c *Cache) error { return c.SetChild("p/e", fileEntry("x", 1)) }},
		{"relist sub", func(c *Cache) error { return c.PutListing("p/d/sub", []Entry{fileEntry("y", 1)}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c, _ := openTest(t, clk)
			must(t, c.PutListing("p/d", old))
			must(t, c.PutListing("p/d/sub", []Entry{fileEntry("x", 1)}))
			clk.Advance(time.Second)
			hooked := false
			c.afterChildren = func(dir string) {
				if dir != "p/d" || hooked {
					return
				}
				hooked = true
				if _, st := c.Listing("p/d"); st != Miss {
					t.Errorf("listing during PutListing: %v", st)
				}
				if _, st := c.Child("p/d", "a"); st != Miss {
					t.Errorf("Child during PutListing: %v", st)
				}
				must(t, tt.change(c))
			}
			must(t, c.PutListing("p/d", listing))
			if !hooked {
				t.Fatal("hook not run")
			}
			got, st := c.Listing("p/d")
			if st != Fresh || !slices.Equal(names(got), []string{"a", "b", "sub"}) || got[0].Size != 5 || got[1].Size != 6 {
				t.Fatalf("listing %v %+v", st, got)
			}
			checkAgree(t, c, tt.name, "p/d", []string{"a", "b", "gone", "new", "sub"})
			for path, want := range map[string]Status{"p/d/a": Fresh, "p/d/b": Fresh, "p/d/gone": Miss, "p/d/new": Miss} {
				if _, st := c.Lookup(path); st != want {
					t.Errorf("Lookup(%q) = %v, want %v", path, st, want)
				}
			}
		})
	}
}
