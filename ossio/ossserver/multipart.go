package ossserver

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

const (
	maxPartNumber  = 10000
	minPartSize    = 100 << 10 // every part but the last, checked at Complete
	maxCompleteXML = 8 << 20
)

func newUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// findUpload returns the upload id of (bucket, key); call with mu held.
func (s *Server) findUploadLocked(bucket, key, id string) (*bucket, *upload, *ossError) {
	b := s.buckets[bucket]
	if b == nil {
		return nil, nil, errNoSuchBucket(bucket)
	}
	u := b.uploads[id]
	if u == nil || u.Key != key {
		return nil, nil, errNoSuchUpload()
	}
	return b, u, nil
}

func (s *Server) checkUpload(bucket, key, id string) *ossError {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, e := s.findUploadLocked(bucket, key, id)
	return e
}

type initiateResult struct {
	XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	UploadID     string   `xml:"UploadId"`
	EncodingType string   `xml:"EncodingType,omitempty"`
}

func (s *Server) initiateUpload(c *reqCtx) *ossError {
	enc, et, e := encoder(c)
	if e != nil {
		return e
	}
	ct, hdrs, e := objectHeaders(c.r)
	if e != nil {
		return e
	}
	if forbidOverwrite(c.r) {
		if s.peek(c.bucket, c.key) != nil {
			return errAlreadyExists()
		}
		hdrs["x-oss-forbid-overwrite"] = "true"
	}
	u := &upload{ID: newUploadID(), Bucket: c.bucket, Key: c.key, Initiated: now(), ContentType: ct, Headers: hdrs, Parts: map[int]*part{}}
	if err := s.meta.saveUpload(u); err != nil {
		return errInternal(err)
	}
	s.mu.Lock()
	b := s.buckets[c.bucket]
	if b != nil {
		b.uploads[u.ID] = u
	}
	s.mu.Unlock()
	if b == nil {
		_ = s.meta.deleteUpload(u.ID)
		return errNoSuchBucket(c.bucket)
	}
	return writeXML(c, http.StatusOK, initiateResult{Bucket: c.bucket, Key: enc(c.key), UploadID: u.ID, EncodingType: et})
}

func partNumber(c *reqCtx) (int, *ossError) {
	n, err := strconv.Atoi(c.q["partNumber"])
	if err != nil || n < 1 || n > maxPartNumber {
		return 0, errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive.")
	}
	return n, nil
}

// commitPart stores p in the upload, replacing a part of the same number.
// It owns p's pins.
func (s *Server) commitPart(bucket, key, id string, p *part) *ossError {
	lk := s.keyLock(bucket, key)
	lk.Lock()
	defer lk.Unlock()
	if e := s.checkUpload(bucket, key, id); e != nil {
		s.unpin(p.Extents)
		return e
	}
	if err := s.meta.savePart(id, p); err != nil {
		s.unpin(p.Extents)
		return errInternal(err)
	}
	s.mu.Lock()
	var dead []string
	if _, u, e := s.findUploadLocked(bucket, key, id); e == nil {
		if old := u.Parts[p.Number]; old != nil {
			dead = s.unpinLocked(old.Extents)
		}
		u.Parts[p.Number] = p
	}
	s.mu.Unlock()
	s.dropBlobs(dead)
	return nil
}

func (s *Server) uploadPart(c *reqCtx) *ossError {
	n, e := partNumber(c)
	if e != nil {
		return e
	}
	id := c.q["uploadId"]
	if e := s.checkUpload(c.bucket, c.key, id); e != nil {
		return e
	}
	rv, e := s.receive(c, maxPartSize)
	if e != nil {
		return e
	}
	p := &part{Number: n, Size: rv.size, ETag: quoteETag(rv.md5), CRC: rv.crc, Modified: now(), Extents: rv.exts}
	if e := s.commitPart(c.bucket, c.key, id, p); e != nil {
		return e
	}
	h := c.w.Header()
	h.Set("ETag", p.ETag)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.CRC, 10))
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopyRange reads x-oss-copy-source-range ("bytes=a-b"; the end is
// clipped to the source's size).
func parseCopyRange(v string, size int64) (int64, int64, *ossError) {
	if v == "" {
		return 0, size, nil
	}
	bad := errInvalidArgument("x-oss-copy-source-range %q is invalid for a source of %d bytes.", v, size)
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return 0, 0, bad
	}
	a, b, ok := strings.Cut(spec, "-")
	start, err := strconv.ParseInt(a, 10, 64)
	if !ok || err != nil || start < 0 || start >= size {
		return 0, 0, bad
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, bad
		}
		end = min(e, size-1)
	}
	return start, end - start + 1, nil
}

