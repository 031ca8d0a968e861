package ossserver

import (
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"
)

// reqCtx is one request being served.
type reqCtx struct {
	w      http.ResponseWriter
	r      *http.Request
	id     string // x-oss-request-id
	bucket string
	key    string
	query  []queryParam
	q      map[string]string
	cut    bool // fault injection: cut the body mid-way
	api    string
}

func (c *reqCtx) has(k string) bool { _, ok := c.q[k]; return ok }

// op is the handler of one OSS API.
type op func(s *Server, c *reqCtx) *ossError

// genericParams may accompany any operation.
var genericParams = map[string]bool{
	"encoding-type": true, "security-token": true,
	"OSSAccessKeyId": true, "Expires": true, "Signature": true,
	"response-content-type": true, "response-content-language": true, "response-expires": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
}

// route picks the API for a request; params lists the query parameters the
// API understands (others make it NotImplemented).
func route(c *reqCtx) (string, op, []string) {
	m := c.r.Method
	switch {
	case c.bucket == "":
		if m == http.MethodGet {
			return "ListBuckets", (*Server).listBuckets, []string{"prefix", "marker", "max-keys"}
		}
	case c.key == "":
		switch m {
		case http.MethodGet:
			switch {
			case c.has("bucketInfo"):
				return "GetBucketInfo", (*Server).getBucketInfo, []string{"bucketInfo"}
			case c.has("location"):
				return "GetBucketLocation", (*Server).getBucketLocation, []string{"location"}
			case c.has("acl"):
				return "GetBucketAcl", (*Server).getBucketACL, []string{"acl"}
			case c.has("uploads"):
				return "ListMultipartUploads", (*Server).listUploads, []string{"uploads", "prefix", "delimiter", "key-marker", "upload-id-marker", "max-uploads"}
			case c.q["list-type"] == "2":
				return "ListObjectsV2", (*Server).listObjectsV2, []string{"list-type", "prefix", "delimiter", "continuation-token", "start-after", "max-keys", "fetch-owner"}
			default:
				return "ListObjects", (*Server).listObjectsV1, []string{"prefix", "delimiter", "marker", "max-keys"}
			}
		case http.MethodPut:
			return "PutBucket", (*Server).putBucket, nil
		case http.MethodDelete:
			return "DeleteBucket", (*Server).deleteBucket, nil
		case http.MethodPost:
			if c.has("delete") {
				return "DeleteMultipleObjects", (*Server).deleteMultiple, []string{"delete"}
			}
		}
	default:
		switch m {
		case http.MethodPut:
			copySrc := c.r.Header.Get("x-oss-copy-source") != ""
			switch {
			case c.has("uploadId") || c.has("partNumber"):
				if copySrc {
					return "UploadPartCopy", (*Server).uploadPartCopy, []string{"uploadId", "partNumber"}
				}
				return "UploadPart", (*Server).uploadPart, []string{"uploadId", "partNumber"}
			case copySrc:
				return "CopyObject", (*Server).copyObject, nil
			default:
				return "PutObject", (*Server).putObject, nil
			}
		case http.MethodGet:
			switch {
			case c.has("uploadId"):
				return "ListParts", (*Server).listParts, []string{"uploadId", "max-parts", "part-number-marker"}
			case c.has("acl"):
				return "GetObjectAcl", (*Server).getObjectACL, []string{"acl"}
			default:
				return "GetObject", (*Server).getObject, nil
			}
		case http.MethodHead:
			if c.has("objectMeta") {
				return "GetObjectMeta", (*Server).headObject, []string{"objectMeta"}
			}
			return "HeadObject", (*Server).headObject, nil
		case http.MethodPost:
			switch {
			case c.has("uploads"):
				return "InitiateMultipartUpload", (*Server).initiateUpload, []string{"uploads"}
			case c.has("uploadId"):
				return "CompleteMultipartUpload", (*Server).completeUpload, []string{"uploadId"}
			case c.has("append"):
				return "AppendObject", (*Server).appendObject, []string{"append", "position"}
			}
		case http.MethodDelete:
			if c.has("uploadId") {
				return "AbortMultipartUpload", (*Server).abortUpload, []string{"uploadId"}
			}
			return "DeleteObject", (*Server).deleteObject, nil
		}
	}
	return "Unknown", nil, nil
}

