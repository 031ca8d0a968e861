package ossserver

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// fault is what the injector decided for one request.
type fault int

const (
	faultNone fault = iota
	fault500
	fault503
	faultCut // cut the connection mid-body (GET with a body only)
)

// faultInjector draws faults from a seeded generator, one draw per request
// in arrival order, so a sequential test sees the same faults on every run.
type faultInjector struct {
	mu      sync.Mutex
	rng     *rand.Rand    // GUARDED_BY(mu)
	latency time.Duration // GUARDED_BY(mu)
	rate    float64       // GUARDED_BY(mu)
}

func newFaultInjector(seed int64, latency time.Duration, rate float64) *faultInjector {
	return &faultInjector{
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x6f73736d6f756e74)),
		latency: latency,
		rate:    rate,
	}
}

func (f *faultInjector) set(latency time.Duration, rate float64) {
	f.mu.Lock()
	f.latency = max(latency, 0)
	f.rate = min(max(rate, 0), 1)
	f.mu.Unlock()
}

// draw decides the fault for one request; canCut says whether the answer
// has a body that can be cut.
func (f *faultInjector) draw(canCut bool) (time.Duration, fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rate <= 0 {
		return f.latency, faultNone
	}
	// Always draw both numbers so the sequence does not depend on the kind
	// of request.
	p := f.rng.Float64()
	k := f.rng.IntN(3)
	if p >= f.rate {
		return f.latency, faultNone
	}
	switch {
	case k == 2 && canCut:
		return f.latency, faultCut
	case k == 1:
		return f.latency, fault503
	default:
		return f.latency, fault500
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