func (s *Server) uploadPartCopy(c *reqCtx) *ossError {
	n, e := partNumber(c)
	if e != nil {
		return e
	}
	id := c.q["uploadId"]
	if e := s.checkUpload(c.bucket, c.key, id); e != nil {
		return e
	}
	src, e := s.acquireCopySource(c)
	if e != nil {
		return e
	}
	start, length, e := parseCopyRange(c.r.Header.Get("x-oss-copy-source-range"), src.Size)
	if e != nil {
		s.unpin(src.Extents)
		return e
	}
	if length > maxPartSize {
		s.unpin(src.Extents)
		return newErr(http.StatusBadRequest, "EntityTooLarge", "A part is at most 5 GB.")
	}
	exts := sliceExtents(src.Extents, start, length)
	s.mu.Lock()
	s.pinLocked(exts)
	dead := s.unpinLocked(src.Extents)
	s.mu.Unlock()
	s.dropBlobs(dead)
	// The part shares the source's bytes; only its MD5 and CRC need a read.
	mh, ch := md5.New(), crc64.New(crcTable)
	rd := newExtentReader(s.blobs, exts)
	_, err := io.CopyBuffer(io.MultiWriter(mh, ch), rd, make([]byte, 256<<10))
	_ = rd.Close()
	if err != nil {
		s.unpin(exts)
		return errInternal(fmt.Errorf("read copy source: %w", err))
	}
	p := &part{Number: n, Size: length, ETag: quoteETag(mh.Sum(nil)), CRC: ch.Sum64(), Modified: now(), Extents: exts}
	if e := s.commitPart(c.bucket, c.key, id, p); e != nil {
		return e
	}
	s.stats.copied.Add(length)
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.CRC, 10))
	return writeXML(c, http.StatusOK, copyResult{XMLName: xml.Name{Local: "CopyPartResult"}, LastModified: xmlTime(p.Modified), ETag: p.ETag})
}

type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeResult struct {
	XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Location     string   `xml:"Location"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	ETag         string   `xml:"ETag"`
}

func normETag(t string) string { return strings.ToUpper(strings.Trim(strings.TrimSpace(t), `"`)) }

func (s *Server) completeUpload(c *reqCtx) *ossError {
	enc, et, e := encoder(c)
	if e != nil {
		return e
	}
	id := c.q["uploadId"]
	all := strings.EqualFold(c.r.Header.Get("x-oss-complete-all"), "yes")
	var req completeRequest
	if !all {
		body, err := io.ReadAll(io.LimitReader(c.r.Body, maxCompleteXML+1))
		if err != nil {
			return newErr(http.StatusBadRequest, "IncompleteBody", "The request body could not be read.")
		}
		if len(body) > maxCompleteXML {
			return errMalformedXML("body too large")
		}
		if err := xml.Unmarshal(body, &req); err != nil {
			return errMalformedXML(err.Error())
		}
		if len(req.Parts) == 0 {
			return errMalformedXML("no Part element")
		}
	}

	lk := s.keyLock(c.bucket, c.key)
	lk.Lock()
	defer lk.Unlock()
	s.mu.Lock()
	b, u, e := s.findUploadLocked(c.bucket, c.key, id)
	var parts []*part
	if e == nil {
		parts, e = choosParts(u, req, all)
	}
	var old *object
	if e == nil {
		old = b.objs[c.key]
	}
	s.mu.Unlock()
	if e != nil {
		return e
	}
	if old != nil && (forbidOverwrite(c.r) || u.Headers["x-oss-forbid-overwrite"] == "true") {
		return errAlreadyExists()
	}

	o := &object{Key: c.key, Type: typeMultipart, Modified: now(), ContentType: u.ContentType, Headers: map[string]string{}}
	for k, v := range u.Headers {
		if k != "x-oss-forbid-overwrite" {
			o.Headers[k] = v
		}
	}
	md := md5.New()
	for i, p := range parts {
		raw, _ := hex.DecodeString(normETag(p.ETag))
		md.Write(raw)
		o.Extents = append(o.Extents, p.Extents...)
		if i == 0 {
			o.CRC = p.CRC
		} else {
			o.CRC = oss.CRC64Combine(o.CRC, p.CRC, uint64(p.Size))
		}
		o.Size += p.Size
	}
	o.ETag = `"` + strings.ToUpper(hex.EncodeToString(md.Sum(nil))) + "-" + strconv.Itoa(len(parts)) + `"`

	if err := s.meta.saveObject(c.bucket, o); err != nil {
		return errInternal(err)
	}
	if err := s.meta.deleteUpload(id); err != nil {
		s.log.Warn("delete completed upload", "upload", id, "err", err)
	}
	// The chosen parts' pins move to the object; other parts are dropped.
	used := map[int]bool{}
	for _, p := range parts {
		used[p.Number] = true
	}
	s.mu.Lock()
	var dead []string
	for n, p := range u.Parts {
		if !used[n] {
			dead = append(dead, s.unpinLocked(p.Extents)...)
		}
	}
	delete(b.uploads, id)
	if replaced := b.setObject(o); replaced != nil {
		dead = append(dead, s.unpinLocked(replaced.Extents)...)
	}
	s.mu.Unlock()
	s.dropBlobs(dead)

	h := c.w.Header()
	h.Set("ETag", o.ETag)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC, 10))
	return writeXML(c, http.StatusOK, completeResult{
		EncodingType: et, Location: "http://" + c.r.Host + "/" + c.bucket + "/" + sdkEscape(c.key),
		Bucket: c.bucket, Key: enc(c.key), ETag: o.ETag,
	})
}

