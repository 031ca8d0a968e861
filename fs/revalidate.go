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

// minRefreshInterval spaces the refreshes of one directory. A refresh
// that saw a change in the directory start or end while it listed keeps
// nothing (see fetchListing); while files keep arriving, refreshing again
// at once would send a LIST per lookup.
const minRefreshInterval = time.Second

type revalidator struct {
	mu      sync.Mutex
	running map[string]chan struct{} // GUARDED_BY(mu): directories being refreshed; closed when done
	started map[string]time.Time     // GUARDED_BY(mu): when each directory's last refresh began
	closed  bool                     // GUARDED_BY(mu)
	wg      sync.WaitGroup
	slots   chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
}

func newRevalidator() *revalidator {
	ctx, cancel := context.WithCancel(context.Background())
	return &revalidator{running: map[string]chan struct{}{}, started: map[string]time.Time{}, slots: make(chan struct{}, maxRefreshes), ctx: ctx, cancel: cancel}
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
	if r.closed || r.running[p] != nil || time.Since(r.started[p]) < minRefreshInterval {
		r.mu.Unlock()
		return
	}
	if len(r.started) > 4096 { // forget what is too old to matter
		for d, at := range r.started {
			if time.Since(at) >= minRefreshInterval {
				delete(r.started, d)
			}
		}
	}
	done := make(chan struct{})
	r.running[p] = done
	r.started[p] = time.Now()
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer func() {
			r.mu.Lock()
			delete(r.running, p)
			r.mu.Unlock()
			close(done)
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

// awaitRefresh waits, at most maxRefreshWait, for a background refresh of
// directory p if one is running, and reports whether there was one. While
// it writes the new listing the cache answers Miss for it: a lookup then
// waits for the listing rather than sending a LIST of its own.
func (f *FS) awaitRefresh(ctx context.Context, p string) bool {
	r := f.refresh
	r.mu.Lock()
	done := r.running[p]
	r.mu.Unlock()
	if done == nil {
		return false
	}
	t := time.NewTimer(maxRefreshWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// maxRefreshWait bounds how long a lookup waits for a refresh in progress
// before it asks OSS itself.
const maxRefreshWait = 2 * time.Second
