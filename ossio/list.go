package ossio

import (
	"context"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Page is one ListObjectsV2 answer.
type Page struct {
	Objects   []Object
	Prefixes  []string // common prefixes, delimiter included
	NextToken string   // "" on the last page
}

// listMax is the most keys OSS returns in one listing.
const listMax = 1000

// ListPage returns one page of keys under prefix, grouped by delimiter
// when it is not empty, starting at token ("" for the first page).
// maxKeys outside 1..1000 means 1000.
func (c *Client) ListPage(ctx context.Context, prefix, delimiter, token string, maxKeys int) (Page, error) {
	if maxKeys <= 0 || maxKeys > listMax {
		maxKeys = listMax
	}
	opts := []oss.Option{oss.Prefix(prefix), oss.MaxKeys(maxKeys)}
	if delimiter != "" {
		opts = append(opts, oss.Delimiter(delimiter))
	}
	if token != "" {
		opts = append(opts, oss.ContinuationToken(token))
	}
	var p Page
	err := c.call(ctx, "ListObjectsV2", prefix, func(ctx context.Context) error {
		r, err := c.bucket.ListObjectsV2(withCtx(ctx, opts)...)
		if err != nil {
			return err
		}
		p = Page{Prefixes: r.CommonPrefixes, Objects: make([]Object, len(r.Objects))}
		for i, o := range r.Objects {
			p.Objects[i] = Object{Key: o.Key, Size: o.Size, ETag: trimETag(o.ETag), LastModified: o.LastModified, Type: o.Type}
		}
		if r.IsTruncated {
			p.NextToken = r.NextContinuationToken
		}
		return nil
	})
	return p, err
}

// List calls fn with every page under prefix, 1000 keys a page, stopping at
// the first error fn returns.
func (c *Client) List(ctx context.Context, prefix, delimiter string, fn func(Page) error) error {
	token := ""
	for {
		p, err := c.ListPage(ctx, prefix, delimiter, token, listMax)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if p.NextToken == "" {
			return nil
		}
		token = p.NextToken
	}
}

// Upload is a multipart upload initiated and neither completed nor aborted.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// ListUploads returns every unfinished multipart upload under prefix.
func (c *Client) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	var out []Upload
	keyMarker, idMarker := "", ""
	for {
		opts := []oss.Option{oss.Prefix(prefix), oss.MaxUploads(listMax)}
		if keyMarker != "" || idMarker != "" {
			opts = append(opts, oss.KeyMarker(keyMarker), oss.UploadIDMarker(idMarker))
		}
		var r oss.ListMultipartUploadResult
		err := c.call(ctx, "ListMultipartUploads", prefix, func(ctx context.Context) error {
			var err error
			r, err = c.bucket.ListMultipartUploads(withCtx(ctx, opts)...)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, u := range r.Uploads {
			out = append(out, Upload{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated})
		}
		if !r.IsTruncated {
			return out, nil
		}
		keyMarker, idMarker = r.NextKeyMarker, r.NextUploadIDMarker
	}
}

// AbortUpload abandons a multipart upload and frees its parts; an upload
// already gone is not an error.
func (c *Client) AbortUpload(ctx context.Context, key, uploadID string) error {
	imur := oss.InitiateMultipartUploadResult{Bucket: c.cfg.Bucket, Key: key, UploadID: uploadID}
	err := c.call(ctx, "AbortMultipartUpload", key, func(ctx context.Context) error {
		return c.bucket.AbortMultipartUpload(imur, oss.WithContext(ctx))
	})
	if e := asError(err); e != nil && e.Code == "NoSuchUpload" {
		return nil
	}
	return err
}