// serve is the entry point of every request. cname is the bucket of a
// custom-domain handler, "" otherwise.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, cname string) {
	id := fmt.Sprintf("%08X%016X", uint32(s.started.Unix()), s.reqSeq.Add(1))
	h := w.Header()
	h.Set("x-oss-request-id", id)
	h.Set("Server", "AliyunOSS")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))

	if cname == "" && (r.URL.Path == "/_stats" || r.URL.Path == "/_stats/") && s.virtualBucket(r.Host) == "" {
		s.serveStats(w, r)
		return
	}
	tw := &trackingWriter{ResponseWriter: w}
	w = tw
	defer func() {
		// A bug must cost one request, never the process or a silent hang.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if !tw.wrote {
				writeError(w, r, id, newErr(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."))
				return
			}
			panic(http.ErrAbortHandler)
		}
	}()
	c := &reqCtx{w: w, r: r, id: id}
	e := s.parseAddress(c, cname)
	if e == nil {
		c.query, c.q, e = parseQuery(r.URL.RawQuery)
	}
	var handler op
	if e == nil {
		var params []string
		c.api, handler, params = route(c)
		s.stats.count(c.api)
		if handler == nil {
			e = newErr(http.StatusNotImplemented, "NotImplemented", "%s %s with these parameters is not implemented by this server.", r.Method, r.URL.Path)
		} else {
			e = checkParams(c, params)
		}
	} else {
		s.stats.count("Invalid")
	}

	// Faults and latency come first, before any state is touched, so a
	// faulted request changes nothing.
	canCut := r.Method == http.MethodGet && c.api == "GetObject"
	latency, f := s.faults.draw(canCut)
	sleepCtx(r.Context(), latency)
	switch f {
	case fault500:
		writeError(w, r, id, newErr(http.StatusInternalServerError, "InternalError", "Injected fault: internal error."))
		return
	case fault503:
		writeError(w, r, id, newErr(http.StatusServiceUnavailable, "ServiceUnavailable", "Injected fault: please reduce your request rate."))
		return
	case faultCut:
		c.cut = true
	}

	if e == nil {
		e = s.verify(authRequest{r: r, bucket: c.bucket, key: c.key, query: c.query})
	}
	if e == nil && c.bucket != "" && c.api != "PutBucket" && !s.bucketExists(c.bucket) {
		e = errNoSuchBucket(c.bucket)
	}
	if e == nil {
		e = handler(s, c)
	}
	if e != nil {
		if e.Status >= 500 {
			s.log.Error("request failed", "api", c.api, "bucket", c.bucket, "request_id", id, "code", e.Code, "msg", e.Message)
		} else {
			s.log.Debug("request refused", "api", c.api, "bucket", c.bucket, "request_id", id, "code", e.Code)
		}
		writeError(w, r, id, e)
		return
	}
	s.log.Debug("request", "api", c.api, "bucket", c.bucket, "request_id", id)
}

func checkParams(c *reqCtx, allowed []string) *ossError {
	for _, p := range c.query {
		if genericParams[p.Key] {
			continue
		}
		ok := false
		for _, a := range allowed {
			if a == p.Key {
				ok = true
				break
			}
		}
		if !ok {
			return newErr(http.StatusNotImplemented, "NotImplemented", "%s with parameter %q is not implemented by this server.", c.api, p.Key)
		}
	}
	return nil
}

// virtualBucket returns BUCKET when host is BUCKET.<Domain>[:port].
func (s *Server) virtualBucket(host string) string {
	if s.cfg.Domain == "" {
		return ""
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	suffix := "." + strings.ToLower(strings.TrimSuffix(s.cfg.Domain, "."))
	if b, ok := strings.CutSuffix(host, suffix); ok && b != "" {
		return b
	}
	return ""
}

// parseAddress finds bucket and key from the host and the decoded path.
func (s *Server) parseAddress(c *reqCtx, cname string) *ossError {
	path := c.r.URL.Path
	if !strings.HasPrefix(path, "/") {
		return errInvalidArgument("request path must start with '/'")
	}
	rest := path[1:]
	switch vb := s.virtualBucket(c.r.Host); {
	case cname != "":
		c.bucket, c.key = cname, rest
	case vb != "":
		c.bucket, c.key = vb, rest
	default:
		c.bucket, c.key, _ = strings.Cut(rest, "/")
	}
	if c.bucket != "" && !validBucketName(c.bucket) {
		return newErr(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	if c.key != "" {
		if e := checkKey(c.key); e != nil {
			return e
		}
	}
	return nil
}

// checkKey enforces OSS object names: 1-1023 bytes of UTF-8, not starting
// with '/' or '\'.
func checkKey(key string) *ossError {
	switch {
	case len(key) == 0 || len(key) > 1023:
		return newErr(http.StatusBadRequest, "InvalidObjectName", "The length of the object name must be 1 to 1023 bytes.")
	case key[0] == '/' || key[0] == '\\':
		return newErr(http.StatusBadRequest, "InvalidObjectName", "The object name must not start with '/' or '\\'.")
	case !utf8.ValidString(key):
		return newErr(http.StatusBadRequest, "InvalidObjectName", "The object name must be valid UTF-8.")
	}
	return nil
}

// validBucketName: 3-63 of [a-z0-9-], not starting or ending with '-'.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}

func (s *Server) bucketExists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buckets[name] != nil
}

// trackingWriter remembers whether the answer has started.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(p)
}

func (t *trackingWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		t.wrote = true
		f.Flush()
	}
}
