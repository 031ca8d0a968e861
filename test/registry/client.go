package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client drives the OCI distribution API by hand, for what
// go-containerregistry does not do on request: monolithic PUT uploads,
// uploads in several PATCH chunks, cross-repository mounts, ranged GETs and
// manifest deletes.
type Client struct {
	Base string // http://127.0.0.1:PORT
	HTTP *http.Client
}

// NewClient returns a client for the registry r.
func NewClient(r *Registry) *Client {
	return &Client{Base: r.URL(), HTTP: &http.Client{Timeout: 10 * time.Minute}}
}

// Digest is the OCI digest ("sha256:<hex>") of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (c *Client) do(method, target string, body []byte, header http.Header) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, fmt.Errorf("%s %s: read body: %w", method, target, err)
	}
	return resp, data, nil
}

func (c *Client) expect(method, target string, body []byte, header http.Header, want int) (*http.Response, []byte, error) {
	resp, data, err := c.do(method, target, body, header)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return resp, data, fmt.Errorf("%s %s: %s, want %d: %s", method, target, resp.Status, want, truncate(data))
	}
	return resp, data, nil
}

// location resolves an upload's Location header against the base URL.
func (c *Client) location(resp *http.Response) (*url.URL, error) {
	base, err := url.Parse(c.Base)
	if err != nil {
		return nil, err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, fmt.Errorf("bad Location %q: %w", resp.Header.Get("Location"), err)
	}
	return base.ResolveReference(loc), nil
}

// StartUpload opens an upload session (POST) and returns its location.
func (c *Client) StartUpload(repo string) (*url.URL, error) {
	resp, _, err := c.expect(http.MethodPost, c.Base+"/v2/"+repo+"/blobs/uploads/", nil, nil, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	return c.location(resp)
}

// PushMonolithic uploads data as one blob: POST, then a single PUT carrying
// all the bytes and the digest.
func (c *Client) PushMonolithic(repo string, data []byte) (string, error) {
	loc, err := c.StartUpload(repo)
	if err != nil {
		return "", err
	}
	dgst := Digest(data)
	return dgst, c.commit(loc, dgst, data)
}

// PushChunked uploads data in the given number of PATCH requests (nearly
// equal chunks, each with its Content-Range), waiting pause between them as
// a slow client would, then commits with an empty PUT.
func (c *Client) PushChunked(repo string, data []byte, chunks int, pause time.Duration) (string, error) {
	loc, err := c.StartUpload(repo)
	if err != nil {
		return "", err
	}
	size := len(data)
	for i := 0; i < chunks; i++ {
		start, end := size*i/chunks, size*(i+1)/chunks
		if end == start {
			continue
		}
		if i > 0 && pause > 0 {
			time.Sleep(pause)
		}
		h := http.Header{}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Range", fmt.Sprintf("%d-%d", start, end-1))
		resp, _, err := c.expect(http.MethodPatch, loc.String(), data[start:end], h, http.StatusAccepted)
		if err != nil {
			return "", fmt.Errorf("chunk %d of %d: %w", i+1, chunks, err)
		}
		if got, want := resp.Header.Get("Range"), fmt.Sprintf("0-%d", end-1); got != want {
			return "", fmt.Errorf("chunk %d of %d: Range %q, want %q", i+1, chunks, got, want)
		}
		if loc, err = c.location(resp); err != nil {
			return "", err
		}
	}
	dgst := Digest(data)
	return dgst, c.commit(loc, dgst, nil)
}

func (c *Client) commit(loc *url.URL, dgst string, body []byte) error {
	u := *loc
	q := u.Query()
	q.Set("digest", dgst)
	u.RawQuery = q.Encode()
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	if body == nil {
		body = []byte{}
	}
	resp, _, err := c.expect(http.MethodPut, u.String(), body, h, http.StatusCreated)
	if err != nil {
		return err
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != dgst {
		return fmt.Errorf("PUT %s: Docker-Content-Digest %q, want %q", loc.Path, got, dgst)
	}
	return nil
}

// Mount asks for a cross-repository blob mount from one repository into
// another; the registry must answer 201 (mounted), not 202 (upload started).
func (c *Client) Mount(to, from, dgst string) error {
	target := fmt.Sprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", c.Base, to, url.QueryEscape(dgst), url.QueryEscape(from))
	_, _, err := c.expect(http.MethodPost, target, nil, nil, http.StatusCreated)
	return err
}

// BlobStatus is the status code of HEAD /v2/<repo>/blobs/<digest>.
func (c *Client) BlobStatus(repo, dgst string) (int, error) {
	resp, _, err := c.do(http.MethodHead, c.Base+"/v2/"+repo+"/blobs/"+dgst, nil, nil)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// ManifestStatus is the status code of HEAD /v2/<repo>/manifests/<ref>.
func (c *Client) ManifestStatus(repo, ref string) (int, error) {
	h := http.Header{}
	h.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	resp, _, err := c.do(http.MethodHead, c.Base+"/v2/"+repo+"/manifests/"+ref, nil, h)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// GetBlob reads a whole blob.
func (c *Client) GetBlob(repo, dgst string) ([]byte, error) {
	_, data, err := c.expect(http.MethodGet, c.Base+"/v2/"+repo+"/blobs/"+dgst, nil, nil, http.StatusOK)
	return data, err
}

// GetBlobRange reads a blob with a Range header ("bytes=a-b"); it must
// answer 206 and returns the body and the Content-Range header.
func (c *Client) GetBlobRange(repo, dgst, rng string) ([]byte, string, error) {
	h := http.Header{}
	h.Set("Range", rng)
	resp, data, err := c.expect(http.MethodGet, c.Base+"/v2/"+repo+"/blobs/"+dgst, nil, h, http.StatusPartialContent)
	if err != nil {
		return nil, "", err
	}
	if n := resp.Header.Get("Content-Length"); n != "" && n != strconv.Itoa(len(data)) {
		return nil, "", fmt.Errorf("range %s: Content-Length %s but %d bytes", rng, n, len(data))
	}
	return data, resp.Header.Get("Content-Range"), nil
}

// DeleteManifest deletes a manifest by digest (202 Accepted).
func (c *Client) DeleteManifest(repo, dgst string) error {
	_, _, err := c.expect(http.MethodDelete, c.Base+"/v2/"+repo+"/manifests/"+dgst, nil, nil, http.StatusAccepted)
	return err
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
