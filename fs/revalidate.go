package fs

import (
	"context"
	"sync"
	"time"
)

// Revalidation. A directory's cached listing answers lookups and listings
// for the stat TTL (absent names for the negative TTL). Past that, the next
// lookup or listing that needs it does not wait for OSS: it is answered
// from the old listing while one refresh of that listing runs in the
// background (stale-while-revalidate), so a directory being filled with new
// files costs one listing per TTL instead of one LIST per create. An answer
// is served stale only within one more TTL; older listings are refreshed
// before they answer, as are walks (walk.go).

// maxRefreshes bounds the listings refreshed at once in the background.
const maxRefreshes = 4

type revalidator struct {
	mu      sync.Mutex
	running map[string]bool // GUARDED_BY(mu): directories being refreshed
	closed  bool            // GUARDED_BY(mu)
	wg      sync.WaitGroup
	slots   chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
}

func newRevalidator() *revalidator {
	ctx, cancel := context.WithCancel(context.Background())
	return &revalidator{running: map[string]bool{}, slots: make(chan struct{}, maxRefreshes), ctx: ctx, cancel: cancel}
}

// close stops refreshes and waits for the running ones.
func (r *revalidator) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// servable reports whether directory p's cached listing may still answer
// while it is refreshed: it is younger than twice the stat TTL.
func (f *FS) servable(p string) bool {
	if f.opt.StatTTL <= 0 {
		return false
	}
	fetched, ok := f.cache.ListingAge(p)
	return ok && time.Since(fetched) < 2*f.opt.StatTTL
}

// revalidate refreshes directory p's cached listing in the background,
// unless a refresh of it is running already.
func (f *FS) revalidate(p string) {
	r := f.refresh
	r.mu.Lock()
	if r.closed || r.running[p] {
		r.mu.Unlock()
		return
	}
	r.running[p] = true
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer func() {
			r.mu.Lock()
			delete(r.running, p)
			r.mu.Unlock()
			r.wg.Done()
		}()
		select {
		case r.slots <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		defer func() { <-r.slots }()
		if _, err := f.fetchListing(r.ctx, p); err != nil && r.ctx.Err() == nil {
			f.log.Warn("refresh of a cached listing failed; the next lookup asks again", "dir", p, "err", err)
		}
	}()
}
