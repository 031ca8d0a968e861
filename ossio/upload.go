package ossio

import (
	"context"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// UploadOptions tunes UploadFile.
type UploadOptions struct {
	Meta map[string]string
	// OnStart is called once a multipart upload is initiated, before any
	// part goes, so that the caller can journal the id and abort it after
	// a crash.
	OnStart func(uploadID string)
}

// UploadFile stores the file at path as key: one PutObject up to
// PutThreshold, else a multipart upload with Concurrency parts in flight,
// each read with ReadAt and retried on its own. Each part's CRC-64 is
// checked by the SDK, and their combination against the CRC OSS reports
// for the completed object. A failed multipart upload is aborted.
func (c *Client) UploadFile(ctx context.Context, key, path string, opt UploadOptions) (Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return Object{}, &Error{Op: "UploadFile", Key: key, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Object{}, &Error{Op: "UploadFile", Key: key, Err: err}
	}
	size := st.Size()
	if size <= c.cfg.PutThreshold {
		return c.Put(ctx, key, io.NewSectionReader(f, 0, size), size, opt.Meta)
	}
	return c.uploadParts(ctx, key, f, size, opt)
}

// uploadParts is the multipart path of UploadFile.
func (c *Client) uploadParts(ctx context.Context, key string, f io.ReaderAt, size int64, opt UploadOptions) (Object, error) {
	imur, err := c.initiate(ctx, key, opt.Meta)
	if err != nil {
		return Object{}, err
	}
	if opt.OnStart != nil {
		opt.OnStart(imur.UploadID)
	}
	parts := splitParts(size, c.cfg.PartSize)
	done := make([]oss.UploadPart, len(parts))
	crcs := make([]uint64, len(parts))
	err = forEach(ctx, len(parts), c.cfg.Concurrency, func(ctx context.Context, i int) error {
		p := parts[i]
		return c.call(ctx, "UploadPart", key, func(ctx context.Context) error {
			var h http.Header
			res, err := c.bucket.DoUploadPart(&oss.UploadPartRequest{
				InitResult: &imur, Reader: io.NewSectionReader(f, p.off, p.n), PartSize: p.n, PartNumber: i + 1,
			}, withCtx(ctx, nil, oss.GetResponseHeader(&h)))
			if err != nil {
				return err
			}
			done[i] = res.Part
			// With the header present the SDK has already proved it equal
			// to the CRC of the bytes it sent.
			if v, ok := parseCRC(h); ok {
				crcs[i] = v
				return nil
			}
			crcs[i], err = crcOfSection(f, p.off, p.n)
			return err
		})
	})
	if err != nil {
		err = wrapErr("UploadFile", key, err, nil) // a cancellation arrives bare
		c.abort(ctx, imur)
		return Object{}, err
	}
	o, err := c.complete(ctx, imur, done, combineCRC(crcs, parts), true, size)
	if err != nil {
		return Object{}, err
	}
	o.Meta = opt.Meta
	return o, nil
}

func (c *Client) initiate(ctx context.Context, key string, meta map[string]string) (oss.InitiateMultipartUploadResult, error) {
	var imur oss.InitiateMultipartUploadResult
	opts := metaOptions(meta)
	err := c.call(ctx, "InitiateMultipartUpload", key, func(ctx context.Context) error {
		var err error
		imur, err = c.bucket.InitiateMultipartUpload(key, withCtx(ctx, opts)...)
		return err
	})
	return imur, err
}

// complete finishes a multipart upload of size bytes and, when check,
// checks that the object's CRC-64 is want. A retried Complete whose
// first attempt took effect answers NoSuchUpload: then the object itself
// is checked, and taken if it is the one we built. A failed Complete is
// aborted.
func (c *Client) complete(ctx context.Context, imur oss.InitiateMultipartUploadResult, parts []oss.UploadPart, want uint64, check bool, size int64) (Object, error) {
	key := imur.Key
	var h http.Header
	var res oss.CompleteMultipartUploadResult
	err := c.call(ctx, "CompleteMultipartUpload", key, func(ctx context.Context) error {
		var err error
		res, err = c.bucket.CompleteMultipartUpload(imur, parts, withCtx(ctx, nil, oss.GetResponseHeader(&h))...)
		return err
	})
	if e := asError(err); e != nil && e.Code == "NoSuchUpload" {
		if o, herr := c.Head(ctx, key); herr == nil && check && o.HasCRC && o.CRC64 == want && o.Size == size {
			return o, nil
		}
	}
	if err != nil {
		c.abort(ctx, imur)
		return Object{}, err
	}
	o := Object{Key: key, Size: size, ETag: trimETag(res.ETag), Type: "Multipart", LastModified: responseTime(h)}
	if o.ETag == "" {
		o.ETag = trimETag(h.Get("Etag"))
	}
	o.CRC64, o.HasCRC = parseCRC(h)
	if check && o.HasCRC && o.CRC64 != want {
		return o, crcMismatch("CompleteMultipartUpload", key, want, o.CRC64)
	}
	if check && !o.HasCRC {
		o.CRC64, o.HasCRC = want, true
	}
	return o, nil
}

// abort gives up a multipart upload even when ctx is already cancelled, so
// that its parts do not linger (and bill) in the bucket.
func (c *Client) abort(ctx context.Context, imur oss.InitiateMultipartUploadResult) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := c.AbortUpload(ctx, imur.Key, imur.UploadID); err != nil {
		c.log.Warn("ossio: abort of failed multipart upload failed", "key", imur.Key, "upload_id", imur.UploadID, "err", err)
	}
}
