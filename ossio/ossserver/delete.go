package ossserver

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
)

// maxDeleteBody bounds the DeleteMultipleObjects body (1000 keys of 1023
// bytes, escaped, fit well within it).
const maxDeleteBody = 8 << 20

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   string   `xml:"Quiet"`
	Objects []struct {
		Key string `xml:"Key"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName      xml.Name `xml:"DeleteResult"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Deleted      []struct {
		Key string `xml:"Key"`
	} `xml:"Deleted"`
}

func (s *Server) deleteMultiple(c *reqCtx) *ossError {
	enc, et, e := encoder(c)
	if e != nil {
		return e
	}
	body, err := io.ReadAll(io.LimitReader(c.r.Body, maxDeleteBody+1))
	if err != nil {
		return newErr(http.StatusBadRequest, "IncompleteBody", "The request body could not be read.")
	}
	if len(body) > maxDeleteBody {
		return errMalformedXML("body too large")
	}
	md := c.r.Header.Get("Content-MD5")
	if md == "" {
		return newErr(http.StatusBadRequest, "InvalidDigest", "DeleteMultipleObjects requires a Content-MD5 header.")
	}
	sum := md5.Sum(body)
	if md != base64.StdEncoding.EncodeToString(sum[:]) {
		return newErr(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified did not match what we received.")
	}
	var req deleteRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		return errMalformedXML(err.Error())
	}
	if len(req.Objects) == 0 {
		return errMalformedXML("no Object element")
	}
	if len(req.Objects) > 1000 {
		return errMalformedXML("more than 1000 objects")
	}
	for _, o := range req.Objects {
		if e := checkKey(o.Key); e != nil {
			return e
		}
	}
	quiet := req.Quiet == "true"
	res := deleteResult{EncodingType: et}
	for _, o := range req.Objects {
		if e := s.removeObject(c.bucket, o.Key); e != nil {
			return e
		}
		if !quiet {
			res.Deleted = append(res.Deleted, struct {
				Key string `xml:"Key"`
			}{enc(o.Key)})
		}
	}
	return writeXML(c, http.StatusOK, res)
}

// removeObject deletes a key; a missing key is not an error.
func (s *Server) removeObject(bucket, key string) *ossError {
	lk := s.keyLock(bucket, key)
	lk.Lock()
	defer lk.Unlock()
	if s.peek(bucket, key) == nil {
		return nil
	}
	if err := s.meta.deleteObject(bucket, key); err != nil {
		return errInternal(err)
	}
	s.mu.Lock()
	var dead []string
	if b := s.buckets[bucket]; b != nil {
		if old := b.deleteObject(key); old != nil {
			dead = s.unpinLocked(old.Extents)
		}
	}
	s.mu.Unlock()
	s.dropBlobs(dead)
	return nil
}
