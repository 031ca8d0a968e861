package ossserver

import (
	"encoding/json"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
)

// Stats are request counters, answered as JSON by GET /_stats.
type Stats struct {
	Requests      map[string]int64 `json:"requests"`       // by OSS API name (PutObject, GetObject, ListObjectsV2, ...)
	BytesReceived int64            `json:"bytes_received"` // object bytes received (Put/UploadPart/Append bodies)
	BytesSent     int64            `json:"bytes_sent"`     // object bytes sent (GET bodies)
	BytesCopied   int64            `json:"bytes_copied"`   // bytes copied server-side (CopyObject, UploadPartCopy)
}

type statsCounter struct {
	mu       sync.Mutex
	requests map[string]int64 // GUARDED_BY(mu)
	received atomic.Int64
	sent     atomic.Int64
	copied   atomic.Int64
}

func (c *statsCounter) reset() {
	c.mu.Lock()
	c.requests = map[string]int64{}
	c.mu.Unlock()
	c.received.Store(0)
	c.sent.Store(0)
	c.copied.Store(0)
}

func (c *statsCounter) count(api string) {
	c.mu.Lock()
	c.requests[api]++
	c.mu.Unlock()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.stats.mu.Lock()
	req := maps.Clone(s.stats.requests)
	s.stats.mu.Unlock()
	return Stats{
		Requests:      req,
		BytesReceived: s.stats.received.Load(),
		BytesSent:     s.stats.sent.Load(),
		BytesCopied:   s.stats.copied.Load(),
	}
}

// ResetStats sets every counter to zero.
func (s *Server) ResetStats() { s.stats.reset() }

// serveStats answers GET (counters) and DELETE (reset) on /_stats. It is never
// faulted, delayed or counted.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		data, _ := json.Marshal(s.Stats())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(append(data, '\n'))
		}
	case http.MethodDelete:
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// countingWriter counts bytes written through it into a counter.
type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
