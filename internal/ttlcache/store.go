package ttlcache

import (
	"context"
	"time"
)

// Backing is the store a [Store] caches: the create, get, update and list
// methods that keygate's record stores (apikey.Store, account.Store,
// httpsig.CredentialStore) have in common, for records V listed with a
// filter F.
type Backing[V, F any] interface {
	// Create stores a new record v and returns it as stored.
	Create(ctx context.Context, v V) (V, error)
	// Get returns the stored record with that ID, or the package's
	// not-found error.
	Get(ctx context.Context, id string) (V, error)
	// Update stores v if its version is still the stored one (a
	// compare-and-swap) and returns it as stored.
	Update(ctx context.Context, v V) (V, error)
	// List returns the stored records that f selects.
	List(ctx context.Context, f F) ([]V, error)
}

// Store is the read-through cache of the cached record stores: Get serves a
// record from memory for up to the TTL; every write goes to the backing
// store and forgets the local copy, whatever its outcome (after a version
// conflict the cached copy is what was stale, and the compare-and-swap
// retry must read afresh). Unknown IDs and List are not cached. Each
// package wraps it in its own exported type, which documents it for that
// package's records.
type Store[V, F any] struct {
	inner Backing[V, F]
	cache *Cache[V]
	id    func(V) string
	clone func(V) V
}

// NewStore returns a Store in front of inner that keeps records for ttl
// (defaultTTL when not positive), at most max of them (defaultMax when not
// positive), on the clock now (nil: time.Now). id returns a record's ID,
// the key Update forgets. clone, when not nil, copies a record read from
// inner before it is cached, for records holding slices or maps that inner
// may share with others; nil keeps the record as read.
func NewStore[V, F any](inner Backing[V, F], ttl, defaultTTL time.Duration, max, defaultMax int, now func() time.Time,
	id func(V) string, clone func(V) V) *Store[V, F] {
	if ttl <= 0 {
		ttl = defaultTTL
	}
	if max <= 0 {
		max = defaultMax
	}
	return &Store[V, F]{inner: inner, cache: New[V](ttl, max, now), id: id, clone: clone}
}

// Invalidate forgets the cached copy of the record with that ID.
func (s *Store[V, F]) Invalidate(id string) { s.cache.Invalidate(id) }

// InvalidateAll forgets every cached record.
func (s *Store[V, F]) InvalidateAll() { s.cache.InvalidateAll() }

// Create creates v in the backing store.
func (s *Store[V, F]) Create(ctx context.Context, v V) (V, error) { return s.inner.Create(ctx, v) }

// Get returns the record with that ID, from memory when a fresh copy is
// cached. A done ctx fails it even then.
func (s *Store[V, F]) Get(ctx context.Context, id string) (V, error) {
	if err := ctx.Err(); err != nil {
		var zero V
		return zero, err
	}
	if s.clone == nil {
		return s.cache.GetOrLoad(ctx, id, s.inner.Get)
	}
	return s.cache.GetOrLoad(ctx, id, func(ctx context.Context, id string) (V, error) {
		v, err := s.inner.Get(ctx, id)
		return s.clone(v), err
	})
}

// GetRef is [Store.Get] without copying a cached record out of the cache:
// a pointer to the cache's own copy (see [Cache.Ref]), or on a miss to the
// record just read. Never write through it.
func (s *Store[V, F]) GetRef(ctx context.Context, id string) (*V, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p, ok := s.cache.Ref(id); ok {
		return p, nil
	}
	v, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Update updates v in the backing store and forgets its cached copy.
func (s *Store[V, F]) Update(ctx context.Context, v V) (V, error) {
	defer s.cache.Invalidate(s.id(v))
	return s.inner.Update(ctx, v)
}

// List lists the backing store's records; it is not cached.
func (s *Store[V, F]) List(ctx context.Context, f F) ([]V, error) { return s.inner.List(ctx, f) }

// Forget runs a write of the backing store that changes the record with
// that ID outside Update (apikey's Touch, say), and forgets its cached
// copy whatever the outcome.
func (s *Store[V, F]) Forget(id string, write func() error) error {
	defer s.cache.Invalidate(id)
	return write()
}
