package ossio

import (
	"context"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"sync"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Download writes the whole object to w with parallel ranged GETs of
// PartSize, Concurrency at a time, each part retried on its own. Every GET
// is pinned to the ETag a HEAD found first, and the CRC-64 of all parts
// combined is checked against the server's. It returns the HEAD's Object.
func (c *Client) Download(ctx context.Context, key string, w io.WriterAt) (Object, error) {
	o, err := c.Head(ctx, key)
	if err != nil {
		return o, err
	}
	parts := splitParts(o.Size, c.cfg.PartSize)
	crcs := make([]uint64, len(parts))
	etag := `"` + o.ETag + `"`
	err = forEach(ctx, len(parts), c.cfg.Concurrency, func(ctx context.Context, i int) error {
		p := parts[i]
		return c.call(ctx, "GetObject", key, func(ctx context.Context) error {
			sum, err := c.getPart(ctx, key, etag, p, w)
			crcs[i] = sum
			return err
		})
	})
	if err != nil {
		err = wrapErr("Download", key, err, nil) // a cancellation arrives bare
		return o, err
	}
	if got := combineCRC(crcs, parts); o.HasCRC && got != o.CRC64 {
		return o, crcMismatch("Download", key, got, o.CRC64)
	}
	return o, nil
}

// getPart is one attempt at one part: GET the range, write it at its
// offset, return its CRC-64. A short body is an error (retryable).
func (c *Client) getPart(ctx context.Context, key, etag string, p span, w io.WriterAt) (uint64, error) {
	res, err := c.bucket.DoGetObject(&oss.GetObjectRequest{ObjectKey: key}, withCtx(ctx, nil,
		oss.Range(p.off, p.off+p.n-1), oss.RangeBehavior("standard"), oss.IfMatch(etag)))
	if err != nil {
		return 0, err
	}
	defer res.Response.Close()
	if res.Response.StatusCode != http.StatusPartialContent {
		return 0, fmt.Errorf("asked for a range, got HTTP %d", res.Response.StatusCode)
	}
	h := crc64.New(crcTable)
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	n, err := io.CopyBuffer(io.NewOffsetWriter(w, p.off), io.TeeReader(io.LimitReader(res.Response.Body, p.n), h), *buf)
	if err != nil {
		return 0, err
	}
	if n != p.n {
		return 0, fmt.Errorf("part at %d: got %d of %d bytes: %w", p.off, n, p.n, ErrTruncated)
	}
	return h.Sum64(), nil
}
