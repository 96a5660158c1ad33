package ttlcache_test

import (
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/internal/ttlcache"
)

// TestSystemClock is TestCache's expiry on the system clock (a nil now),
// which reads the monotonic clock alone: outside a synctest bubble, where
// expiry times carry a monotonic reading, and inside one, where they do
// not and the fake wall clock decides.
func TestSystemClock(t *testing.T) {
	t.Run("monotonic", func(t *testing.T) {
		c := ttlcache.New[int](time.Hour, 3, nil)
		c.Put("a", 1, c.Begin())
		v, ok := c.Get("a")
		assert.True(t, ok, "fresh within the TTL")
		assert.Equal(t, 1, v)

		short := ttlcache.New[int](time.Nanosecond, 3, nil)
		short.Put("a", 1, short.Begin())
		for put := time.Now(); time.Since(put) < time.Nanosecond; {
			runtime.Gosched() // until the monotonic clock has moved past the TTL
		}
		_, ok = short.Get("a")
		assert.False(t, ok, "expired after the TTL")
	})
	t.Run("bubble", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := ttlcache.New[int](time.Second, 3, nil)
			c.Put("a", 1, c.Begin())
			time.Sleep(999 * time.Millisecond)
			_, ok := c.Get("a")
			assert.True(t, ok, "fresh until the TTL ends")
			time.Sleep(time.Millisecond)
			_, ok = c.Get("a")
			assert.False(t, ok, "expired at the TTL")
		})
	})
}
