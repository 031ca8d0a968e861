package ossserver

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// encoder returns the function applied to keys and prefixes in listings:
// percent-encoding with encoding-type=url (the SDK always asks for it).
func encoder(c *reqCtx) (func(string) string, string, *ossError) {
	switch et := c.q["encoding-type"]; et {
	case "":
		return func(s string) string { return s }, "", nil
	case "url":
		return sdkEscape, "url", nil
	default:
		return nil, "", errInvalidArgument("encoding-type %q is not supported; use url.", et)
	}
}

func intParam(c *reqCtx, name string, def, lo, hi int) (int, *ossError) {
	v, ok := c.q[name]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errInvalidArgument("%s must be an integer from %d to %d.", name, lo, hi)
	}
	return n, nil
}

// listEntry is an object or (obj nil) a common prefix.
type listEntry struct {
	obj    *object
	prefix string
}

// listKeys lists keys after marker under prefix, grouping by delimiter.
// Each common prefix counts toward max. next is the last entry returned
// (the marker of the next page) when truncated.
func listKeys(keys []string, objs map[string]*object, prefix, delim, marker string, max int) (out []listEntry, truncated bool, next string) {
	i := sort.SearchStrings(keys, max2(prefix, marker))
	lastPrefix := ""
	for i < len(keys) {
		k := keys[i]
		if !strings.HasPrefix(k, prefix) {
			break
		}
		if k <= marker {
			i++
			continue
		}
		entry := listEntry{obj: objs[k]}
		name := k
		if delim != "" {
			if j := strings.Index(k[len(prefix):], delim); j >= 0 {
				cp := k[:len(prefix)+j+len(delim)]
				// Skip every key under the common prefix.
				i = i + sort.Search(len(keys)-i, func(n int) bool {
					kk := keys[i+n]
					return kk > cp && !strings.HasPrefix(kk, cp)
				})
				if cp <= marker || cp == lastPrefix {
					continue
				}
				entry, name = listEntry{prefix: cp}, cp
				lastPrefix = cp
				if len(out) >= max {
					return out, true, next
				}
				out = append(out, entry)
				next = name
				continue
			}
		}
		if len(out) >= max {
			return out, true, next
		}
		out = append(out, entry)
		next = name
		i++
	}
	return out, false, ""
}

func max2(a, b string) string {
	if a > b {
		return a
	}
	return b
}

