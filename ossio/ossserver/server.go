package ossserver

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Server.
type Config struct {
	Root            string        // directory backend that survives restarts; "" = memory
	AccessKeyID     string        // "" disables authentication (every request is accepted)
	AccessKeySecret string        //
	Buckets         []string      // created at start (idempotent with Root)
	Domain          string        // virtual-hosted style: Host "BUCKET.<Domain>[:port]"
	Latency         time.Duration // added before answering each request
	FaultRate       float64       // share of requests answered 500/503 or cut mid-body
	Seed            int64         // makes fault injection reproducible
	Logger          *slog.Logger  // nil = discard
}

// Server is an OSS-compatible server. Its methods are safe for concurrent use.
//
// Lock order: keyLocks[i] (one at a time) < mu. Blob I/O happens outside mu.
type Server struct {
	cfg   Config
	log   *slog.Logger
	blobs blobStore
	meta  metaStore

	mu      sync.Mutex
	buckets map[string]*bucket // GUARDED_BY(mu)
	refs    map[string]int     // blob id → references by objects, parts and readers; GUARDED_BY(mu)

	// keyLocks serialise the commit of changes to one (bucket, key): the
	// condition checks, the metadata write and the index update happen under
	// one of them, so the persisted order equals the index order.
	keyLocks [64]sync.Mutex

	stats  statsCounter
	faults *faultInjector

	started time.Time
	reqSeq  atomic.Uint64
	closed  atomic.Bool
}

// New builds a server from cfg, loading the directory backend if cfg.Root is set.
func New(cfg Config) (*Server, error) {
	if cfg.FaultRate < 0 || cfg.FaultRate > 1 {
		return nil, fmt.Errorf("fault rate %v: must be within [0, 1]", cfg.FaultRate)
	}
	if cfg.Latency < 0 {
		return nil, fmt.Errorf("latency %v: must not be negative", cfg.Latency)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		buckets: map[string]*bucket{},
		refs:    map[string]int{},
		faults:  newFaultInjector(cfg.Seed, cfg.Latency, cfg.FaultRate),
		started: time.Now(),
	}
	s.stats.reset()
	if cfg.Root == "" {
		s.blobs = newMemBlobs()
		s.meta = noPersist{}
	} else {
		blobs, err := newDirBlobs(filepath.Join(cfg.Root, "blobs"))
		if err != nil {
			return nil, fmt.Errorf("open root %s: %w", cfg.Root, err)
		}
		s.blobs = blobs
		s.meta = dirMeta{root: cfg.Root}
		if err := s.load(); err != nil {
			return nil, fmt.Errorf("open root %s: %w", cfg.Root, err)
		}
	}
	for _, name := range cfg.Buckets {
		if !validBucketName(name) {
			return nil, fmt.Errorf("bucket %q: invalid name (3-63 of a-z, 0-9, '-', not starting or ending with '-')", name)
		}
		if _, err := s.createBucket(name); err != nil && !errors.Is(err, errBucketExists) {
			return nil, fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return s, nil
}

// load rebuilds the index and reference counts from disk and removes blobs
// nothing references (bytes of uploads cut short by a crash).
func (s *Server) load() error {
	bs, err := s.meta.load()
	if err != nil {
		return err
	}
	for _, b := range bs {
		s.buckets[b.Name] = b
		for _, o := range b.objs {
			s.pinLocked(o.Extents)
		}
		for _, u := range b.uploads {
			for _, p := range u.Parts {
				s.pinLocked(p.Extents)
			}
		}
	}
	ids, err := s.blobs.list()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if s.refs[id] == 0 {
			if err := s.blobs.remove(id); err != nil {
				s.log.Warn("remove unreferenced blob", "blob", id, "err", err)
			}
		}
	}
	return nil
}

var errBucketExists = errors.New("bucket exists")

func (s *Server) createBucket(name string) (*bucket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[name]; b != nil {
		return b, errBucketExists
	}
	b := newBucket(name, time.Now().UTC())
	if err := s.meta.saveBucket(b); err != nil {
		return nil, err
	}
	s.buckets[name] = b
	return b, nil
}

// Close releases the server. Memory contents are dropped.
func (s *Server) Close() error {
	s.closed.Store(true)
	return nil
}

// SetFaults changes latency and fault rate at run time.
func (s *Server) SetFaults(latency time.Duration, rate float64) {
	s.faults.set(latency, rate)
}

// Handler serves path-style (/BUCKET/KEY) and, when Config.Domain is set,
// virtual-hosted (Host BUCKET.DOMAIN, path /KEY) requests, plus /_stats.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "") })
}

// CnameHandler serves one bucket as a custom domain does: /KEY is that
// bucket's key. Signatures are still computed over /BUCKET/KEY.
func (s *Server) CnameHandler(bucket string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, bucket) })
}

func (s *Server) keyLock(bucket, key string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = io.WriteString(h, bucket)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, key)
	return &s.keyLocks[h.Sum32()%uint32(len(s.keyLocks))]
}

func (s *Server) pinLocked(exts []extent) {
	for _, e := range exts {
		s.refs[e.Blob]++
	}
}

// unpinLocked drops one reference per extent and returns the blobs that no
// longer have any; the caller removes them with dropBlobs after unlocking.
func (s *Server) unpinLocked(exts []extent) []string {
	var dead []string
	for _, e := range exts {
		n := s.refs[e.Blob] - 1
		if n <= 0 {
			delete(s.refs, e.Blob)
			if !slices.Contains(dead, e.Blob) {
				dead = append(dead, e.Blob)
			}
			continue
		}
		s.refs[e.Blob] = n
	}
	return dead
}

func (s *Server) unpin(exts []extent) {
	if len(exts) == 0 {
		return
	}
	s.mu.Lock()
	dead := s.unpinLocked(exts)
	s.mu.Unlock()
	s.dropBlobs(dead)
}

func (s *Server) dropBlobs(ids []string) {
	for _, id := range ids {
		if err := s.blobs.remove(id); err != nil {
			s.log.Warn("remove blob", "blob", id, "err", err)
		}
	}
}

// Running is a Server listening on a TCP address.
type Running struct {
	*Server
	Endpoint string // "http://127.0.0.1:PORT"
	Addr     string // "127.0.0.1:PORT"

	httpSrv *http.Server
}

// Start serves cfg on addr ("127.0.0.1:0" picks a free port).
func Start(cfg Config, addr string) (*Running, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	hs := newHTTPServer(s.Handler(), s.log)
	go func() { _ = hs.Serve(ln) }()
	a := ln.Addr().String()
	return &Running{Server: s, Endpoint: "http://" + a, Addr: a, httpSrv: hs}, nil
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// Close stops listening, waits briefly for requests in flight and closes the server.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.httpSrv.Shutdown(ctx)
	if err != nil {
		_ = r.httpSrv.Close()
	}
	if cerr := r.Server.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	return err
}
