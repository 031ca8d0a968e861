package ossio

import (
	"sync"
	"sync/atomic"
)

// APIStats counts the traffic of one OSS API since the Client was made.
// Calls counts requests sent (every attempt, so retries included); Errors
// counts attempts that failed; Retries counts attempts after the first,
// including transparent resumes of a ranged read cut mid-body.
type APIStats struct {
	Calls, Errors, Retries, BytesUp, BytesDown int64
}

type apiCounters struct {
	calls, errors, retries, bytesUp, bytesDown atomic.Int64
}

type statsTable struct {
	mu sync.Mutex
	m  map[string]*apiCounters // GUARDED_BY(mu); the counters themselves are atomic
}

func newStatsTable() *statsTable { return &statsTable{m: map[string]*apiCounters{}} }

func (t *statsTable) get(api string) *apiCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.m[api]
	if c == nil {
		c = &apiCounters{}
		t.m[api] = c
	}
	return c
}

// Stats returns a snapshot keyed by OSS API name (PutObject, GetObject,
// UploadPart, ...).
func (c *Client) Stats() map[string]APIStats {
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	out := make(map[string]APIStats, len(c.stats.m))
	for api, ctr := range c.stats.m {
		out[api] = APIStats{
			Calls:     ctr.calls.Load(),
			Errors:    ctr.errors.Load(),
			Retries:   ctr.retries.Load(),
			BytesUp:   ctr.bytesUp.Load(),
			BytesDown: ctr.bytesDown.Load(),
		}
	}
	return out
}

// Total sums a Stats snapshot over all APIs.
func Total(s map[string]APIStats) APIStats {
	var t APIStats
	for _, v := range s {
		t.Calls += v.Calls
		t.Errors += v.Errors
		t.Retries += v.Retries
		t.BytesUp += v.BytesUp
		t.BytesDown += v.BytesDown
	}
	return t
}
