// Package ttlcache is a small, bounded, concurrency-safe cache of values
// by string key, each kept for a fixed time, with invalidation that cannot
// be undone by a slow reader, and [Store], the read-through cache that the
// cached record stores (apikey.CachedStore, account.CachedStore,
// httpsig.CachedCredentialStore) wrap.
package ttlcache

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Cache holds values for a TTL. The zero value is not usable: call [New].
//
// Reads take no lock and write no shared memory (a [sync.Map] load), so
// that the request path of both cores does not contend on one cache line;
// writes are serialised by a mutex, which also orders them with the
// invalidation generation.
type Cache[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time // nil: the system clock, see fresh

	entries sync.Map // string → *entry[V]

	mu sync.Mutex // held by writers
	// keys are the stored keys, expired ones included, and index each
	// one's place in keys, both under mu: an eviction picks its victim
	// at random from them. (A sync.Map's Range always starts in the same
	// region of its hash trie, so that "the first entry Range yields"
	// would always be the entry of lowest hash: a full cache would keep
	// the highest hashes it ever saw and drop each new entry next.)
	keys  []string
	index map[string]int
	// gen counts invalidations (see Begin and Put): changed under mu, read
	// without it by Begin.
	gen atomic.Uint64
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a Cache keeping each value for ttl (> 0), with at most max
// (> 0) entries, on the clock now (nil: time.Now).
func New[V any](ttl time.Duration, max int, now func() time.Time) *Cache[V] {
	return &Cache[V]{ttl: ttl, max: max, now: now, index: map[string]int{}}
}

// Get returns the value cached for key, if it has not expired.
func (c *Cache[V]) Get(key string) (V, bool) {
	if p, ok := c.Ref(key); ok {
		return *p, true
	}
	var zero V
	return zero, false
}

// Ref is [Cache.Get] without the copy: a pointer to the cached value
// itself, for callers that read a large value in place. The value is the
// cache's: never write through the pointer. It stays as it is after an
// invalidation or a newer Put (which store new entries), so that a reader
// holding it reads a consistent, if stale, value.
func (c *Cache[V]) Ref(key string) (*V, bool) {
	e, ok := c.entries.Load(key)
	if !ok {
		return nil, false
	}
	ent := e.(*entry[V])
	if !c.fresh(ent.expires) {
		return nil, false
	}
	return &ent.v, true
}

// Read is a read of the backing store begun by [Cache.Begin], for [Cache.Put].
type Read struct {
	gen   uint64    // the invalidation generation when it began
	start time.Time // the cache's clock when it began
}

// Begin begins a read of the backing store: a reader that missed calls it
// before it reads and passes its Read to Put, which drops the value if
// anything was invalidated in between (an invalidation is never undone by
// a read that started before it) and keeps it until the TTL has passed
// since the read began, not since it ended.
func (c *Cache[V]) Begin() Read {
	// The generation first: an invalidation between the two readings
	// drops the value, as it should.
	r := Read{gen: c.gen.Load()}
	if c.now != nil {
		r.start = c.now()
	} else {
		r.start = time.Now()
	}
	return r
}

// Put caches v, which a read begun as r (see [Cache.Begin]) returned for
// key, until the TTL has passed since r began (or since now, on a clock
// that stepped back since), so that no value is served longer than the
// TTL after the backing store was read, however long the read took: a
// change made elsewhere (on another instance, without an invalidation
// here) shows within the TTL. It caches nothing when an invalidation
// happened since r began or when the value has expired already. Of two
// reads of one key, the last to put wins: when they began says nothing of
// which one read the newer value (a read may begin later and read
// sooner), and either value expires within the TTL of its own read. When
// the cache is full, an arbitrary entry makes room.
func (c *Cache[V]) Put(key string, v V, r Read) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.gen != c.gen.Load() {
		return
	}
	var now time.Time
	if c.now != nil {
		now = c.now()
	} else {
		now = time.Now()
	}
	// A start after now is a clock (an injected wall clock) that stepped
	// back during the read: count from now, as if the read had begun
	// there, so that the value is never kept longer than the TTL after
	// it was put.
	start := r.start
	if now.Before(start) {
		start = now
	}
	expires := start.Add(c.ttl)
	if !now.Before(expires) {
		return // the read took the whole TTL
	}
	if _, ok := c.index[key]; !ok {
		if len(c.keys) >= c.max {
			c.forget(c.keys[rand.IntN(len(c.keys))]) // a random victim
		}
		c.index[key] = len(c.keys)
		c.keys = append(c.keys, key)
	}
	c.entries.Store(key, &entry[V]{v: v, expires: expires})
}

// fresh reports whether an entry that expires at expires has not expired
// yet. On the system clock it reads the monotonic clock alone
// ([time.Until] of a time with a monotonic reading, which time.Now's
// expiry times carry outside a synctest bubble), half the cost of
// time.Now's two readings, on every cache hit of the request path.
func (c *Cache[V]) fresh(expires time.Time) bool {
	if c.now == nil {
		return time.Until(expires) > 0
	}
	return c.now().Before(expires)
}

// GetOrLoad returns the value cached for key, or else load's, which it
// caches as [Cache.Put] does (see [Cache.Begin]).
// A load error is returned and nothing is cached.
func (c *Cache[V]) GetOrLoad(ctx context.Context, key string, load func(context.Context, string) (V, error)) (V, error) {
	if v, ok := c.Get(key); ok {
		return v, nil
	}
	read := c.Begin()
	v, err := load(ctx, key)
	if err != nil {
		var zero V
		return zero, err
	}
	c.Put(key, v, read)
	return v, nil
}

// Invalidate forgets key.
func (c *Cache[V]) Invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bump()
	c.forget(key)
}

// forget deletes key, if stored; c.mu is held.
func (c *Cache[V]) forget(key string) {
	i, ok := c.index[key]
	if !ok {
		return
	}
	c.entries.Delete(key)
	last := len(c.keys) - 1
	c.keys[i] = c.keys[last]
	c.index[c.keys[i]] = i
	c.keys[last] = ""
	c.keys = c.keys[:last]
	delete(c.index, key)
}

// InvalidateAll forgets every entry.
func (c *Cache[V]) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bump()
	c.entries.Clear()
	clear(c.keys)
	c.keys = c.keys[:0]
	clear(c.index)
}

// bump starts a new invalidation generation; c.mu is held. It is
// published before the entries are forgotten, so that a reader that
// misses after the forgetting takes the new generation.
func (c *Cache[V]) bump() { c.gen.Add(1) }

// Len returns the number of entries, expired ones included.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}
