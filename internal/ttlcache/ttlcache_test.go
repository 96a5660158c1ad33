package ttlcache_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	c.Put("a", 1, c.Begin())
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
	read := c.Begin()
	c.Invalidate("b")
	c.Put("b", 2, read)
	_, ok = c.Get("b")
	assert.False(t, ok, "stale read dropped")

	c.Put("b", 2, c.Begin())
	c.Invalidate("b")
	_, ok = c.Get("b")
	assert.False(t, ok)

	// Bounded.
	for i := range 10 {
		c.Put(strconv.Itoa(i), i, c.Begin())
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
					c.Put(k, i, c.Begin())
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

type rec struct {
	ID   string
	Tags []string
}

var errConflict = errors.New("conflict")

// backing is a Backing that counts its reads and can fail its writes.
type backing struct {
	recs     map[string]rec
	gets     int
	failNext bool
}

func (b *backing) Create(_ context.Context, r rec) (rec, error) { b.recs[r.ID] = r; return r, nil }
func (b *backing) Get(_ context.Context, id string) (rec, error) {
	b.gets++
	r, ok := b.recs[id]
	if !ok {
		return rec{}, errors.New("not found")
	}
	return r, nil
}
func (b *backing) Update(_ context.Context, r rec) (rec, error) {
	if b.failNext {
		b.failNext = false
		return rec{}, errConflict
	}
	b.recs[r.ID] = r
	return r, nil
}
func (b *backing) List(context.Context, string) ([]rec, error) { b.gets++; return nil, nil }

// newTestStore is a Store over a backing store holding record "a", with
// the default TTL of a second on a test clock, cloning what it reads.
func newTestStore() (*clock, *backing, *ttlcache.Store[rec, string]) {
	clk := &clock{t: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	b := &backing{recs: map[string]rec{"a": {ID: "a", Tags: []string{"x"}}}}
	s := ttlcache.NewStore(b, 0, time.Second, 0, 10, clk.now,
		func(r rec) string { return r.ID },
		func(r rec) rec { r.Tags = append([]string(nil), r.Tags...); return r })
	return clk, b, s
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	clk, b, s := newTestStore()

	got, err := s.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, got.Tags)
	b.recs["a"].Tags[0] = "changed in the backing store's shared slice"
	got, err = s.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, got.Tags, "the cache keeps a clone of what it read")
	assert.Equal(t, 1, b.gets, "served from memory within the TTL")

	clk.advance(time.Second)
	_, err = s.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 2, b.gets, "read again once the default TTL has passed")

	_, err = s.Get(ctx, "unknown")
	require.Error(t, err)
	_, err = s.Get(ctx, "unknown")
	require.Error(t, err)
	assert.Equal(t, 4, b.gets, "an unknown ID is not cached")

	_, err = s.List(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, 5, b.gets, "List goes to the backing store")

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Get(done, "a")
	require.ErrorIs(t, err, context.Canceled, "a done ctx fails Get even when the record is cached")

	// Writes forget the cached copy, also when they fail.
	b.failNext = true
	_, err = s.Update(ctx, rec{ID: "a"})
	require.ErrorIs(t, err, errConflict)
	_, err = s.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 6, b.gets, "a failed Update forgets the copy")

	err = s.Forget("a", func() error { return errConflict })
	require.ErrorIs(t, err, errConflict)
	_, err = s.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 7, b.gets, "a failed Forget write forgets the copy")

	_, err = s.Get(ctx, "a")
	require.NoError(t, err)
	s.Invalidate("a")
	_, err = s.Get(ctx, "a")
	require.NoError(t, err)
	s.InvalidateAll()
	_, err = s.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 9, b.gets, "Invalidate and InvalidateAll forget")
}

// BenchmarkGetParallel reads one cached entry from every core: the read
// path of every request that finds its key, account or denylist answer in
// memory.
func BenchmarkGetParallel(b *testing.B) {
	c := ttlcache.New[[64]byte](time.Hour, 1000, nil)
	for i := range 100 {
		c.Put("key_"+strconv.Itoa(i), [64]byte{}, c.Begin())
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get("key_42"); !ok {
				b.Fatal("not cached")
			}
		}
	})
}

// TestRef checks that Ref hands out the cached value itself, that it
// expires and is forgotten as Get's, and that a reader holding it keeps
// reading the value it got after an invalidation or a newer Put.
func TestRef(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	c := ttlcache.New[[2]string](time.Second, 3, clk.now)
	_, ok := c.Ref("a")
	assert.False(t, ok)

	c.Put("a", [2]string{"x", "y"}, c.Begin())
	p, ok := c.Ref("a")
	require.True(t, ok)
	assert.Equal(t, [2]string{"x", "y"}, *p)
	q, _ := c.Ref("a")
	assert.Same(t, p, q, "the cached value, not a copy")

	c.Put("a", [2]string{"z"}, c.Begin())
	assert.Equal(t, [2]string{"x", "y"}, *p, "a newer Put stores a new entry")
	c.Invalidate("a")
	assert.Equal(t, [2]string{"x", "y"}, *p, "an invalidation leaves the held value as it was")
	_, ok = c.Ref("a")
	assert.False(t, ok)

	c.Put("b", [2]string{"b"}, c.Begin())
	clk.advance(time.Second)
	_, ok = c.Ref("b")
	assert.False(t, ok, "expired at the TTL")
}

// TestStoreGetRef checks that GetRef reads as Get does (through the cache,
// the clone on a miss, errors, a done ctx) and hands out the cached record
// itself on a hit.
func TestStoreGetRef(t *testing.T) {
	ctx := context.Background()
	clk, b, s := newTestStore()

	first, err := s.GetRef(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, rec{ID: "a", Tags: []string{"x"}}, *first)
	b.recs["a"].Tags[0] = "changed in the backing store's shared slice"
	hit, err := s.GetRef(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, hit.Tags, "the cache keeps a clone of what it read")
	again, err := s.GetRef(ctx, "a")
	require.NoError(t, err)
	assert.Same(t, hit, again, "a hit is the cached record itself")
	assert.Equal(t, 1, b.gets, "served from memory within the TTL")
	clk.advance(time.Second)
	fresh, err := s.GetRef(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 2, b.gets, "read again once the TTL has passed")
	assert.Equal(t, "changed in the backing store's shared slice", fresh.Tags[0])
	assert.Equal(t, []string{"x"}, hit.Tags, "the record held before is as it was")

	_, err = s.GetRef(ctx, "unknown")
	require.Error(t, err)
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.GetRef(done, "a")
	require.ErrorIs(t, err, context.Canceled, "a done ctx fails GetRef even when the record is cached")
}
