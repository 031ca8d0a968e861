package ossserver

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Object types as OSS names them in x-oss-object-type and listings.
const (
	typeNormal     = "Normal"
	typeMultipart  = "Multipart"
	typeAppendable = "Appendable"
)

// extent is a byte range of a blob.
type extent struct {
	Blob string `json:"blob"`
	Off  int64  `json:"off"`
	Len  int64  `json:"len"`
}

// object is one stored object. It is immutable once in the index: changes
// replace the pointer, so a reader that took a pointer (and pinned its
// extents) can use it without a lock.
type object struct {
	Key         string            `json:"key"`
	Size        int64             `json:"size"`
	ETag        string            `json:"etag"` // quoted
	CRC         uint64            `json:"crc"`
	Type        string            `json:"type"`
	Modified    time.Time         `json:"modified"`
	ContentType string            `json:"content_type"`
	Headers     map[string]string `json:"headers,omitempty"` // x-oss-meta-* (lower-cased) and standard headers kept with the object
	Extents     []extent          `json:"extents"`
}

// part is one uploaded part of a multipart upload.
type part struct {
	Number   int       `json:"number"`
	Size     int64     `json:"size"`
	ETag     string    `json:"etag"` // quoted upper-case MD5
	CRC      uint64    `json:"crc"`
	Modified time.Time `json:"modified"`
	Extents  []extent  `json:"extents"`
}

// upload is a multipart upload in progress.
type upload struct {
	ID          string            `json:"id"`
	Bucket      string            `json:"bucket"`
	Key         string            `json:"key"`
	Initiated   time.Time         `json:"initiated"`
	ContentType string            `json:"content_type"`
	Headers     map[string]string `json:"headers,omitempty"`
	Parts       map[int]*part     `json:"-"`
}

// bucket holds a bucket's objects and uploads.
type bucket struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// keys is sorted (byte order) but, until sortedKeys runs, may still
	// hold deleted keys and lack the keys in added: a put or delete costs
	// O(1), and a listing after a run of them sorts the new keys once
	// (a sorted insert moved the whole slice: O(n) a put, hours for a
	// bucket of a million objects).
	keys    []string
	added   []string // keys of objs not yet in keys, in no order
	stale   bool     // keys holds deleted keys
	objs    map[string]*object
	uploads map[string]*upload // by upload id
}

func newBucket(name string, created time.Time) *bucket {
	return &bucket{Name: name, Created: created, objs: map[string]*object{}, uploads: map[string]*upload{}}
}

// setObject inserts or replaces o and returns the object it replaced.
func (b *bucket) setObject(o *object) *object {
	old := b.objs[o.Key]
	b.objs[o.Key] = o
	if old == nil {
		b.added = append(b.added, o.Key)
	}
	return old
}

// deleteObject removes key and returns the removed object, if any.
func (b *bucket) deleteObject(key string) *object {
	old := b.objs[key]
	if old == nil {
		return nil
	}
	delete(b.objs, key)
	b.stale = true
	return old
}

// sortedKeys returns every key of objs, sorted, once: keys merged with the
// added ones, without the deleted ones.
func (b *bucket) sortedKeys() []string {
	if len(b.added) == 0 && !b.stale {
		return b.keys
	}
	slices.Sort(b.added)
	merged := make([]string, 0, len(b.keys)+len(b.added))
	i, j := 0, 0
	for i < len(b.keys) || j < len(b.added) {
		var k string
		if j >= len(b.added) || i < len(b.keys) && b.keys[i] < b.added[j] {
			k, i = b.keys[i], i+1
		} else {
			k, j = b.added[j], j+1
		}
		// A key deleted and put again is in both; a deleted one in neither objs.
		if b.objs[k] != nil && (len(merged) == 0 || merged[len(merged)-1] != k) {
			merged = append(merged, k)
		}
	}
	b.keys, b.added, b.stale = merged, nil, false
	return b.keys
}

// sliceExtents returns the extents covering [off, off+n) of exts.
func sliceExtents(exts []extent, off, n int64) []extent {
	var out []extent
	for _, e := range exts {
		if n <= 0 {
			break
		}
		if off >= e.Len {
			off -= e.Len
			continue
		}
		take := min(e.Len-off, n)
		out = append(out, extent{Blob: e.Blob, Off: e.Off + off, Len: take})
		n -= take
		off = 0
	}
	return out
}

// extentReader reads a run of extents in order.
type extentReader struct {
	blobs blobStore
	exts  []extent
	cur   io.Reader
	open  blobReader
}

func newExtentReader(blobs blobStore, exts []extent) *extentReader {
	return &extentReader{blobs: blobs, exts: exts}
}

func (r *extentReader) Read(p []byte) (int, error) {
	for {
		if r.cur != nil {
			n, err := r.cur.Read(p)
			if err == io.EOF {
				_ = r.open.Close()
				r.cur, r.open = nil, nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		if len(r.exts) == 0 {
			return 0, io.EOF
		}
		e := r.exts[0]
		r.exts = r.exts[1:]
		br, err := r.blobs.open(e.Blob)
		if err != nil {
			return 0, fmt.Errorf("read extent: %w", err)
		}
		r.open = br
		r.cur = io.NewSectionReader(br, e.Off, e.Len)
	}
}

func (r *extentReader) Close() error {
	if r.open != nil {
		err := r.open.Close()
		r.cur, r.open = nil, nil
		return err
	}
	return nil
}
