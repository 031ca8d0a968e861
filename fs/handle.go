package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// handle is an open file: over its staged bytes (fl), or, for a read of a
// file that is only in OSS, over a ranged GET stream (rr).
type handle struct {
	fsys  *FS
	fl    *file
	write bool
	rr    *remoteReader
}

var (
	_ gofs.FileReader   = (*handle)(nil)
	_ gofs.FileWriter   = (*handle)(nil)
	_ gofs.FileFlusher  = (*handle)(nil)
	_ gofs.FileFsyncer  = (*handle)(nil)
	_ gofs.FileReleaser = (*handle)(nil)
)

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.rr != nil {
		n, err := h.rr.readAt(dest, off)
		if err != nil {
			return nil, h.fsys.errno("read", err)
		}
		return fuse.ReadResultData(dest[:n]), 0
	}
	n, err := h.fl.fd.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.fsys.errno("read", err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if !h.write {
		return 0, syscall.EBADF
	}
	if err := h.fsys.checkSpace(int64(len(data))); err != nil {
		return 0, h.fsys.errno("write", err)
	}
	n, err := h.fl.fd.WriteAt(data, off)
	h.fsys.wrote(h.fl, off+int64(n))
	if err != nil {
		return uint32(n), h.fsys.errno("write", err)
	}
	return uint32(n), 0
}

// Flush runs at every close(2) of a descriptor: the bytes written are
// durable locally and their upload journaled before it returns.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	ctx = uninterrupted(ctx)
	if !h.write {
		return 0
	}
	_, err := h.fsys.commit(h.fl)
	return h.fsys.errno("close", err)
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if !h.write {
		return 0
	}
	op, err := h.fsys.commit(h.fl)
	if err == nil && op != nil && h.fsys.opt.FsyncRemote {
		err = h.fsys.q.Wait(ctx, op)
	}
	return h.fsys.errno("fsync", err)
}

func (h *handle) Release(ctx context.Context) syscall.Errno {
	if h.rr != nil {
		h.rr.close()
		return 0
	}
	h.fsys.release(h.fl, h.write)
	return 0
}

// remoteReader reads an object that is only in OSS in chunks fetched with
// ranged GETs. While reads go forward it fetches ahead in parallel, a window
// that doubles up to maxWindow chunks, so a cold sequential read runs at the
// speed of several connections; a random read fetches one chunk.
type remoteReader struct {
	fsys *FS
	path string
	size int64

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	chunks map[int64]*chunk // GUARDED_BY(mu): by index
	next   int64            // GUARDED_BY(mu): where a sequential read would go on
	window int64            // GUARDED_BY(mu): chunks to fetch ahead
}

type chunk struct {
	done chan struct{}
	data []byte
	err  error
}

const (
	chunkSize = 2 << 20
	maxWindow = 4
	// prefetchBudget caps the bytes all readers together are fetching ahead
	// of need; with maxWindow it bounds the daemon's read memory.
	prefetchBudget = 64 << 20
)

var prefetched atomic.Int64

func newRemoteReader(f *FS, p string, size int64) *remoteReader {
	ctx, cancel := context.WithCancel(context.Background())
	return &remoteReader{fsys: f, path: p, size: size, ctx: ctx, cancel: cancel, chunks: map[int64]*chunk{}}
}

func (r *remoteReader) readAt(dest []byte, off int64) (int, error) {
	if off >= r.size || len(dest) == 0 {
		return 0, nil
	}
	if rest := r.size - off; int64(len(dest)) > rest {
		dest = dest[:rest]
	}
	end := off + int64(len(dest))
	first, last := off/chunkSize, (end-1)/chunkSize
	r.mu.Lock()
	if off == r.next {
		r.window = min(max(2*r.window, 1), maxWindow)
	} else {
		r.window = 0
	}
	r.next = end
	for i, c := range r.chunks {
		if i < first-1 || i > last+maxWindow {
			r.dropLocked(i, c)
		}
	}
	need := make([]*chunk, 0, last-first+1)
	for i := first; i <= last+r.window && i*chunkSize < r.size; i++ {
		c := r.chunks[i]
		if c == nil {
			ahead := i > last
			if ahead && prefetched.Load() > prefetchBudget {
				break
			}
			c = r.fetch(i, ahead)
			r.chunks[i] = c
		}
		if i <= last {
			need = append(need, c)
		}
	}
	r.mu.Unlock()
	n := 0
	for k, c := range need {
		<-c.done
		if c.err != nil {
			r.mu.Lock()
			r.dropLocked(first+int64(k), c) // a later read tries again
			r.mu.Unlock()
			return n, c.err
		}
		base := (first + int64(k)) * chunkSize
		n += copy(dest[n:], c.data[off+int64(n)-base:])
	}
	return n, nil
}

// fetch starts reading chunk i; ahead chunks count against the budget.
func (r *remoteReader) fetch(i int64, ahead bool) *chunk {
	c := &chunk{done: make(chan struct{})}
	off := i * chunkSize
	n := min(chunkSize, r.size-off)
	if ahead {
		prefetched.Add(n)
	}
	go func() {
		defer close(c.done)
		defer func() {
			if ahead {
				prefetched.Add(-n)
			}
		}()
		buf := make([]byte, n)
		// Resolved at each fetch: a pending move may have run meanwhile.
		err := r.fsys.fromOSS(r.path, func(key string) error {
			body, err := r.fsys.client.GetRange(r.ctx, key, off, n)
			if err == nil {
				_, err = io.ReadFull(body, buf)
				body.Close()
			}
			return err
		})
		if err != nil {
			c.err = fmt.Errorf("read %q at %d: %w", r.path, off, err)
			return
		}
		c.data = buf
	}()
	return c
}

func (r *remoteReader) dropLocked(i int64, c *chunk) {
	if r.chunks[i] == c {
		delete(r.chunks, i)
	}
}

func (r *remoteReader) close() {
	r.cancel()
	r.mu.Lock()
	r.chunks = map[int64]*chunk{}
	r.mu.Unlock()
}
