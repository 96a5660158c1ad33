package apikey

import (
	"context"
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
	s     *ttlcache.Store[Record, ListFilter]
}

var _ Store = (*CachedStore)(nil)

// NewCachedStore returns a CachedStore in front of inner.
func NewCachedStore(inner Store, cfg CacheConfig) *CachedStore {
	// The Store contract lets callers share the returned record: the
	// cache keeps a copy of its own.
	return &CachedStore{inner: inner, s: ttlcache.NewStore(inner, cfg.TTL, DefaultCacheTTL, cfg.MaxEntries, DefaultCacheEntries, cfg.Now,
		func(rec Record) string { return rec.ID }, Record.clone)}
}

// Invalidate forgets the cached copy of the record with that ID, so that
// the next Get reads the backing store.
func (c *CachedStore) Invalidate(id string) { c.s.Invalidate(id) }

// InvalidateAll forgets every cached record (after a lost broadcast
// connection, say).
func (c *CachedStore) InvalidateAll() { c.s.InvalidateAll() }

// Create implements [Store].
func (c *CachedStore) Create(ctx context.Context, rec Record) (Record, error) {
	return c.s.Create(ctx, rec)
}

// Get implements [Store], from memory when a fresh copy is cached.
func (c *CachedStore) Get(ctx context.Context, id string) (Record, error) { return c.s.Get(ctx, id) }

// readRecord reads the record with that ID into rec as [CachedStore.Get]
// returns it, with one copy out of the cache rather than one per layer
// (see Manager.get): the whole record with whole, else only what
// verifying the key needs (see Record.copyVerified).
func (c *CachedStore) readRecord(ctx context.Context, id string, rec *Record, whole bool) error {
	p, err := c.s.GetRef(ctx, id)
	if err != nil {
		return err
	}
	if whole {
		*rec = *p
	} else {
		p.copyVerified(rec)
	}
	return nil
}

// List implements [Store]; it is not cached.
func (c *CachedStore) List(ctx context.Context, f ListFilter) ([]Record, error) {
	return c.s.List(ctx, f)
}

// Update implements [Store]. The cached copy is forgotten whatever the
// outcome: after a version conflict, it is what was stale.
func (c *CachedStore) Update(ctx context.Context, rec Record) (Record, error) {
	return c.s.Update(ctx, rec)
}

// Touch implements [Store]. The cached copy is forgotten so that Get shows
// the new last-used time.
func (c *CachedStore) Touch(ctx context.Context, id string, t time.Time) error {
	return c.s.Forget(id, func() error { return c.inner.Touch(ctx, id, t) })
}
