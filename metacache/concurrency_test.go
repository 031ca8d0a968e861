package metacache

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentUse runs every operation from many goroutines at once; it is
// meant for -race, and checks that nothing fails and that the directories
// nobody removed end up consistent.
func TestConcurrentUse(t *testing.T) {
	c, _ := openTest(t, nil)
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*8)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := fmt.Sprintf("d%d", w%3) // directories shared between workers
			for i := 0; i < rounds; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				errs <- c.SetChild(dir, fileEntry(name, int64(i)))
				c.Lookup(dir + "/" + name)
				c.Listing(dir)
				switch i % 10 {
				case 0:
					errs <- c.PutListing(dir, manyEntries(50))
				case 3:
					errs <- c.RemoveChild(dir, name)
				case 5:
					errs <- c.InvalidateListing(dir)
				case 7:
					errs <- c.DeleteTree(fmt.Sprintf("t%d", w))
					errs <- c.Put(fmt.Sprintf("t%d/x", w), Entry{})
				case 9:
					errs <- c.JournalPut(name, []byte(name))
					errs <- c.JournalDelete(name)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Whatever the interleaving, a cached listing and its children's entries agree.
	for d := 0; d < 3; d++ {
		dir := fmt.Sprintf("d%d", d)
		got, st := c.Listing(dir)
		if st == Miss {
			continue
		}
		for _, e := range got {
			le, st := c.Lookup(dir + "/" + e.Name)
			if st != Fresh || le.Size != e.Size {
				t.Errorf("%s/%s: listing size %d, entry %+v %v", dir, e.Name, e.Size, le, st)
			}
		}
	}
}
