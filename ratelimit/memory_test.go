package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/ratelimit"
	"github.com/keygate/keygate/ratelimit/ratelimittest"
)

func TestMemoryLimiterConformance(t *testing.T) {
	ratelimittest.TestLimiter(t, func(*testing.T) ratelimit.Limiter {
		return ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{})
	})
}

func TestMemoryLimiterConformanceSmall(t *testing.T) {
	// One shard, little room: the suite's keys must still fit.
	ratelimittest.TestLimiter(t, func(*testing.T) ratelimit.Limiter {
		return ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{MaxKeys: 16})
	})
}

// clock is a settable clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newLimiter(maxKeys int) (*ratelimit.MemoryLimiter, *clock) {
	c := newClock()
	return ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: c.Now, MaxKeys: maxKeys}), c
}

var ctx = context.Background()

var live = ratelimit.Policy{Name: "live", Limit: 20, Window: 10 * time.Second}

func TestMemoryLimiterExact(t *testing.T) {
	l, c := newLimiter(0)
	for i := range 20 {
		d, err := l.Allow(ctx, "k", live)
		require.NoError(t, err)
		assert.Equal(t, ratelimit.Decision{
			Allowed: true, Limit: 20, Remaining: 19 - i,
			Reset: time.Duration(i+1) * 500 * time.Millisecond,
		}, d, "request %d", i+1)
	}
	d, err := l.Allow(ctx, "k", live)
	require.NoError(t, err)
	assert.Equal(t, ratelimit.Decision{Limit: 20, RetryAfter: 500 * time.Millisecond, Reset: 10 * time.Second}, d)

	c.Advance(499 * time.Millisecond)
	d, _ = l.Allow(ctx, "k", live)
	assert.Equal(t, ratelimit.Decision{Limit: 20, RetryAfter: time.Millisecond, Reset: 10*time.Second - 499*time.Millisecond}, d)

	c.Advance(time.Millisecond)
	d, _ = l.Allow(ctx, "k", live)
	assert.Equal(t, ratelimit.Decision{Allowed: true, Limit: 20, Reset: 10 * time.Second}, d)

	// Half the window restores half the quota.
	c.Advance(5 * time.Second)
	d, _ = l.Allow(ctx, "k", live)
	assert.Equal(t, ratelimit.Decision{Allowed: true, Limit: 20, Remaining: 9, Reset: 5500 * time.Millisecond}, d)

	// A whole window idle restores the whole quota, and no more.
	c.Advance(time.Hour)
	d, _ = l.Allow(ctx, "k", live)
	assert.Equal(t, ratelimit.Decision{Allowed: true, Limit: 20, Remaining: 19, Reset: 500 * time.Millisecond}, d)
}

func TestMemoryLimiterSteadyRate(t *testing.T) {
	// Requests every 100 ms against 20/10s: after the burst, exactly one
	// in five passes.
	l, c := newLimiter(0)
	allowed := 0
	for range 1000 { // 100 s
		d, err := l.Allow(ctx, "k", live)
		require.NoError(t, err)
		if d.Allowed {
			allowed++
		}
		c.Advance(100 * time.Millisecond)
	}
	assert.Equal(t, 20+199, allowed) // burst, then one per 500 ms over 99.9 s
}

func TestMemoryLimiterPeek(t *testing.T) {
	l, c := newLimiter(0)
	p := ratelimit.Policy{Limit: 2, Window: time.Minute}
	d, err := l.Peek(ctx, "k", p)
	require.NoError(t, err)
	assert.Equal(t, ratelimit.Decision{Allowed: true, Limit: 2, Remaining: 2}, d)
	_, _ = l.Allow(ctx, "k", p)
	_, _ = l.Allow(ctx, "k", p)
	d, _ = l.Peek(ctx, "k", p)
	assert.Equal(t, ratelimit.Decision{Limit: 2, RetryAfter: 30 * time.Second, Reset: time.Minute}, d)
	c.Advance(30 * time.Second)
	d, _ = l.Peek(ctx, "k", p)
	assert.Equal(t, ratelimit.Decision{Allowed: true, Limit: 2, Remaining: 1, Reset: 30 * time.Second}, d)
	assert.Equal(t, 1, l.Len(), "Peek stores nothing for a key it has not seen")
	_, _ = l.Peek(ctx, "other", p)
	assert.Equal(t, 1, l.Len())
}