type xmlContents struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Type         string `xml:"Type"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	Owner        *owner `xml:"Owner,omitempty"`
}

type xmlPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listV1Result struct {
	XMLName        xml.Name      `xml:"ListBucketResult"`
	Name           string        `xml:"Name"`
	Prefix         string        `xml:"Prefix"`
	Marker         string        `xml:"Marker"`
	MaxKeys        int           `xml:"MaxKeys"`
	Delimiter      string        `xml:"Delimiter"`
	EncodingType   string        `xml:"EncodingType,omitempty"`
	IsTruncated    bool          `xml:"IsTruncated"`
	NextMarker     string        `xml:"NextMarker,omitempty"`
	Contents       []xmlContents `xml:"Contents"`
	CommonPrefixes []xmlPrefix   `xml:"CommonPrefixes"`
}

type listV2Result struct {
	XMLName               xml.Name      `xml:"ListBucketResult"`
	Name                  string        `xml:"Name"`
	Prefix                string        `xml:"Prefix"`
	StartAfter            string        `xml:"StartAfter,omitempty"`
	ContinuationToken     string        `xml:"ContinuationToken,omitempty"`
	MaxKeys               int           `xml:"MaxKeys"`
	Delimiter             string        `xml:"Delimiter"`
	EncodingType          string        `xml:"EncodingType,omitempty"`
	IsTruncated           bool          `xml:"IsTruncated"`
	NextContinuationToken string        `xml:"NextContinuationToken,omitempty"`
	KeyCount              int           `xml:"KeyCount"`
	Contents              []xmlContents `xml:"Contents"`
	CommonPrefixes        []xmlPrefix   `xml:"CommonPrefixes"`
}

// listing runs listKeys on a bucket under the lock.
func (s *Server) listing(bucket, prefix, delim, marker string, max int) ([]listEntry, bool, string, *ossError) {
	if len(prefix) > 1023 || len(marker) > 1023 {
		return nil, false, "", errInvalidArgument("prefix and marker are at most 1023 bytes.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil {
		return nil, false, "", errNoSuchBucket(bucket)
	}
	out, trunc, next := listKeys(b.sortedKeys(), b.objs, prefix, delim, marker, max)
	return out, trunc, next, nil
}

func render(entries []listEntry, enc func(string) string, withOwner bool) ([]xmlContents, []xmlPrefix) {
	var cs []xmlContents
	var ps []xmlPrefix
	for _, e := range entries {
		if e.obj == nil {
			ps = append(ps, xmlPrefix{enc(e.prefix)})
			continue
		}
		x := xmlContents{
			Key: enc(e.obj.Key), LastModified: xmlTime(e.obj.Modified), ETag: e.obj.ETag,
			Type: e.obj.Type, Size: e.obj.Size, StorageClass: "Standard",
		}
		if withOwner {
			o := theOwner
			x.Owner = &o
		}
		cs = append(cs, x)
	}
	return cs, ps
}

func (s *Server) listObjectsV1(c *reqCtx) *ossError {
	enc, et, e := encoder(c)
	if e != nil {
		return e
	}
	max, e := intParam(c, "max-keys", 100, 0, 1000)
	if e != nil {
		return e
	}
	prefix, delim, marker := c.q["prefix"], c.q["delimiter"], c.q["marker"]
	entries, trunc, next, e := s.listing(c.bucket, prefix, delim, marker, max)
	if e != nil {
		return e
	}
	res := listV1Result{
		Name: c.bucket, Prefix: enc(prefix), Marker: enc(marker), MaxKeys: max, Delimiter: enc(delim),
		EncodingType: et, IsTruncated: trunc,
	}
	if trunc {
		res.NextMarker = enc(next)
	}
	res.Contents, res.CommonPrefixes = render(entries, enc, true)
	return writeXML(c, http.StatusOK, res)
}

// Continuation tokens are the next page's marker, base64url-encoded, so
// they need no escaping.
func encodeToken(marker string) string { return base64.RawURLEncoding.EncodeToString([]byte(marker)) }

func decodeToken(tok string) (string, *ossError) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", errInvalidArgument("The continuation token provided is incorrect.")
	}
	return string(b), nil
}

func (s *Server) listObjectsV2(c *reqCtx) *ossError {
	enc, et, e := encoder(c)
	if e != nil {
		return e
	}
	max, e := intParam(c, "max-keys", 100, 0, 1000)
	if e != nil {
		return e
	}
	prefix, delim, startAfter := c.q["prefix"], c.q["delimiter"], c.q["start-after"]
	marker := startAfter
	tok, hasTok := c.q["continuation-token"]
	if hasTok && tok != "" {
		m, e := decodeToken(tok)
		if e != nil {
			return e
		}
		marker = max2(m, startAfter)
	}
	entries, trunc, next, e := s.listing(c.bucket, prefix, delim, marker, max)
	if e != nil {
		return e
	}
	res := listV2Result{
		Name: c.bucket, Prefix: enc(prefix), StartAfter: enc(startAfter), ContinuationToken: tok,
		MaxKeys: max, Delimiter: enc(delim), EncodingType: et, IsTruncated: trunc, KeyCount: len(entries),
	}
	if trunc {
		res.NextContinuationToken = encodeToken(next)
	}
	res.Contents, res.CommonPrefixes = render(entries, enc, c.q["fetch-owner"] == "true")
	return writeXML(c, http.StatusOK, res)
}
