package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/ossio"
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
	if !h.write {
		return 0
	}
	_, err := h.fsys.commit(h.fl)
	return h.fsys.errno("close", err)
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
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

// remoteReader streams an object with ranged GETs, reopening the stream
// only when a read does not follow on from the last one.
type remoteReader struct {
	fsys *FS
	path string
	size int64

	mu   sync.Mutex
	body io.ReadCloser // GUARDED_BY(mu)
	pos  int64         // GUARDED_BY(mu): offset body reads next
}

// maxSkip is how far ahead a read may start and still reuse the stream:
// the kernel's read-ahead can arrive slightly out of order.
const maxSkip = 1 << 20

func (r *remoteReader) readAt(dest []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, nil
	}
	if rest := r.size - off; int64(len(dest)) > rest {
		dest = dest[:rest]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if r.body != nil && (off < r.pos || off-r.pos > maxSkip) {
			r.body.Close()
			r.body = nil
		}
		if r.body == nil {
			// Resolved at each (re)open: a pending move may have run meanwhile.
			_, key := overlay(r.fsys.q.Snapshot(), r.fsys.key(r.path))
			body, err := r.fsys.client.GetRange(context.Background(), key, off, -1)
			if ossio.IsNotFound(err) && attempt == 0 {
				lastErr = err
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("read %q at %d: %w", r.path, off, err)
			}
			r.body, r.pos = body, off
		}
		if skip := off - r.pos; skip > 0 {
			if _, err := io.CopyN(io.Discard, r.body, skip); err != nil {
				lastErr = err
				r.body.Close()
				r.body = nil
				continue
			}
			r.pos = off
		}
		n, err := io.ReadFull(r.body, dest)
		r.pos += int64(n)
		if err == nil {
			return n, nil
		}
		// A stream cut short: resume from where it stopped.
		lastErr = err
		r.body.Close()
		r.body = nil
		if n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("read %q at %d: %w", r.path, off, lastErr)
}

func (r *remoteReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}
