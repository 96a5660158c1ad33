package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/ratelimit"
)

func TestFailureLimiterDefault(t *testing.T) {
	l, c := newLimiter(0)
	f := ratelimit.NewFailureLimiter(l, ratelimit.Policy{})
	assert.Equal(t, ratelimit.Policy{Name: "auth-failures", Limit: 100, Window: time.Minute}, f.Policy())

	const ip = "203.0.113.7"
	for i := range 100 {
		blocked, _, err := f.Blocked(ctx, ip)
		require.NoError(t, err)
		require.False(t, blocked, "before failure %d", i+1)
		d, err := f.Failed(ctx, ip)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	}
	blocked, d, err := f.Blocked(ctx, ip)
	require.NoError(t, err)
	assert.True(t, blocked, "blocked after exactly 100 failures")
	assert.Equal(t, 600*time.Millisecond, d.RetryAfter)

	// Other IPs are unaffected; blocking peeks and counts nothing.
	for range 1000 {
		blocked, _, _ = f.Blocked(ctx, "203.0.113.8")
		require.False(t, blocked)
	}

	// One failure's worth returns every 600 ms.
	c.Advance(600 * time.Millisecond)
	blocked, _, _ = f.Blocked(ctx, ip)
	assert.False(t, blocked)
	_, _ = f.Failed(ctx, ip)
	blocked, _, _ = f.Blocked(ctx, ip)
	assert.True(t, blocked)

	c.Advance(time.Minute)
	blocked, d, _ = f.Blocked(ctx, ip)
	assert.False(t, blocked)
	assert.Equal(t, 100, d.Remaining)
}

func TestFailureLimiterPolicy(t *testing.T) {
	l, _ := newLimiter(0)
	f := ratelimit.NewFailureLimiter(l, ratelimit.Policy{Limit: 3, Window: time.Minute})
	for range 3 {
		_, _ = f.Failed(ctx, "192.0.2.1")
	}
	blocked, _, _ := f.Blocked(ctx, "192.0.2.1")
	assert.True(t, blocked)
	d, err := f.Failed(ctx, "192.0.2.1")
	require.NoError(t, err)
	assert.False(t, d.Allowed, "a failure over the limit is reported")

	// Its keys are apart from other uses of the same limiter.
	d, _ = l.Allow(ctx, "192.0.2.1", ratelimit.Policy{Limit: 1, Window: time.Minute})
	assert.True(t, d.Allowed)
}

func TestFailureLimiterUnlimited(t *testing.T) {
	l, _ := newLimiter(0)
	f := ratelimit.NewFailureLimiter(l, ratelimit.Policy{Name: "off", Limit: -1})
	for range 1000 {
		_, _ = f.Failed(ctx, "192.0.2.1")
	}
	blocked, _, err := f.Blocked(ctx, "192.0.2.1")
	require.NoError(t, err)
	assert.False(t, blocked)
}

func TestFailureLimiterErrorBlocks(t *testing.T) {
	l, _ := newLimiter(0)
	f := ratelimit.NewFailureLimiter(l, ratelimit.Policy{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	blocked, _, err := f.Blocked(cctx, "192.0.2.1")
	assert.Error(t, err)
	assert.True(t, blocked, "fails closed")
}

func TestFailureLimiterConcurrent(t *testing.T) {
	l, _ := newLimiter(0)
	f := ratelimit.NewFailureLimiter(l, ratelimit.Policy{Limit: 10, Window: time.Hour})
	results := make(chan bool, 100)
	for range 100 {
		go func() {
			d, err := f.Failed(ctx, "192.0.2.9")
			results <- err == nil && d.Allowed
		}()
	}
	counted := 0
	for range 100 {
		if <-results {
			counted++
		}
	}
	assert.Equal(t, 10, counted)
}
