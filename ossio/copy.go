package ossio

import (
	"context"
	"net/http"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Copy copies src to dst inside the bucket: one CopyObject up to
// CopyThreshold, else a multipart upload of parallel UploadPartCopy of
// CopyPartSize. meta nil keeps the source's metadata, otherwise replaces
// it. Every request is pinned to the ETag of a first HEAD of src, and the
// CRC-64 of the copy is checked against the source's.
func (c *Client) Copy(ctx context.Context, src, dst string, meta map[string]string) (Object, error) {
	so, err := c.Head(ctx, src)
	if err != nil {
		return Object{}, err
	}
	if so.Size <= c.cfg.CopyThreshold {
		return c.copyObject(ctx, so, dst, meta)
	}
	return c.copyParts(ctx, so, dst, meta)
}

func (c *Client) copyObject(ctx context.Context, so Object, dst string, meta map[string]string) (Object, error) {
	opts := []oss.Option{oss.CopySourceIfMatch(`"` + so.ETag + `"`)}
	if meta != nil {
		opts = append(opts, oss.MetadataDirective(oss.MetaReplace))
		opts = append(opts, metaOptions(meta)...)
	} else {
		opts = append(opts, oss.MetadataDirective(oss.MetaCopy))
	}
	var h http.Header
	var res oss.CopyObjectResult
	err := c.call(ctx, "CopyObject", dst, func(ctx context.Context) error {
		var err error
		res, err = c.bucket.CopyObject(so.Key, dst, withCtx(ctx, opts, oss.GetResponseHeader(&h))...)
		return err
	})
	if err != nil {
		return Object{}, err
	}
	o := Object{Key: dst, Size: so.Size, ETag: trimETag(res.ETag), LastModified: res.LastModified, Type: "Normal",
		CRC64: so.CRC64, HasCRC: so.HasCRC, Meta: meta}
	if meta == nil {
		o.Meta = so.Meta
	}
	if got, ok := parseCRC(h); ok && so.HasCRC && got != so.CRC64 {
		return o, crcMismatch("CopyObject", dst, got, so.CRC64)
	}
	return o, nil
}

func (c *Client) copyParts(ctx context.Context, so Object, dst string, meta map[string]string) (Object, error) {
	if meta == nil {
		// A multipart upload starts with no metadata of its own.
		meta = so.Meta
	}
	imur, err := c.initiate(ctx, dst, meta)
	if err != nil {
		return Object{}, err
	}
	parts := splitParts(so.Size, c.cfg.CopyPartSize)
	done := make([]oss.UploadPart, len(parts))
	ifMatch := oss.CopySourceIfMatch(`"` + so.ETag + `"`)
	err = forEach(ctx, len(parts), c.cfg.Concurrency, func(ctx context.Context, i int) error {
		p := parts[i]
		return c.call(ctx, "UploadPartCopy", dst, func(ctx context.Context) error {
			var err error
			done[i], err = c.bucket.UploadPartCopy(imur, c.cfg.Bucket, so.Key, p.off, p.n, i+1, ifMatch, oss.WithContext(ctx))
			return err
		})
	})
	if err != nil {
		err = wrapErr("Copy", dst, err, nil) // a cancellation arrives bare
		c.abort(ctx, imur)
		return Object{}, err
	}
	o, err := c.complete(ctx, imur, done, so.CRC64, so.HasCRC, so.Size)
	if err != nil {
		return Object{}, err
	}
	o.Meta = meta
	return o, nil
}