// choosParts checks the client's part list against the upload (mu held).
func choosParts(u *upload, req completeRequest, all bool) ([]*part, *ossError) {
	var parts []*part
	if all {
		nums := make([]int, 0, len(u.Parts))
		for n := range u.Parts {
			nums = append(nums, n)
		}
		slices.Sort(nums)
		for _, n := range nums {
			parts = append(parts, u.Parts[n])
		}
		if len(parts) == 0 {
			return nil, newErr(http.StatusBadRequest, "InvalidPart", "The upload has no part.")
		}
	} else {
		prev := 0
		for _, rp := range req.Parts {
			if rp.PartNumber <= prev {
				return nil, newErr(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.")
			}
			prev = rp.PartNumber
			p := u.Parts[rp.PartNumber]
			if p == nil || normETag(rp.ETag) != normETag(p.ETag) {
				return nil, newErr(http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag (part %d).", rp.PartNumber)
			}
			parts = append(parts, p)
		}
	}
	for i, p := range parts[:len(parts)-1] {
		if p.Size < minPartSize {
			return nil, newErr(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size: part %d (position %d) has %d bytes; every part but the last needs at least %d.", p.Number, i+1, p.Size, minPartSize)
		}
	}
	return parts, nil
}

func (s *Server) abortUpload(c *reqCtx) *ossError {
	id := c.q["uploadId"]
	lk := s.keyLock(c.bucket, c.key)
	lk.Lock()
	defer lk.Unlock()
	if e := s.checkUpload(c.bucket, c.key, id); e != nil {
		return e
	}
	if err := s.meta.deleteUpload(id); err != nil {
		return errInternal(err)
	}
	s.mu.Lock()
	var dead []string
	if b, u, e := s.findUploadLocked(c.bucket, c.key, id); e == nil {
		for _, p := range u.Parts {
			dead = append(dead, s.unpinLocked(p.Extents)...)
		}
		delete(b.uploads, id)
	}
	s.mu.Unlock()
	s.dropBlobs(dead)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

type xmlPart struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	CRC          string `xml:"HashCrc64ecma"`
}

type listPartsResult struct {
	XMLName              xml.Name  `xml:"ListPartsResult"`
	EncodingType         string    `xml:"EncodingType,omitempty"`
	Bucket               string    `xml:"Bucket"`
	Key                  string    `xml:"Key"`
	UploadID             string    `xml:"UploadId"`
	PartNumberMarker     int       `xml:"PartNumberMarker"`
	NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
	MaxParts             int       `xml:"MaxParts"`
	IsTruncated          bool      `xml:"IsTruncated"`
	Parts                []xmlPart `xml:"Part"`
}

func (s *Server) listParts(c *reqCtx) *ossError {
	enc, et, e := encoder(c)
	if e != nil {
		return e
	}
	max, e := intParam(c, "max-parts", 1000, 1, 1000)
	if e != nil {
		return e
	}
	marker, e := intParam(c, "part-number-marker", 0, 0, maxPartNumber)
	if e != nil {
		return e
	}
	id := c.q["uploadId"]
	res := listPartsResult{EncodingType: et, Bucket: c.bucket, Key: enc(c.key), UploadID: id, PartNumberMarker: marker, MaxParts: max}
	s.mu.Lock()
	_, u, e := s.findUploadLocked(c.bucket, c.key, id)
	var parts []*part
	if e == nil {
		for n, p := range u.Parts {
			if n > marker {
				parts = append(parts, p)
			}
		}
	}
	s.mu.Unlock()
	if e != nil {
		return e
	}
	slices.SortFunc(parts, func(a, b *part) int { return a.Number - b.Number })
	if len(parts) > max {
		parts = parts[:max]
		res.IsTruncated = true
	}
	for _, p := range parts {
		res.Parts = append(res.Parts, xmlPart{PartNumber: p.Number, LastModified: xmlTime(p.Modified), ETag: p.ETag, Size: p.Size, CRC: strconv.FormatUint(p.CRC, 10)})
		res.NextPartNumberMarker = p.Number
	}
	return writeXML(c, http.StatusOK, res)
}

type xmlUpload struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	Initiated    string `xml:"Initiated"`
	StorageClass string `xml:"StorageClass"`
}

type listUploadsResult struct {
	XMLName            xml.Name    `xml:"ListMultipartUploadsResult"`
	EncodingType       string      `xml:"EncodingType,omitempty"`
	Bucket             string      `xml:"Bucket"`
	KeyMarker          string      `xml:"KeyMarker"`
	UploadIDMarker     string      `xml:"UploadIdMarker"`
	NextKeyMarker      string      `xml:"NextKeyMarker"`
	NextUploadIDMarker string      `xml:"NextUploadIdMarker"`
	Delimiter          string      `xml:"Delimiter"`
	Prefix             string      `xml:"Prefix"`
	MaxUploads         int         `xml:"MaxUploads"`
	IsTruncated        bool        `xml:"IsTruncated"`
	Uploads            []xmlUpload `xml:"Upload"`
	CommonPrefixes     []xmlPrefix `xml:"CommonPrefixes"`
}

func (s *Server) listUploads(c *reqCtx) *ossError {
	enc, et, e := encoder(c)
	if e != nil {
		return e
	}
	max, e := intParam(c, "max-uploads", 1000, 1, 1000)
	if e != nil {
		return e
	}
	prefix, delim, km, uim := c.q["prefix"], c.q["delimiter"], c.q["key-marker"], c.q["upload-id-marker"]
	s.mu.Lock()
	b := s.buckets[c.bucket]
	var ups []upload
	if b != nil {
		for _, u := range b.uploads {
			if !strings.HasPrefix(u.Key, prefix) {
				continue
			}
			if u.Key < km || (u.Key == km && (uim == "" || u.ID <= uim)) {
				continue
			}
			ups = append(ups, upload{ID: u.ID, Key: u.Key, Initiated: u.Initiated})
		}
	}
	s.mu.Unlock()
	if b == nil {
		return errNoSuchBucket(c.bucket)
	}
	slices.SortFunc(ups, func(a, b upload) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	res := listUploadsResult{
		EncodingType: et, Bucket: c.bucket, KeyMarker: enc(km), UploadIDMarker: uim,
		Delimiter: enc(delim), Prefix: enc(prefix), MaxUploads: max,
	}
	count, lastPrefix := 0, ""
	for _, u := range ups {
		if delim != "" {
			if j := strings.Index(u.Key[len(prefix):], delim); j >= 0 {
				cp := u.Key[:len(prefix)+j+len(delim)]
				if cp == lastPrefix || cp <= km {
					continue
				}
				if count >= max {
					res.IsTruncated = true
					break
				}
				lastPrefix = cp
				res.CommonPrefixes = append(res.CommonPrefixes, xmlPrefix{enc(cp)})
				res.NextKeyMarker, res.NextUploadIDMarker = enc(cp), ""
				count++
				continue
			}
		}
		if count >= max {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, xmlUpload{Key: enc(u.Key), UploadID: u.ID, Initiated: xmlTime(u.Initiated), StorageClass: "Standard"})
		res.NextKeyMarker, res.NextUploadIDMarker = enc(u.Key), u.ID
		count++
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return writeXML(c, http.StatusOK, res)
}
