package ttlcache_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/internal/ttlcache"
)

// TestPutExpiresFromReadStart: a value is kept until the TTL has passed
// since its read began, not since it was put: a read that took 900 ms of
// a one-second TTL leaves its value 100 ms.
func TestPutExpiresFromReadStart(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
	c := ttlcache.New[int](time.Second, 3, clk.now)
	read := c.Begin()
	clk.advance(900 * time.Millisecond)
	c.Put("a", 1, read)
	_, ok := c.Get("a")
	assert.True(t, ok, "fresh for the rest of the TTL")
	clk.advance(99 * time.Millisecond)
	_, ok = c.Get("a")
	assert.True(t, ok, "fresh until the TTL since the read began")
	clk.advance(time.Millisecond)
	_, ok = c.Get("a")
	assert.False(t, ok, "expired a TTL after the read began")
}

// TestPutReadPastTTL: a read that took the whole TTL caches nothing, and
// a full cache evicts nothing for it.
func TestPutReadPastTTL(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
	c := ttlcache.New[int](time.Second, 3, clk.now)
	for i := range 3 {
		c.Put(strconv.Itoa(i), i, c.Begin())
	}
	read := c.Begin()
	clk.advance(time.Second)
	c.Put("late", 9, read)
	_, ok := c.Get("late")
	assert.False(t, ok, "expired before it was put")
	assert.Equal(t, 3, c.Len(), "nothing evicted for it")
	clk.advance(-time.Second)
	for i := range 3 {
		_, ok := c.Get(strconv.Itoa(i))
		assert.True(t, ok, "entry %d kept", i)
	}
}

// TestPutReadsOutOfOrder: of two reads of one key, the last to put wins
// (when a read began says nothing of what it read), and its value expires
// a TTL after its own read began: an older read that ends last does not
// restart the TTL.
func TestPutReadsOutOfOrder(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
	c := ttlcache.New[string](time.Second, 3, clk.now)
	older := c.Begin()
	clk.advance(100 * time.Millisecond)
	newer := c.Begin()
	c.Put("a", "newer", newer)
	clk.advance(100 * time.Millisecond)
	c.Put("a", "older", older)
	v, ok := c.Get("a")
	require.True(t, ok)
	assert.Equal(t, "older", v, "the last put")
	clk.advance(799 * time.Millisecond)
	_, ok = c.Get("a")
	assert.True(t, ok, "fresh until a TTL after its read began")
	clk.advance(time.Millisecond)
	_, ok = c.Get("a")
	assert.False(t, ok, "expired a TTL after the older read began, not after its put")
}

// slowBacking is a backing store whose reads see the record as it is when
// they begin and return it only after delay, as a slow database would;
// its records change underneath the cache, as another instance's writes
// do.
type slowBacking struct {
	mu    sync.Mutex
	recs  map[string]rec
	delay time.Duration
}

func (b *slowBacking) set(r rec) { b.mu.Lock(); defer b.mu.Unlock(); b.recs[r.ID] = r }
func (b *slowBacking) Create(_ context.Context, r rec) (rec, error) {
	b.set(r)
	return r, nil
}
func (b *slowBacking) Get(_ context.Context, id string) (rec, error) {
	b.mu.Lock()
	r := b.recs[id]
	b.mu.Unlock()
	time.Sleep(b.delay)
	return r, nil
}
func (b *slowBacking) Update(_ context.Context, r rec) (rec, error) {
	b.set(r)
	return r, nil
}
func (b *slowBacking) List(context.Context, string) ([]rec, error) { return nil, nil }

// TestStoreSlowReadOnAnotherInstance: a change made on another instance
// (in the backing store, with no invalidation here) is seen within the
// TTL even when the read that cached the old record was slow: its value
// is not served once the TTL has passed since that read began. (Before,
// a read begun before the change and ended after it kept the old record
// for a whole TTL from its end: a key revoked elsewhere stayed usable
// here for the TTL plus the read's time.)
func TestStoreSlowReadOnAnotherInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 30 * time.Second
		b := &slowBacking{recs: map[string]rec{"a": {ID: "a", Tags: []string{"usable"}}}, delay: 20 * time.Second}
		s := ttlcache.NewStore(b, ttl, ttl, 10, 10, nil,
			func(r rec) string { return r.ID },
			func(r rec) rec { r.Tags = append([]string(nil), r.Tags...); return r })
		ctx := context.Background()
		start := time.Now()

		done := make(chan rec)
		go func() {
			r, err := s.Get(ctx, "a") // reads "usable" at 0 s, returns at 20 s
			assert.NoError(t, err)
			done <- r
		}()
		time.Sleep(5 * time.Second)
		b.set(rec{ID: "a", Tags: []string{"revoked"}}) // another instance's change
		got := <-done
		assert.Equal(t, []string{"usable"}, got.Tags, "the slow read's record")
		require.Equal(t, 20*time.Second, time.Since(start))

		b.delay = 0
		time.Sleep(ttl - 20*time.Second - time.Nanosecond)
		r, err := s.Get(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, []string{"usable"}, r.Tags, "cached until the TTL since the read began")
		time.Sleep(time.Nanosecond)
		r, err = s.Get(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, []string{"revoked"}, r.Tags, "the change shows a TTL after the slow read began")
	})
}
