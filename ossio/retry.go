package ossio

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// call is the decorator every OSS request goes through. fn makes exactly
// one HTTP request with the context it is given (so that the transport can
// attribute it to api) and may read the whole response. call counts the
// attempt, wraps its error with op, key, code and request id, and retries
// retryable failures with exponential backoff and full jitter until
// MaxAttempts or ctx ends.
func (c *Client) call(ctx context.Context, api, key string, fn func(ctx context.Context) error) error {
	ctr := c.stats.get(api)
	for n := 1; ; n++ {
		a := &attempt{api: api}
		ctr.calls.Add(1)
		c.log.Debug("oss request", "api", api, "key", key, "attempt", n)
		err := fn(withAttempt(ctx, a))
		if err == nil {
			return nil
		}
		ctr.errors.Add(1)
		err = wrapErr(api, key, err, a)
		if n >= c.cfg.MaxAttempts || !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		d := c.backoff(n)
		c.log.Debug("ossio: retrying", "api", api, "key", key, "attempt", n, "backoff", d, "err", err)
		if !sleep(ctx, d) {
			return &Error{Op: api, Key: key, Err: fmt.Errorf("%w while waiting to retry after: %v", ctx.Err(), err)}
		}
		ctr.retries.Add(1)
	}
}

// backoff is the pause before attempt n+1: uniform in [0, min(RetryMax,
// RetryBase*2^(n-1))] ("full jitter"), so that many clients failing at
// once do not come back at once.
func (c *Client) backoff(n int) time.Duration {
	ceil := c.cfg.RetryBase
	for i := 1; i < n && ceil < c.cfg.RetryMax; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.cfg.RetryMax)
	return rand.N(ceil + 1)
}

// sleep waits d or until ctx ends; it reports whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
