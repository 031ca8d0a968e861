package ossio

import (
	"context"
	"sync"
)

// span is one part of an object: bytes [off, off+n).
type span struct{ off, n int64 }

// splitParts cuts size bytes into parts of partSize, grown when needed to
// stay within OSS's 10,000 parts. A zero size has no parts.
func splitParts(size, partSize int64) []span {
	if need := (size + maxParts - 1) / maxParts; partSize < need {
		partSize = need
	}
	var out []span
	for off := int64(0); off < size; off += partSize {
		out = append(out, span{off, min(partSize, size-off)})
	}
	return out
}

// forEach runs fn(ctx, i) for every i in [0, n) on at most k goroutines.
// The first error cancels the context of the others and is returned.
func forEach(ctx context.Context, n, k int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	next := make(chan int)
	for w := 0; w < min(n, k); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		// Cancelled from outside before every part ran.
		first = context.Cause(ctx)
	}
	return first
}
