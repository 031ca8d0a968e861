package ossio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// maxBuffered is the largest body Put copies into memory to be able to
// retry it, when the reader can neither seek nor read at offsets.
const maxBuffered = 16 << 20

// Put stores size bytes read from r as key in one PutObject; the SDK checks
// the CRC-64 of what it sent against the server's. r is read from its
// current position; a retry seeks back when r is an io.Seeker, otherwise
// bodies up to 16 MiB are buffered and larger ones are sent only once.
func (c *Client) Put(ctx context.Context, key string, r io.Reader, size int64, meta map[string]string) (Object, error) {
	body, err := rewindable(r, size)
	if err != nil {
		return Object{}, &Error{Op: "PutObject", Key: key, Err: err}
	}
	opts := metaOptions(meta)
	var o Object
	var last error // the previous attempt's failure, for when the body cannot be re-read
	err = c.call(ctx, "PutObject", key, func(ctx context.Context) (err error) {
		defer func() { last = err }()
		rd, err := body()
		if errors.Is(err, errNoRewind) {
			return fmt.Errorf("%w; first attempt: %v", err, last)
		}
		if err != nil {
			return err
		}
		var h http.Header
		resp, err := c.bucket.DoPutObject(&oss.PutObjectRequest{ObjectKey: key, Reader: &io.LimitedReader{R: rd, N: size}},
			withCtx(ctx, opts, oss.GetResponseHeader(&h)))
		if resp != nil {
			resp.Body.Close()
		}
		if err != nil {
			return err
		}
		o = Object{Key: key, Size: size, ETag: trimETag(h.Get("Etag")), Type: "Normal", Meta: meta, LastModified: responseTime(h)}
		o.CRC64, o.HasCRC = parseCRC(h)
		return nil
	})
	return o, err
}

// responseTime is the modification time of an object a write just made:
// OSS answers writes with no Last-Modified, so the response's Date.
func responseTime(h http.Header) time.Time {
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		return t
	}
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t
	}
	return time.Now().UTC().Truncate(time.Second)
}

var errNoRewind = errors.New("body cannot be re-read for a retry")

// rewindable returns a function giving, for each attempt, a reader
// positioned at the start of the body.
func rewindable(r io.Reader, size int64) (func() (io.Reader, error), error) {
	if s, ok := r.(io.ReadSeeker); ok {
		start, err := s.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("seek body: %w", err)
		}
		return func() (io.Reader, error) {
			if _, err := s.Seek(start, io.SeekStart); err != nil {
				return nil, fmt.Errorf("seek body: %w", err)
			}
			return s, nil
		}, nil
	}
	if size <= maxBuffered {
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		return func() (io.Reader, error) { return bytes.NewReader(buf), nil }, nil
	}
	used := false
	return func() (io.Reader, error) {
		if used {
			return nil, errNoRewind
		}
		used = true
		return r, nil
	}, nil
}
