package ossserver

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"hash/crc64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Limits of real OSS.
const (
	maxPartSize   = 5 << 30 // a part, a PutObject body, an append
	maxCopyObject = 1 << 30 // one CopyObject; bigger sources need UploadPartCopy
	maxUserMeta   = 8 << 10 // x-oss-meta-* names and values together
)

var crcTable = crc64.MakeTable(crc64.ECMA)

func quoteETag(sum []byte) string { return `"` + strings.ToUpper(hex.EncodeToString(sum)) + `"` }

// storedHeaders are the request headers kept with an object and answered on
// GET and HEAD.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// objectHeaders collects the content type and the headers stored with an
// object from a request (PutObject, InitiateMultipartUpload, first append,
// CopyObject with REPLACE).
func objectHeaders(r *http.Request) (string, map[string]string, *ossError) {
	out := map[string]string{}
	size := 0
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-meta-") {
			out[lk] = v[0]
			size += len(lk) + len(v[0])
		}
	}
	if size > maxUserMeta {
		return "", nil, errInvalidArgument("The user metadata (x-oss-meta-*) exceeds 8 KB.")
	}
	for _, k := range storedHeaders {
		if v := r.Header.Get(k); v != "" {
			out[k] = v
		}
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	return ct, out, nil
}

// received is a request body stored as a new blob.
type received struct {
	exts []extent // one extent, pinned once; none for an empty body
	size int64
	md5  []byte
	crc  uint64
}

