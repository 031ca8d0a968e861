package metacache

import (
	"slices"
	"testing"
)

func TestDeleteTree(t *testing.T) {
	// A tree where siblings share name prefixes with the deleted path.
	paths := []string{"a", "a/x", "a/x/y", "ab", "ab/x", "a-b", "a.b", "a.b/x", "b", "b/a"}
	listings := map[string][]Entry{
		"":    {{Name: "a", IsDir: true}, {Name: "ab", IsDir: true}, {Name: "a-b"}, {Name: "a.b", IsDir: true}, {Name: "b", IsDir: true}},
		"a":   {{Name: "x", IsDir: true}},
		"a/x": {{Name: "y"}},
		"ab":  {{Name: "x"}},
		"a.b": {{Name: "x"}},
		"b":   {{Name: "a"}},
	}
	tests := []struct {
		path        string
		gone        []string // entries and listings that must be Miss afterwards
		rootListing bool     // root listing still cached
	}{
		{"a", []string{"a", "a/x", "a/x/y"}, true},
		{"a/x", []string{"a/x", "a/x/y"}, true},
		{"ab", []string{"ab", "ab/x"}, true},
		{"b/a", []string{"b/a"}, true},
		{"", paths, false},
	}
	for _, tt := range tests {
		t.Run("path="+tt.path, func(t *testing.T) {
			c, _ := openTest(t, nil)
			for _, p := range paths {
				must(t, c.Put(p, Entry{}))
			}
			for d, es := range listings {
				must(t, c.PutListing(d, es))
			}
			rootBefore, _ := c.Listing("")
			must(t, c.DeleteTree(tt.path))

			for _, p := range paths {
				_, st := c.Lookup(p)
				if want := slices.Contains(tt.gone, p); want != (st == Miss) {
					t.Errorf("Lookup(%q) = %v, want gone=%v", p, st, want)
				}
			}
			for d := range listings {
				if d == "" {
					continue
				}
				_, st := c.Listing(d)
				if want := slices.Contains(tt.gone, d); want != (st == Miss) {
					t.Errorf("Listing(%q) = %v, want gone=%v", d, st, want)
				}
			}
			root, st := c.Listing("")
			if tt.rootListing && (st != Fresh || !slices.Equal(names(root), names(rootBefore))) {
				t.Errorf("root listing changed: %v %v", names(root), st)
			}
			if !tt.rootListing && st != Miss {
				t.Errorf("root listing survived DeleteTree(\"\"): %v", st)
			}
		})
	}
}

func TestMoveTree(t *testing.T) {
	c, _ := openTest(t, newClock())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.PutListing("a", []Entry{{Name: "x", Size: 3, Mode: 0o640}, {Name: "d", IsDir: true}}))
	must(c.PutListing("a/d", []Entry{{Name: "y", Size: 1}}))
	must(c.Put("b/old", Entry{Size: 9}))
	must(c.Put("ab", Entry{Size: 5})) // a sibling sharing the name's prefix stays
	must(c.MoveTree("a", "b"))
	if e, st := c.Lookup("b/x"); st != Fresh || e.Mode != 0o640 || e.Size != 3 {
		t.Errorf("b/x = %+v %v", e, st)
	}
	if es, st := c.Listing("b/d"); st != Fresh || len(es) != 1 || es[0].Name != "y" {
		t.Errorf("listing b/d = %v %v", es, st)
	}
	for _, p := range []string{"a/x", "a/d/y", "b/old"} {
		if _, st := c.Lookup(p); st != Miss {
			t.Errorf("%s is %v after the move, want Miss", p, st)
		}
	}
	if _, st := c.Listing("a"); st != Miss {
		t.Errorf("listing a is %v after the move", st)
	}
	if _, st := c.Lookup("ab"); st != Fresh {
		t.Errorf("ab is %v after the move", st)
	}
}

func TestDeleteTreeExcept(t *testing.T) {
	c, _ := openTest(t, nil)
	for _, p := range []string{"d", "d/old", "d/old/x", "d/kept", "d/kept/y", "d/kept/y/z", "d/keptx", "e"} {
		must(t, c.Put(p, Entry{}))
	}
	must(t, c.PutListing("d", []Entry{{Name: "old", IsDir: true}, {Name: "kept", IsDir: true}, {Name: "keptx"}}))
	must(t, c.PutListing("d/old", []Entry{{Name: "x"}}))
	must(t, c.PutListing("d/kept", []Entry{{Name: "y", IsDir: true}}))
	must(t, c.PutListing("d/kept/y", []Entry{{Name: "z"}}))
	must(t, c.DeleteTreeExcept("d", []string{"kept"}))
	for p, want := range map[string]bool{"d": false, "d/old": false, "d/old/x": false, "d/keptx": false,
		"d/kept": true, "d/kept/y": true, "d/kept/y/z": true, "e": true} {
		if _, st := c.Lookup(p); (st != Miss) != want {
			t.Errorf("Lookup(%q) = %v, want kept=%v", p, st, want)
		}
	}
	for d, want := range map[string]bool{"d": false, "d/old": false, "d/kept": true, "d/kept/y": true} {
		if _, st := c.Listing(d); (st != Miss) != want {
			t.Errorf("Listing(%q) = %v, want kept=%v", d, st, want)
		}
	}
	// d's own listing keys are gone: a new listing of d forgets nothing below kept.
	must(t, c.PutListing("d", nil))
	if _, st := c.Listing("d/kept/y"); st == Miss {
		t.Error("PutListing of d after DeleteTreeExcept dropped what was kept")
	}
}
