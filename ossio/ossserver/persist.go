package ossserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// metaStore persists the index. The memory backend uses noPersist; the
// directory backend writes one small JSON file per bucket, object, upload and
// part, each replaced atomically (temp file, fsync, rename, fsync of the
// directory), so a killed server shows either the old or the new state.
//
// Directory layout under Root:
//
//	blobs/<id>                                   object bytes (see dirBlobs)
//	buckets/<name>/bucket.json                   bucket
//	buckets/<name>/objects/<h[:2]>/<h>.json      object; h = hex sha256(key)
//	uploads/<id>/upload.json                     multipart upload
//	uploads/<id>/part-<n>.json                   uploaded part
//
// Keys never become file names: `a`, `a/` and `a/b` coexist, and keys may hold
// any byte a file name cannot.
type metaStore interface {
	saveBucket(b *bucket) error
	deleteBucket(name string) error
	saveObject(bucket string, o *object) error
	deleteObject(bucket, key string) error
	saveUpload(u *upload) error
	savePart(uploadID string, p *part) error
	deleteUpload(id string) error
	load() ([]*bucket, error)
}

type noPersist struct{}

func (noPersist) saveBucket(*bucket) error          { return nil }
func (noPersist) deleteBucket(string) error         { return nil }
func (noPersist) saveObject(string, *object) error  { return nil }
func (noPersist) deleteObject(string, string) error { return nil }
func (noPersist) saveUpload(*upload) error          { return nil }
func (noPersist) savePart(string, *part) error      { return nil }
func (noPersist) deleteUpload(string) error         { return nil }
func (noPersist) load() ([]*bucket, error)          { return nil, nil }

type dirMeta struct{ root string }

func (d dirMeta) bucketDir(name string) string { return filepath.Join(d.root, "buckets", name) }

func (d dirMeta) objectPath(bucket, key string) string {
	h := sha256.Sum256([]byte(key))
	hs := hex.EncodeToString(h[:])
	return filepath.Join(d.bucketDir(bucket), "objects", hs[:2], hs+".json")
}

func (d dirMeta) uploadDir(id string) string { return filepath.Join(d.root, "uploads", id) }

// writeAtomic replaces path with data durably.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func removeDurable(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

func (d dirMeta) saveBucket(b *bucket) error {
	return writeJSON(filepath.Join(d.bucketDir(b.Name), "bucket.json"), b)
}

func (d dirMeta) deleteBucket(name string) error {
	// Remove the marker first: without it the bucket is gone even if the
	// rest of the tree removal is interrupted.
	if err := removeDurable(filepath.Join(d.bucketDir(name), "bucket.json")); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	return os.RemoveAll(d.bucketDir(name))
}

func (d dirMeta) saveObject(bucket string, o *object) error {
	return writeJSON(d.objectPath(bucket, o.Key), o)
}

func (d dirMeta) deleteObject(bucket, key string) error {
	if err := removeDurable(d.objectPath(bucket, key)); err != nil {
		return fmt.Errorf("delete object meta: %w", err)
	}
	return nil
}

func (d dirMeta) saveUpload(u *upload) error {
	return writeJSON(filepath.Join(d.uploadDir(u.ID), "upload.json"), u)
}

func (d dirMeta) savePart(uploadID string, p *part) error {
	return writeJSON(filepath.Join(d.uploadDir(uploadID), "part-"+strconv.Itoa(p.Number)+".json"), p)
}

func (d dirMeta) deleteUpload(id string) error {
	if err := removeDurable(filepath.Join(d.uploadDir(id), "upload.json")); err != nil {
		return fmt.Errorf("delete upload: %w", err)
	}
	return os.RemoveAll(d.uploadDir(id))
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// load reads the whole index back. Leftover temp files are removed.
func (d dirMeta) load() ([]*bucket, error) {
	var out []*bucket
	byName := map[string]*bucket{}
	ents, err := os.ReadDir(filepath.Join(d.root, "buckets"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read buckets: %w", err)
	}
	for _, e := range ents {
		var b bucket
		if err := readJSON(filepath.Join(d.bucketDir(e.Name()), "bucket.json"), &b); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				_ = os.RemoveAll(d.bucketDir(e.Name())) // half-deleted bucket
				continue
			}
			return nil, err
		}
		nb := newBucket(b.Name, b.Created)
		objDir := filepath.Join(d.bucketDir(b.Name), "objects")
		err := filepath.WalkDir(objDir, func(path string, de os.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil
				}
				return err
			}
			if de.IsDir() {
				return nil
			}
			if strings.HasPrefix(de.Name(), ".tmp-") {
				return os.Remove(path)
			}
			var o object
			if err := readJSON(path, &o); err != nil {
				return err
			}
			nb.objs[o.Key] = &o
			nb.added = append(nb.added, o.Key)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load bucket %s: %w", b.Name, err)
		}
		out = append(out, nb)
		byName[nb.Name] = nb
	}
	ups, err := os.ReadDir(filepath.Join(d.root, "uploads"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read uploads: %w", err)
	}
	for _, e := range ups {
		dir := d.uploadDir(e.Name())
		var u upload
		if err := readJSON(filepath.Join(dir, "upload.json"), &u); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				_ = os.RemoveAll(dir)
				continue
			}
			return nil, err
		}
		b := byName[u.Bucket]
		if b == nil {
			_ = os.RemoveAll(dir)
			continue
		}
		u.Parts = map[int]*part{}
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read upload %s: %w", u.ID, err)
		}
		for _, f := range files {
			if !strings.HasPrefix(f.Name(), "part-") {
				if strings.HasPrefix(f.Name(), ".tmp-") {
					_ = os.Remove(filepath.Join(dir, f.Name()))
				}
				continue
			}
			var p part
			if err := readJSON(filepath.Join(dir, f.Name()), &p); err != nil {
				return nil, err
			}
			u.Parts[p.Number] = &p
		}
		b.uploads[u.ID] = &u
	}
	return out, nil
}