func TestMemoryLimiterFull(t *testing.T) {
	l, c := newLimiter(3)
	p := ratelimit.Policy{Limit: 2, Window: time.Second}
	long := ratelimit.Policy{Limit: 2, Window: time.Hour}
	for _, k := range []string{"a", "b"} {
		_, err := l.Allow(ctx, k, p)
		require.NoError(t, err)
	}
	_, err := l.Allow(ctx, "c", long)
	require.NoError(t, err)

	// Full, nothing expired: a new key fails closed, held keys still work.
	d, err := l.Allow(ctx, "d", p)
	require.ErrorIs(t, err, ratelimit.ErrFull)
	assert.Equal(t, ratelimit.Decision{Limit: 2}, d)
	d, err = l.Allow(ctx, "a", p)
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.Equal(t, 3, l.Len())

	// a's TAT is now 1 s ahead, b's 0.5 s: after 0.5 s b is dropped.
	c.Advance(500 * time.Millisecond)
	_, err = l.Allow(ctx, "d", p)
	require.NoError(t, err)
	_, err = l.Allow(ctx, "e", p)
	require.ErrorIs(t, err, ratelimit.ErrFull)

	// After a second a and d are gone, c (an hour's policy) is kept and
	// has not started over.
	c.Advance(time.Second)
	for _, k := range []string{"e", "f"} {
		_, err = l.Allow(ctx, k, p)
		require.NoError(t, err)
	}
	assert.Equal(t, 3, l.Len())
	d, _ = l.Allow(ctx, "c", long)
	assert.Equal(t, 0, d.Remaining)
	assert.True(t, d.Allowed)
}

func TestMemoryLimiterDropsExpired(t *testing.T) {
	// Without reaching MaxKeys, expired keys do not accumulate.
	l, c := newLimiter(0)
	p := ratelimit.Policy{Limit: 10, Window: time.Second}
	for i := range 100_000 {
		_, err := l.Allow(ctx, fmt.Sprint("k", i), p)
		require.NoError(t, err)
		c.Advance(time.Millisecond)
	}
	assert.Less(t, l.Len(), 64*200, "expired keys are swept")
}

func TestMemoryLimiterClockBackwards(t *testing.T) {
	l, c := newLimiter(0)
	p := ratelimit.Policy{Limit: 1, Window: time.Second}
	d, _ := l.Allow(ctx, "k", p)
	require.True(t, d.Allowed)
	c.Advance(-time.Hour)
	d, _ = l.Allow(ctx, "k", p)
	assert.False(t, d.Allowed, "a clock stepping back grants nothing")
}

func TestMemoryLimiterAllocs(t *testing.T) {
	l, _ := newLimiter(0)
	p := ratelimit.Policy{Limit: 1000, Window: time.Second}
	key := "acct_1234567890"
	_, _ = l.Allow(ctx, key, p)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := l.Allow(ctx, key, p); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "Allow on a held key")
	allocs = testing.AllocsPerRun(1000, func() { _, _ = l.Peek(ctx, key, p) })
	assert.Zero(t, allocs, "Peek")
}

func TestMemoryLimiterErrors(t *testing.T) {
	l, _ := newLimiter(0)
	d, err := l.Allow(ctx, "k", ratelimit.Policy{Limit: 5})
	require.ErrorIs(t, err, ratelimit.ErrInvalidPolicy)
	assert.Equal(t, ratelimit.Decision{Limit: 5}, d)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.Peek(cctx, "k", live)
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Zero(t, l.Len())
}
