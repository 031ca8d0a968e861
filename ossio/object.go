package ossio

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Object describes one object as OSS reports it.
type Object struct {
	Key          string
	Size         int64
	ETag         string // without quotes
	LastModified time.Time
	Type         string // Normal | Multipart | Appendable
	CRC64        uint64 // CRC-64/ECMA of the whole object, when HasCRC
	HasCRC       bool
	Meta         map[string]string // x-oss-meta-* without the prefix, lower-case names (Head only)
}

const metaPrefix = "X-Oss-Meta-"

// objectFromHeader reads the headers of a HEAD (or GET) response.
func objectFromHeader(key string, h http.Header) Object {
	o := Object{
		Key:  key,
		ETag: trimETag(h.Get("Etag")),
		Type: h.Get("X-Oss-Object-Type"),
	}
	o.Size, _ = strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		o.LastModified = t
	}
	o.CRC64, o.HasCRC = parseCRC(h)
	for name, v := range h {
		if len(name) > len(metaPrefix) && strings.EqualFold(name[:len(metaPrefix)], metaPrefix) && len(v) > 0 {
			if o.Meta == nil {
				o.Meta = map[string]string{}
			}
			o.Meta[strings.ToLower(name[len(metaPrefix):])] = v[0]
		}
	}
	return o
}

func parseCRC(h http.Header) (uint64, bool) {
	s := h.Get("X-Oss-Hash-Crc64ecma")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func trimETag(s string) string { return strings.Trim(s, `"`) }

func metaOptions(meta map[string]string) []oss.Option {
	opts := make([]oss.Option, 0, len(meta))
	for k, v := range meta {
		opts = append(opts, oss.Meta(k, v))
	}
	return opts
}

// withCtx returns opts plus the request context, in a fresh slice so that
// retries never share a backing array.
func withCtx(ctx context.Context, opts []oss.Option, more ...oss.Option) []oss.Option {
	out := make([]oss.Option, 0, len(opts)+len(more)+1)
	out = append(out, opts...)
	out = append(out, more...)
	return append(out, oss.WithContext(ctx))
}

// Head returns the object's size, type, CRC and metadata.
func (c *Client) Head(ctx context.Context, key string) (Object, error) {
	var o Object
	err := c.call(ctx, "HeadObject", key, func(ctx context.Context) error {
		h, err := c.bucket.GetObjectDetailedMeta(key, oss.WithContext(ctx))
		if err != nil {
			return err
		}
		o = objectFromHeader(key, h)
		return nil
	})
	return o, err
}

// CheckBucket sends one cheap request (a one-key listing) that fails with
// an error IsUnreachable, IsAuth or IsBucketMissing recognise when the
// endpoint, the credentials or the bucket are wrong.
func (c *Client) CheckBucket(ctx context.Context) error {
	_, err := c.ListPage(ctx, "", "", "", 1)
	return err
}

// Delete removes key; a missing key is not an error (OSS answers 204).
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.call(ctx, "DeleteObject", key, func(ctx context.Context) error {
		return c.bucket.DeleteObject(key, oss.WithContext(ctx))
	})
}

// deleteBatch is the most keys one DeleteMultipleObjects may carry.
const deleteBatch = 1000

// DeleteMany removes keys in batches of 1000 in quiet mode; missing keys
// are not errors.
func (c *Client) DeleteMany(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(deleteBatch, len(keys))]
		keys = keys[len(batch):]
		err := c.call(ctx, "DeleteMultipleObjects", batch[0], func(ctx context.Context) error {
			_, err := c.bucket.DeleteObjects(batch, oss.DeleteObjectsQuiet(true), oss.WithContext(ctx))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SetMeta replaces the object's user metadata (CopyObject onto itself with
// the REPLACE directive); the data is untouched.
func (c *Client) SetMeta(ctx context.Context, key string, meta map[string]string) error {
	opts := append(metaOptions(meta), oss.MetadataDirective(oss.MetaReplace))
	return c.call(ctx, "CopyObject", key, func(ctx context.Context) error {
		_, err := c.bucket.CopyObject(key, key, withCtx(ctx, opts)...)
		return err
	})
}
