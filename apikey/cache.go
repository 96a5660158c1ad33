package apikey

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/internal/ttlcache"
)

// CacheConfig configures a [CachedStore].
type CacheConfig struct {
	// TTL is how long a record read from the backing store is served from
	// memory. It bounds how long a change made through another instance
	// (a revocation, say) can go unseen here when nothing calls
	// [CachedStore.Invalidate] for it; changes made through this instance
	// are seen at once. Zero means [DefaultCacheTTL].
	TTL time.Duration
	// MaxEntries bounds the cached records; when full, a random one makes
	// room. Zero means [DefaultCacheEntries].
	MaxEntries int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Defaults of [CacheConfig].
const (
	DefaultCacheTTL     = 2 * time.Second
	DefaultCacheEntries = 100_000
)

// CachedStore is a read-through cache in front of a [Store] whose reads are
// slow (SQL, over the network), for the verification path: Get serves a
// record from memory for up to CacheConfig.TTL. Every write goes to the
// backing store and forgets the local copy, so that this instance sees its
// own changes at once; a write that fails on a version conflict forgets
// it too, so that the compare-and-swap retry reads afresh.
//
// Other instances sharing the backing store see a change within the TTL,
// or at once if something calls Invalidate on them for it: a service with
// several instances wires the managers' OnChange (apikey.Config.OnChange)
// to a broadcast (Redis pub/sub, say) whose receivers call Invalidate.
//
// Unknown IDs are not cached, so a key created elsewhere works at once.
// List is not cached. CachedStore passes the conformance suite of package
// apikeytest.
type CachedStore struct {
	inner Store
	s     *ttlcache.Store[cachedRecord, ListFilter]
}

// cachedRecord is a record as a CachedStore holds it, with the cached
// slot of its key in the last-used times of the Manager that verifies
// it (see usageTracker.record), as a MemoryStore's memRecord has: each
// copy read from the backing store gets a cell of its own, which the
// cache's copy and every pointer to it share, and which a Manager sets
// once, so that a verification finds the slot without hashing the key
// ID into the tracker's map.
type cachedRecord struct {
	rec   Record
	usage *atomic.Pointer[usageSlot]
}

// cachedBacking is the backing Store as the CachedStore's cache reads
// and writes it: its records as cachedRecords, without a usage cell
// until the cache's clone gives them one.
type cachedBacking struct{ inner Store }

func (b cachedBacking) Create(ctx context.Context, v cachedRecord) (cachedRecord, error) {
	rec, err := b.inner.Create(ctx, v.rec)
	return cachedRecord{rec: rec}, err
}

func (b cachedBacking) Get(ctx context.Context, id string) (cachedRecord, error) {
	rec, err := b.inner.Get(ctx, id)
	return cachedRecord{rec: rec}, err
}

func (b cachedBacking) Update(ctx context.Context, v cachedRecord) (cachedRecord, error) {
	rec, err := b.inner.Update(ctx, v.rec)
	return cachedRecord{rec: rec}, err
}

// List is never called: [CachedStore.List] lists the backing store
// itself.
func (b cachedBacking) List(ctx context.Context, f ListFilter) ([]cachedRecord, error) {
	recs, err := b.inner.List(ctx, f)
	out := make([]cachedRecord, len(recs))
	for i := range recs {
		out[i].rec = recs[i]
	}
	return out, err
}

var _ Store = (*CachedStore)(nil)

// NewCachedStore returns a CachedStore in front of inner.
func NewCachedStore(inner Store, cfg CacheConfig) *CachedStore {
	// The Store contract lets callers share the returned record: the
	// cache keeps a copy of its own.
	return &CachedStore{inner: inner, s: ttlcache.NewStore(cachedBacking{inner}, cfg.TTL, DefaultCacheTTL, cfg.MaxEntries, DefaultCacheEntries, cfg.Now,
		func(c cachedRecord) string { return c.rec.ID },
		func(c cachedRecord) cachedRecord {
			c.rec = c.rec.clone() // every record read, whatever its ID (a zero record's clone does not allocate)
			if c.rec.ID != "" {   // not the zero record of a failed read, never cached
				c.usage = new(atomic.Pointer[usageSlot])
			}
			return c
		})}
}

// Invalidate forgets the cached copy of the record with that ID, so that
// the next Get reads the backing store.
func (c *CachedStore) Invalidate(id string) { c.s.Invalidate(id) }

// InvalidateAll forgets every cached record (after a lost broadcast
// connection, say).
func (c *CachedStore) InvalidateAll() { c.s.InvalidateAll() }

// Create implements [Store].
func (c *CachedStore) Create(ctx context.Context, rec Record) (Record, error) {
	v, err := c.s.Create(ctx, cachedRecord{rec: rec})
	return v.rec, err
}

// Get implements [Store], from memory when a fresh copy is cached.
func (c *CachedStore) Get(ctx context.Context, id string) (Record, error) {
	v, err := c.s.Get(ctx, id)
	return v.rec, err
}

// readRecord reads the record with that ID into rec as [CachedStore.Get]
// returns it, with one copy out of the cache rather than one per layer
// (see Manager.get): the whole record with whole, else only what
// verifying the key needs (see Record.copyVerified). It also returns the
// record's cached usage slot (see cachedRecord).
func (c *CachedStore) readRecord(ctx context.Context, id string, rec *Record, whole bool) (*atomic.Pointer[usageSlot], error) {
	p, err := c.s.GetRef(ctx, id)
	if err != nil {
		return nil, err
	}
	if whole {
		*rec = p.rec
	} else {
		p.rec.copyVerified(rec)
	}
	return p.usage, nil
}

// List implements [Store]; it is not cached.
func (c *CachedStore) List(ctx context.Context, f ListFilter) ([]Record, error) {
	return c.inner.List(ctx, f)
}

// Update implements [Store]. The cached copy is forgotten whatever the
// outcome: after a version conflict, it is what was stale.
func (c *CachedStore) Update(ctx context.Context, rec Record) (Record, error) {
	v, err := c.s.Update(ctx, cachedRecord{rec: rec})
	return v.rec, err
}

// Touch implements [Store]. The cached copy is forgotten so that Get shows
// the new last-used time.
func (c *CachedStore) Touch(ctx context.Context, id string, t time.Time) error {
	return c.s.Forget(id, func() error { return c.inner.Touch(ctx, id, t) })
}
