package ossio

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Config describes one bucket on one endpoint and how to talk to it.
// Zero values take the defaults documented on each field.
type Config struct {
	Endpoint        string // "http://127.0.0.1:9000" or "https://oss-cn-hangzhou.aliyuncs.com"
	Region          string // non-empty: signature V4 (oss.AuthV4 + oss.Region); empty: V1
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Bucket          string
	UseCname        bool
	PartSize        int64         // multipart part size; default 8 MiB
	Concurrency     int           // parallel parts for upload, download and part copy; default 8
	PutThreshold    int64         // files up to this size go as one PutObject; default = PartSize
	CopyThreshold   int64         // up to this size one CopyObject, above it parallel UploadPartCopy; default 1 GiB
	CopyPartSize    int64         // part size for UploadPartCopy; default 64 MiB (server-side, so larger than PartSize)
	MaxAttempts     int           // per request, including the first; default 6
	RetryBase       time.Duration // first backoff; default 100ms
	RetryMax        time.Duration // backoff cap; default 5s
	IOTimeout       time.Duration // a connection with no progress for this long fails (retryably); default 60s
	Logger          *slog.Logger  // default slog.Default()
}

const (
	defaultPartSize      = 8 << 20
	defaultConcurrency   = 8
	defaultCopyThreshold = 1 << 30
	defaultCopyPartSize  = 64 << 20
	defaultMaxAttempts   = 6
	defaultRetryBase     = 100 * time.Millisecond
	defaultRetryMax      = 5 * time.Second
	defaultIOTimeout     = 60 * time.Second

	// OSS limits on multipart uploads.
	minPartSize = 100 << 10
	maxParts    = 10000
)

func (c *Config) setDefaults() {
	if c.PartSize <= 0 {
		c.PartSize = defaultPartSize
	}
	if c.PartSize < minPartSize {
		c.PartSize = minPartSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = defaultConcurrency
	}
	if c.PutThreshold <= 0 {
		c.PutThreshold = c.PartSize
	}
	if c.CopyThreshold <= 0 {
		c.CopyThreshold = defaultCopyThreshold
	}
	if c.CopyPartSize <= 0 {
		c.CopyPartSize = defaultCopyPartSize
	}
	if c.CopyPartSize < minPartSize {
		c.CopyPartSize = minPartSize
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.RetryBase <= 0 {
		c.RetryBase = defaultRetryBase
	}
	if c.RetryMax <= 0 {
		c.RetryMax = defaultRetryMax
	}
	if c.RetryMax < c.RetryBase {
		c.RetryMax = c.RetryBase
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = defaultIOTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Client talks to one bucket. It is safe for concurrent use.
type Client struct {
	cfg    Config
	bucket *oss.Bucket
	log    *slog.Logger
	stats  *statsTable
}

// New checks cfg and builds a Client. It sends no request: use CheckBucket
// to prove that endpoint, credentials and bucket work.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if cfg.Bucket == "" {
		return nil, errors.New("ossio: no bucket")
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ossio: endpoint %q: want http://HOST[:PORT] or https://HOST[:PORT]", cfg.Endpoint)
	}
	if cfg.AccessKeyID == "" || cfg.AccessKeySecret == "" {
		return nil, errors.New("ossio: access key id and secret are required")
	}
	stats := newStatsTable()
	httpClient := &http.Client{
		Transport: &meter{next: newTransport(cfg), stats: stats, timeout: 2 * cfg.IOTimeout},
		// OSS answers 3xx only for misaddressed requests; following them
		// would resend signed requests elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	opts := []oss.ClientOption{
		oss.HTTPClient(httpClient),
		oss.UseCname(cfg.UseCname),
		oss.EnableCRC(true),
		oss.EnableMD5(false),
	}
	if cfg.SecurityToken != "" {
		opts = append(opts, oss.SecurityToken(cfg.SecurityToken))
	}
	if cfg.Region != "" {
		opts = append(opts, oss.AuthVersion(oss.AuthV4), oss.Region(cfg.Region))
	}
	cl, err := oss.New(cfg.Endpoint, cfg.AccessKeyID, cfg.AccessKeySecret, opts...)
	if err != nil {
		return nil, fmt.Errorf("ossio: endpoint %q: %w", cfg.Endpoint, err)
	}
	// conn.go never reads RetryTimes (checked in v3.0.2); zero it anyway so
	// that a future SDK that starts retrying does not multiply ours.
	cl.Config.RetryTimes = 0
	b, err := cl.Bucket(cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("ossio: bucket %q: %w", cfg.Bucket, err)
	}
	return &Client{cfg: cfg, bucket: b, log: cfg.Logger.With("bucket", cfg.Bucket), stats: stats}, nil
}

// Bucket returns the bucket name.
func (c *Client) Bucket() string { return c.cfg.Bucket }
