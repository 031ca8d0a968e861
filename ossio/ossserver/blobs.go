package ossserver

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// A blob is an immutable run of bytes. Objects and uploaded parts reference
// ranges of blobs (extents); the server counts references and removes a blob
// when the last one goes (see refs in server.go).
type blobStore interface {
	// create starts a new blob; sizeHint (may be -1) lets memory preallocate.
	create(sizeHint int64) (blobWriter, error)
	// open returns a reader of a committed blob.
	open(id string) (blobReader, error)
	// remove deletes a committed blob; errors are only logged by callers.
	remove(id string) error
	// list names every stored blob (for garbage collection at start).
	list() ([]string, error)
}

type blobWriter interface {
	io.Writer
	// commit makes the bytes durable and returns the blob's id.
	commit() (string, error)
	// abort drops the bytes; it is a no-op after commit.
	abort()
}

type blobReader interface {
	io.ReaderAt
	io.Closer
}

func newBlobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// memBlobs keeps blobs in memory.
type memBlobs struct {
	mu    sync.RWMutex
	blobs map[string][]byte // GUARDED_BY(mu)
}

func newMemBlobs() *memBlobs { return &memBlobs{blobs: map[string][]byte{}} }

type memWriter struct {
	m    *memBlobs
	buf  bytes.Buffer
	done bool
}

// maxPrealloc bounds what a Content-Length can make us allocate up front, so
// a lying client cannot make the server allocate gigabytes for nothing.
const maxPrealloc = 512 << 20

func (m *memBlobs) create(sizeHint int64) (blobWriter, error) {
	w := &memWriter{m: m}
	if sizeHint > 0 && sizeHint <= maxPrealloc {
		w.buf.Grow(int(sizeHint))
	}
	return w, nil
}

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

func (w *memWriter) commit() (string, error) {
	id := newBlobID()
	w.m.mu.Lock()
	w.m.blobs[id] = w.buf.Bytes()
	w.m.mu.Unlock()
	w.done = true
	return id, nil
}

func (w *memWriter) abort() { w.buf = bytes.Buffer{} }

type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

func (m *memBlobs) open(id string) (blobReader, error) {
	m.mu.RLock()
	b, ok := m.blobs[id]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", id, os.ErrNotExist)
	}
	return memReader{bytes.NewReader(b)}, nil
}

func (m *memBlobs) remove(id string) error {
	m.mu.Lock()
	delete(m.blobs, id)
	m.mu.Unlock()
	return nil
}

func (m *memBlobs) list() ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ids := make([]string, 0, len(m.blobs))
	for id := range m.blobs {
		ids = append(ids, id)
	}
	return ids, nil
}

// dirBlobs keeps each blob in its own file under dir. Bodies are streamed to
// disk, never held in memory. A blob file that no metadata references (for
// example after a crash mid-upload) is removed at the next start.
type dirBlobs struct{ dir string }

func newDirBlobs(dir string) (*dirBlobs, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	return &dirBlobs{dir: dir}, nil
}

type dirWriter struct {
	f    *os.File
	id   string
	done bool
}

func (d *dirBlobs) path(id string) string { return filepath.Join(d.dir, id) }

func (d *dirBlobs) create(int64) (blobWriter, error) {
	id := newBlobID()
	f, err := os.OpenFile(d.path(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create blob: %w", err)
	}
	return &dirWriter{f: f, id: id}, nil
}

func (w *dirWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *dirWriter) commit() (string, error) {
	// fsync before any metadata can point at the blob: a killed server must
	// never show a torn object.
	if err := w.f.Sync(); err != nil {
		w.abort()
		return "", fmt.Errorf("sync blob: %w", err)
	}
	if err := w.f.Close(); err != nil {
		w.abort()
		return "", fmt.Errorf("close blob: %w", err)
	}
	w.done = true
	return w.id, nil
}

func (w *dirWriter) abort() {
	if w.done {
		return
	}
	w.done = true
	name := w.f.Name()
	_ = w.f.Close()
	_ = os.Remove(name)
}

func (d *dirBlobs) open(id string) (blobReader, error) {
	f, err := os.Open(d.path(id))
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return f, nil
}

func (d *dirBlobs) remove(id string) error {
	if err := os.Remove(d.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove blob: %w", err)
	}
	return nil
}

func (d *dirBlobs) list() ([]string, error) {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	return ids, nil
}