// receive streams the request body into a new blob, checking size and
// Content-MD5. On success the blob is pinned once for the caller.
func (s *Server) receive(c *reqCtx, limit int64) (received, *ossError) {
	var rv received
	if c.r.ContentLength > limit {
		return rv, newErr(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	bw, err := s.blobs.create(c.r.ContentLength)
	if err != nil {
		return rv, errInternal(err)
	}
	mh := md5.New()
	ch := crc64.New(crcTable)
	dst := io.MultiWriter(bw, mh, ch)
	n, err := io.CopyBuffer(countingWriter{dst, &s.stats.received}, io.LimitReader(c.r.Body, limit+1), make([]byte, 256<<10))
	if err != nil {
		bw.abort()
		return rv, newErr(http.StatusBadRequest, "IncompleteBody", "The request body could not be read: %v", err)
	}
	if n > limit {
		bw.abort()
		return rv, newErr(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	if c.r.ContentLength >= 0 && n != c.r.ContentLength {
		bw.abort()
		return rv, newErr(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	rv.size, rv.md5, rv.crc = n, mh.Sum(nil), ch.Sum64()
	if want := c.r.Header.Get("Content-MD5"); want != "" {
		if want != base64.StdEncoding.EncodeToString(rv.md5) {
			bw.abort()
			return rv, newErr(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified did not match what we received.")
		}
	}
	if n == 0 {
		bw.abort()
		return rv, nil
	}
	id, err := bw.commit()
	if err != nil {
		return rv, errInternal(err)
	}
	s.mu.Lock()
	s.refs[id]++
	s.mu.Unlock()
	rv.exts = []extent{{Blob: id, Len: n}}
	return rv, nil
}

// commitObject replaces (bucket, key) by what build returns, under the key's
// lock. build sees the current object (nil if none); it owns the pins of
// the extents it puts in the new object and must release them if it fails.
// If persisting fails, commitObject releases them.
func (s *Server) commitObject(bucket, key string, build func(old *object) (*object, *ossError)) (*object, *ossError) {
	lk := s.keyLock(bucket, key)
	lk.Lock()
	defer lk.Unlock()
	s.mu.Lock()
	b := s.buckets[bucket]
	var old *object
	if b != nil {
		old = b.objs[key]
	}
	s.mu.Unlock()
	if b == nil {
		return nil, errNoSuchBucket(bucket)
	}
	o, e := build(old)
	if e != nil {
		return nil, e
	}
	if err := s.meta.saveObject(bucket, o); err != nil {
		s.unpin(o.Extents)
		return nil, errInternal(err)
	}
	s.mu.Lock()
	var dead []string
	if b := s.buckets[bucket]; b != nil {
		if replaced := b.setObject(o); replaced != nil {
			dead = s.unpinLocked(replaced.Extents)
		}
	}
	s.mu.Unlock()
	s.dropBlobs(dead)
	return o, nil
}

func forbidOverwrite(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("x-oss-forbid-overwrite"), "true")
}

func errAlreadyExists() *ossError {
	return newErr(http.StatusConflict, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
}

func (s *Server) putObject(c *reqCtx) *ossError {
	ct, hdrs, e := objectHeaders(c.r)
	if e != nil {
		return e
	}
	forbid := forbidOverwrite(c.r)
	if forbid && s.peek(c.bucket, c.key) != nil {
		return errAlreadyExists()
	}
	rv, e := s.receive(c, maxPartSize)
	if e != nil {
		return e
	}
	o, e := s.commitObject(c.bucket, c.key, func(old *object) (*object, *ossError) {
		if forbid && old != nil {
			s.unpin(rv.exts)
			return nil, errAlreadyExists()
		}
		return &object{
			Key: c.key, Size: rv.size, ETag: quoteETag(rv.md5), CRC: rv.crc, Type: typeNormal,
			Modified: now(), ContentType: ct, Headers: hdrs, Extents: rv.exts,
		}, nil
	})
	if e != nil {
		return e
	}
	h := c.w.Header()
	h.Set("ETag", o.ETag)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC, 10))
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(rv.md5))
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// now is the modification time given to new objects: UTC, whole seconds,
// as OSS keeps it (listings say ".000Z"; clients such as ossfs 2.0 refuse
// other fractions, and Last-Modified headers carry seconds only).
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// peek returns the current object without pinning it (for early checks).
func (s *Server) peek(bucket, key string) *object {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[bucket]; b != nil {
		return b.objs[key]
	}
	return nil
}

// acquire returns the object with its extents pinned; release with s.unpin(o.Extents).
func (s *Server) acquire(bucket, key string) (*object, *ossError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil {
		return nil, errNoSuchBucket(bucket)
	}
	o := b.objs[key]
	if o == nil {
		return nil, errNoSuchKey()
	}
	s.pinLocked(o.Extents)
	return o, nil
}

func setObjectHeaders(h http.Header, o *object) {
	h.Set("Content-Type", o.ContentType)
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	h.Set("x-oss-object-type", o.Type)
	h.Set("x-oss-storage-class", "Standard")
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC, 10))
	h.Set("Accept-Ranges", "bytes")
	if o.Type == typeAppendable {
		h.Set("x-oss-next-append-position", strconv.FormatInt(o.Size, 10))
	}
	for k, v := range o.Headers {
		h.Set(k, v)
	}
}

// checkConditions applies If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since; it returns 304 or 412 answers as errors.
func checkConditions(h http.Header, o *object, prefix string) *ossError {
	etagEq := func(v string) bool {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.Trim(strings.TrimSpace(t), `"`)
			if t == "*" || strings.EqualFold(t, strings.Trim(o.ETag, `"`)) {
				return true
			}
		}
		return false
	}
	failed := newErr(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
	notModified := &ossError{Status: http.StatusNotModified, Code: "NotModified", Message: "Not Modified"}
	if prefix != "" { // copy sources answer 412 for every failed condition
		notModified = failed
	}
	mod := o.Modified.Truncate(time.Second)
	if v := h.Get(prefix + "If-Match"); v != "" && !etagEq(v) {
		return failed
	}
	if v := h.Get(prefix + "If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return failed
		}
	}
	if v := h.Get(prefix + "If-None-Match"); v != "" && etagEq(v) {
		return notModified
	}
	if v := h.Get(prefix + "If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			return notModified
		}
	}
	return nil
}

func (s *Server) headObject(c *reqCtx) *ossError {
	o, e := s.acquire(c.bucket, c.key)
	if e != nil {
		return e
	}
	defer s.unpin(o.Extents)
	if c.api == "HeadObject" {
		if e := checkConditions(c.r.Header, o, ""); e != nil {
			return e
		}
	}
	h := c.w.Header()
	setObjectHeaders(h, o)
	h.Set("Content-Length", strconv.FormatInt(o.Size, 10))
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObject(c *reqCtx) *ossError {
	o, e := s.acquire(c.bucket, c.key)
	if e != nil {
		return e
	}
	defer s.unpin(o.Extents)
	if e := checkConditions(c.r.Header, o, ""); e != nil {
		return e
	}
	start, length, partial, e := parseRange(c.r.Header.Get("Range"), o.Size,
		strings.EqualFold(c.r.Header.Get("x-oss-range-behavior"), "standard"))
	if e != nil {
		return e
	}
	h := c.w.Header()
	setObjectHeaders(h, o)
	for _, p := range c.query {
		if name, ok := strings.CutPrefix(p.Key, "response-"); ok {
			h.Set(http.CanonicalHeaderKey(name), p.Value)
		}
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(o.Size, 10))
		status = http.StatusPartialContent
	}
	c.w.WriteHeader(status)
	exts := sliceExtents(o.Extents, start, length)
	send := length
	if c.cut {
		send = length / 2
	}
	rd := newExtentReader(s.blobs, exts)
	defer rd.Close()
	_, err := io.CopyBuffer(countingWriter{c.w, &s.stats.sent}, io.LimitReader(rd, send), make([]byte, 256<<10))
	if err != nil && !errors.Is(err, io.EOF) {
		s.log.Debug("get object body", "key", c.key, "err", err)
		panic(http.ErrAbortHandler)
	}
	if c.cut {
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		}
		s.log.Debug("injected fault: cutting body", "key", c.key, "sent", send, "of", length)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) deleteObject(c *reqCtx) *ossError {
	if e := s.removeObject(c.bucket, c.key); e != nil {
		return e
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseCopySource decodes x-oss-copy-source: /BUCKET/<QueryEscaped key>.
func parseCopySource(v string) (string, string, *ossError) {
	bad := errInvalidArgument("x-oss-copy-source is invalid.")
	if !strings.HasPrefix(v, "/") {
		return "", "", bad
	}
	v, q, _ := strings.Cut(v[1:], "?")
	if q != "" {
		return "", "", newErr(http.StatusNotImplemented, "NotImplemented", "Versioned copy sources are not implemented by this server.")
	}
	b, k, ok := strings.Cut(v, "/")
	if !ok {
		return "", "", bad
	}
	key, err := url.QueryUnescape(k)
	if err != nil {
		return "", "", bad
	}
	if !validBucketName(b) {
		return "", "", newErr(http.StatusBadRequest, "InvalidBucketName", "The specified source bucket is not valid.")
	}
	if e := checkKey(key); e != nil {
		return "", "", e
	}
	return b, key, nil
}

func errAppendableSource() *ossError {
	return newErr(http.StatusBadRequest, "InvalidArgument", "The source object is an appendable object, which cannot be copied.")
}

// acquireCopySource pins the object named by x-oss-copy-source after its
// conditions pass.
func (s *Server) acquireCopySource(c *reqCtx) (*object, *ossError) {
	sb, sk, e := parseCopySource(c.r.Header.Get("x-oss-copy-source"))
	if e != nil {
		return nil, e
	}
	src, e := s.acquire(sb, sk)
	if e != nil {
		return nil, e
	}
	if src.Type == typeAppendable {
		s.unpin(src.Extents)
		return nil, errAppendableSource()
	}
	if e := checkConditions(c.r.Header, src, "x-oss-copy-source-"); e != nil {
		s.unpin(src.Extents)
		return nil, e
	}
	return src, nil
}

func (s *Server) copyObject(c *reqCtx) *ossError {
	directive := strings.ToUpper(c.r.Header.Get("x-oss-metadata-directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument("x-oss-metadata-directive must be COPY or REPLACE.")
	}
	src, e := s.acquireCopySource(c)
	if e != nil {
		return e
	}
	if src.Size > maxCopyObject {
		s.unpin(src.Extents)
		return newErr(http.StatusBadRequest, "EntityTooLarge", "CopyObject copies at most 1 GiB; use UploadPartCopy for bigger objects.")
	}
	ct, hdrs := src.ContentType, src.Headers
	if directive == "REPLACE" {
		var e *ossError
		if ct, hdrs, e = objectHeaders(c.r); e != nil {
			s.unpin(src.Extents)
			return e
		}
	}
	forbid := forbidOverwrite(c.r)
	o, e := s.commitObject(c.bucket, c.key, func(old *object) (*object, *ossError) {
		if forbid && old != nil {
			s.unpin(src.Extents)
			return nil, errAlreadyExists()
		}
		// The source's pins become the copy's: no byte is rewritten.
		return &object{
			Key: c.key, Size: src.Size, ETag: src.ETag, CRC: src.CRC, Type: src.Type,
			Modified: now(), ContentType: ct, Headers: hdrs, Extents: src.Extents,
		}, nil
	})
	if e != nil {
		return e
	}
	s.stats.copied.Add(o.Size)
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC, 10))
	c.w.Header().Set("ETag", o.ETag)
	return writeXML(c, http.StatusOK, copyResult{XMLName: xml.Name{Local: "CopyObjectResult"}, ETag: o.ETag, LastModified: xmlTime(o.Modified)})
}

func (s *Server) appendObject(c *reqCtx) *ossError {
	pos, err := strconv.ParseInt(c.q["position"], 10, 64)
	if err != nil || pos < 0 {
		return errInvalidArgument("position must be a non-negative integer.")
	}
	check := func(old *object) *ossError {
		var size int64
		if old != nil {
			if old.Type != typeAppendable {
				return newErr(http.StatusConflict, "ObjectNotAppendable", "The object is not appendable.")
			}
			size = old.Size
		}
		if pos != size {
			e := newErr(http.StatusConflict, "PositionNotEqualToLength", "Position is not equal to file length.")
			e.Header = map[string]string{"x-oss-next-append-position": strconv.FormatInt(size, 10)}
			return e
		}
		return nil
	}
	if e := check(s.peek(c.bucket, c.key)); e != nil {
		return e
	}
	ct, hdrs, e := objectHeaders(c.r)
	if e != nil {
		return e
	}
	rv, e := s.receive(c, maxPartSize)
	if e != nil {
		return e
	}
	o, e := s.commitObject(c.bucket, c.key, func(old *object) (*object, *ossError) {
		if e := check(old); e != nil {
			s.unpin(rv.exts)
			return nil, e
		}
		n := &object{Key: c.key, Type: typeAppendable, Modified: now(), ContentType: ct, Headers: hdrs}
		var prevTag string
		if old != nil {
			s.mu.Lock()
			s.pinLocked(old.Extents)
			s.mu.Unlock()
			n.Extents = append(append(n.Extents, old.Extents...), rv.exts...)
			n.Size = old.Size + rv.size
			n.CRC = oss.CRC64Combine(old.CRC, rv.crc, uint64(rv.size))
			n.ContentType, n.Headers = old.ContentType, old.Headers
			prevTag = old.ETag
		} else {
			n.Extents, n.Size, n.CRC = rv.exts, rv.size, rv.crc
		}
		// An appendable object's ETag is not the MD5 of its content.
		sum := md5.Sum([]byte(prevTag + hex.EncodeToString(rv.md5)))
		n.ETag = quoteETag(sum[:])
		return n, nil
	})
	if e != nil {
		return e
	}
	h := c.w.Header()
	h.Set("ETag", o.ETag)
	h.Set("x-oss-next-append-position", strconv.FormatInt(o.Size, 10))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC, 10))
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}
