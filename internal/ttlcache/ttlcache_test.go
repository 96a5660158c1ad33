package ttlcache_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/internal/ttlcache"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestCache(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
	c := ttlcache.New[int](time.Second, 3, clk.now)

	_, ok := c.Get("a")
	assert.False(t, ok)
	c.Put("a", 1, c.Gen())
	v, ok := c.Get("a")
	assert.True(t, ok)
	assert.Equal(t, 1, v)

	clk.advance(999 * time.Millisecond)
	_, ok = c.Get("a")
	assert.True(t, ok, "fresh until the TTL ends")
	clk.advance(time.Millisecond)
	_, ok = c.Get("a")
	assert.False(t, ok, "expired at the TTL")

	// A read that began before an invalidation does not undo it.
	gen := c.Gen()
	c.Invalidate("b")
	c.Put("b", 2, gen)
	_, ok = c.Get("b")
	assert.False(t, ok, "stale read dropped")

	c.Put("b", 2, c.Gen())
	c.Invalidate("b")
	_, ok = c.Get("b")
	assert.False(t, ok)

	// Bounded.
	for i := range 10 {
		c.Put(strconv.Itoa(i), i, c.Gen())
	}
	assert.Equal(t, 3, c.Len())

	c.InvalidateAll()
	assert.Equal(t, 0, c.Len())
}

func TestCacheConcurrent(t *testing.T) {
	c := ttlcache.New[int](time.Minute, 100, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := strconv.Itoa((g*i + i) % 150)
				if _, ok := c.Get(k); !ok {
					c.Put(k, i, c.Gen())
				}
				if i%97 == 0 {
					c.Invalidate(k)
				}
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 100)
}

func TestGetOrLoad(t *testing.T) {
	c := ttlcache.New[string](time.Minute, 10, nil)
	loads := 0
	load := func(_ context.Context, key string) (string, error) {
		loads++
		if key == "bad" {
			return "", errors.New("down")
		}
		return "v:" + key, nil
	}
	for range 3 {
		v, err := c.GetOrLoad(context.Background(), "k", load)
		assert.NoError(t, err)
		assert.Equal(t, "v:k", v)
	}
	assert.Equal(t, 1, loads, "loaded once, then cached")
	_, err := c.GetOrLoad(context.Background(), "bad", load)
	assert.Error(t, err)
	_, ok := c.Get("bad")
	assert.False(t, ok, "an error is not cached")

	// An invalidation while loading: the loaded value is not kept.
	_, err = c.GetOrLoad(context.Background(), "x", func(ctx context.Context, key string) (string, error) {
		c.Invalidate(key)
		return "stale", nil
	})
	assert.NoError(t, err)
	_, ok = c.Get("x")
	assert.False(t, ok)
}
