package metacache

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMemory100k writes 100,000 entries (ten 10,000-entry listings, so
// 200,000 keys) and logs the process's RSS and Go heap: a measurement for
// the 200 MiB daemon budget, not an assertion beyond a generous sanity bound.
func TestMemory100k(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 entries")
	}
	before := memSnapshot()
	c, _ := openTest(t, nil)
	opened := memSnapshot()
	entries := manyEntries(10000)
	peak := samplePeakHeap(t)
	start := time.Now()
	for d := 0; d < 10; d++ {
		must(t, c.PutListing(fmt.Sprintf("dir%d", d), entries))
	}
	write := time.Since(start)
	for d := 0; d < 10; d++ {
		if got, st := c.Listing(fmt.Sprintf("dir%d", d)); st != Fresh || len(got) != 10000 {
			t.Fatalf("dir%d: %d entries, %v", d, len(got), st)
		}
	}
	after := memSnapshot()
	t.Logf("before Open: %v", before)
	t.Logf("after Open:  %v", opened)
	t.Logf("after 100,000 entries written in %v and read back: %v", write, after)
	t.Logf("peak Go heap in use while writing and reading: %d MiB", peak()>>20)
	if after.heapInuse > 150<<20 {
		t.Fatalf("Go heap in use %d MiB after 100,000 entries", after.heapInuse>>20)
	}
}

// samplePeakHeap samples the Go heap in use until the returned function is
// called, which returns the largest value seen.
func samplePeakHeap(t *testing.T) func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var peak uint64
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	var peak uint64
	get := func() uint64 {
		once.Do(func() { close(stop); peak = <-done })
		return peak
	}
	t.Cleanup(func() { get() })
	return get
}

type mem struct {
	rss, hwm, rssAnon, rssFile int64 // kB from /proc/self/status
	heapInuse, heapIdle        uint64
	heapReleased, totalSys     uint64
}

func (m mem) String() string {
	return fmt.Sprintf("RSS %d MiB (peak %d, anon %d, file %d), Go heap in use %d MiB (idle %d, released %d), Go sys %d MiB",
		m.rss>>10, m.hwm>>10, m.rssAnon>>10, m.rssFile>>10, m.heapInuse>>20, m.heapIdle>>20, m.heapReleased>>20, m.totalSys>>20)
}

func memSnapshot() mem {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := mem{heapInuse: ms.HeapInuse, heapIdle: ms.HeapIdle, heapReleased: ms.HeapReleased, totalSys: ms.Sys}
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		var v int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &v); err == nil {
			m.rss = v
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &v); err == nil {
			m.hwm = v
		}
		if _, err := fmt.Sscanf(line, "RssAnon: %d kB", &v); err == nil {
			m.rssAnon = v
		}
		if _, err := fmt.Sscanf(line, "RssFile: %d kB", &v); err == nil {
			m.rssFile = v
		}
	}
	return m
}
