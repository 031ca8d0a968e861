package ossio

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

var crcTable = crc64.MakeTable(crc64.ECMA)

// GetRange returns a reader of n bytes of key from off (n < 0: to the
// end). A range past the end is clipped; a start past it fails
// (x-oss-range-behavior: standard). ctx governs the whole read, not only
// the first request.
//
// The reader never passes a cut body off as EOF: a body that ends early is
// resumed from the last byte delivered (pinned to the same ETag, each
// resume counted as a retry of GetObject) and, when that is not possible,
// surfaces as an error. A read of the whole object is checked against the
// object's CRC-64 at EOF.
func (c *Client) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, &Error{Op: "GetObject", Key: key, Err: fmt.Errorf("negative offset %d", off)}
	}
	if n == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	r := &rangeReader{c: c, ctx: ctx, key: key, pos: off, end: -1}
	if n > 0 {
		r.end = off + n
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// rangeReader reads [pos, end) of one version of an object, reopening the
// request where a cut body stopped.
type rangeReader struct {
	c    *Client
	ctx  context.Context
	key  string
	etag string // quoted ETag of the first response; resumes require it (If-Match)
	pos  int64  // next absolute offset to deliver
	end  int64  // absolute end, exclusive; -1 until the first response says

	body     io.ReadCloser
	crc      hash.Hash64 // non-nil when the read covers the whole object
	sdkCRC   bool        // the SDK feeds crc from the current body (an unranged GET): do not hash twice
	want     uint64      // server's CRC-64 of the whole object
	resumes  int
	finished bool
	err      error // sticky
}

// open issues the GET for [pos, end) and takes the object's identity from
// the first answer.
func (r *rangeReader) open() error {
	opts := []oss.Option{oss.RangeBehavior("standard")}
	ranged := r.pos > 0 || r.end >= 0
	if ranged {
		if r.end >= 0 {
			opts = append(opts, oss.Range(r.pos, r.end-1))
		} else {
			opts = append(opts, oss.NormalizedRange(fmt.Sprintf("%d-", r.pos)))
		}
	}
	if r.etag != "" {
		opts = append(opts, oss.IfMatch(r.etag))
	}
	first := r.etag == ""
	return r.c.call(r.ctx, "GetObject", r.key, func(ctx context.Context) error {
		res, err := r.c.bucket.DoGetObject(&oss.GetObjectRequest{ObjectKey: r.key}, withCtx(ctx, opts))
		if err != nil {
			return err
		}
		h := res.Response.Headers
		if ranged && res.Response.StatusCode != http.StatusPartialContent {
			res.Response.Close()
			return fmt.Errorf("asked for a range, got HTTP %d", res.Response.StatusCode)
		}
		length, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
		if err != nil {
			res.Response.Close()
			return fmt.Errorf("no Content-Length in GET response: %w", err)
		}
		if first {
			r.etag = h.Get("Etag")
			total := length
			if ranged {
				total = contentRangeTotal(h.Get("Content-Range"))
			}
			r.end = r.pos + length
			if want, ok := parseCRC(h); ok && r.pos == 0 && r.end == total {
				r.crc, r.want = crc64.New(crcTable), want
				if res.ClientCRC != nil {
					// The SDK hashes unranged bodies itself (same table).
					r.crc, r.sdkCRC = res.ClientCRC, true
				}
			}
		} else if r.pos+length != r.end {
			res.Response.Close()
			return fmt.Errorf("resumed GET at %d answered %d bytes, want %d", r.pos, length, r.end-r.pos)
		}
		r.body = res.Response.Body
		return nil
	})
}

// contentRangeTotal returns the object size from "bytes a-b/total", -1
// when unknown.
func contentRangeTotal(s string) int64 {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return -1
	}
	v, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil {
		return -1
	}
	return v
}

func (r *rangeReader) Read(p []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		if r.pos >= r.end {
			return 0, r.finish()
		}
		if int64(len(p)) > r.end-r.pos {
			p = p[:r.end-r.pos]
		}
		n, err := r.body.Read(p)
		r.pos += int64(n)
		if r.crc != nil && !r.sdkCRC {
			r.crc.Write(p[:n])
		}
		if err == io.EOF && r.pos < r.end {
			err = ErrTruncated
		}
		if err == nil || err == io.EOF {
			return n, nil
		}
		r.resume(err)
		if n > 0 {
			return n, nil
		}
	}
}

// resume replaces a failed body with a new request from pos, or records
// the failure for good.
func (r *rangeReader) resume(cause error) {
	r.body.Close()
	r.body = nil
	r.sdkCRC = false // resumed bodies are ranged: we hash them
	cause = wrapErr("GetObject", r.key, cause, nil)
	if !IsRetryable(cause) || r.ctx.Err() != nil || r.resumes+1 >= r.c.cfg.MaxAttempts {
		r.err = cause
		return
	}
	r.resumes++
	ctr := r.c.stats.get("GetObject")
	ctr.errors.Add(1)
	ctr.retries.Add(1)
	r.c.log.Debug("ossio: resuming ranged read", "key", r.key, "at", r.pos, "err", cause)
	if !sleep(r.ctx, r.c.backoff(r.resumes)) {
		r.err = wrapErr("GetObject", r.key, r.ctx.Err(), nil)
		return
	}
	if err := r.open(); err != nil {
		r.err = err
	}
}

func (r *rangeReader) finish() error {
	if !r.finished {
		r.finished = true
		if r.crc != nil && r.crc.Sum64() != r.want {
			r.err = &Error{Op: "GetObject", Key: r.key, Err: fmt.Errorf("%w: read %d, object has %d", ErrCRCMismatch, r.crc.Sum64(), r.want)}
			return r.err
		}
	}
	return io.EOF
}

func (r *rangeReader) Close() error {
	var err error
	if r.body != nil {
		err = r.body.Close()
		r.body = nil
	}
	if r.err == nil {
		r.err = errReadAfterClose
	}
	return err
}

var errReadAfterClose = errors.New("ossio: read after close")
