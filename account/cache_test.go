package account_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/account/accounttest"
)

func TestCachedStoreConformance(t *testing.T) {
	accounttest.TestStore(t, func(*testing.T) account.Store {
		return account.NewCachedStore(account.NewMemoryStore(), account.CacheConfig{})
	})
}

// countingStore counts the Gets that reach the backing store.
type countingStore struct {
	account.Store
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, id string) (account.Account, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, id)
}

// TestCachedStoreInstances plays two instances, A and B, each with its own
// cache in front of one shared store.
func TestCachedStoreInstances(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	shared := &countingStore{Store: account.NewMemoryStore()}
	newInstance := func() (*account.Manager, *account.CachedStore) {
		cache := account.NewCachedStore(shared, account.CacheConfig{TTL: time.Second, Now: clk.Now})
		m, err := account.NewManager(account.Config{Store: cache, Now: clk.Now})
		require.NoError(t, err)
		return m, cache
	}
	a, _ := newInstance()
	b, cacheB := newInstance()

	_, err := b.Get(ctx, "acct_1")
	require.ErrorIs(t, err, account.ErrNotFound)
	_, err = a.Create(ctx, account.CreateParams{ID: "acct_1", Name: "Shop", Package: "GO"})
	require.NoError(t, err)
	got, err := b.Get(ctx, "acct_1")
	require.NoError(t, err, "an account created elsewhere is found at once: unknown IDs are not cached")
	assert.False(t, got.Disabled)
	before := shared.gets.Load()
	for range 100 {
		_, err = b.Get(ctx, "acct_1")
		require.NoError(t, err)
	}
	assert.Equal(t, before, shared.gets.Load(), "lookups within the TTL are served from memory")

	// A disables: A sees it at once, B within the TTL.
	_, err = a.Get(ctx, "acct_1") // A has a cached copy too
	require.NoError(t, err)
	_, err = a.Disable(ctx, "acct_1")
	require.NoError(t, err)
	got, err = a.Get(ctx, "acct_1")
	require.NoError(t, err)
	assert.True(t, got.Disabled, "an instance sees its own writes at once")
	got, err = b.Get(ctx, "acct_1")
	require.NoError(t, err)
	assert.False(t, got.Disabled, "B's copy is still fresh")
	clk.Advance(time.Second)
	got, err = b.Get(ctx, "acct_1")
	require.NoError(t, err)
	assert.True(t, got.Disabled, "after the TTL, B reads the change")

	// With an invalidation (what a broadcast does), B sees a change at once.
	_, err = a.Enable(ctx, "acct_1")
	require.NoError(t, err)
	got, err = b.Get(ctx, "acct_1")
	require.NoError(t, err)
	assert.True(t, got.Disabled, "B's copy is fresh again")
	cacheB.Invalidate("acct_1")
	got, err = b.Get(ctx, "acct_1")
	require.NoError(t, err)
	assert.False(t, got.Disabled)

	_, err = a.Update(ctx, "acct_1", account.Changes{Package: ptr("PRIME")})
	require.NoError(t, err)
	cacheB.InvalidateAll()
	got, err = b.Get(ctx, "acct_1")
	require.NoError(t, err)
	assert.Equal(t, "PRIME", got.Package)
}

// TestCachedStoreBounded checks MaxEntries and that errors are not cached.
func TestCachedStoreBounded(t *testing.T) {
	ctx := context.Background()
	shared := &countingStore{Store: account.NewMemoryStore()}
	c := account.NewCachedStore(shared, account.CacheConfig{TTL: time.Hour, MaxEntries: 2})
	for _, id := range []string{"acct_1", "acct_2", "acct_3"} {
		_, err := shared.Create(ctx, account.Account{ID: id, Name: id})
		require.NoError(t, err)
		_, err = c.Get(ctx, id)
		require.NoError(t, err)
	}
	before := shared.gets.Load()
	for _, id := range []string{"acct_1", "acct_2", "acct_3"} {
		_, err := c.Get(ctx, id)
		require.NoError(t, err)
	}
	assert.Greater(t, shared.gets.Load(), before, "at most two of three accounts stay cached")

	failing := account.NewCachedStore(failingStore{errors.New("down")}, account.CacheConfig{})
	_, err := failing.Get(ctx, "acct_1")
	assert.Error(t, err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Get(cancelled, "acct_1")
	assert.ErrorIs(t, err, context.Canceled, "a cancelled context is refused even when cached")
}

// BenchmarkLookup is the per-request account lookup of the middleware:
// Manager.Get through a CachedStore, the account cached.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	inner := account.NewMemoryStore()
	_, err := inner.Create(ctx, account.Account{ID: "acct_1", Name: "Shop", Package: "GO"})
	require.NoError(b, err)
	m, err := account.NewManager(account.Config{Store: account.NewCachedStore(inner, account.CacheConfig{TTL: time.Hour})})
	require.NoError(b, err)
	var lookup account.Lookup = m
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lookup.Get(ctx, "acct_1"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestManagerGetCached holds the Manager's in-place read of a CachedStore
// (Manager.Get copies the cached account once) to what Get promises: the
// caller's own copy, this instance's changes seen at once, a done context
// refused even on a cache hit, unknown IDs not found.
func TestManagerGetCached(t *testing.T) {
	ctx := context.Background()
	m, err := account.NewManager(account.Config{Store: account.NewCachedStore(account.NewMemoryStore(), account.CacheConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Create(ctx, account.CreateParams{Name: "shop", Package: "GO"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, a.ID) // a miss: read through, then cached
	if err != nil || got != a {
		t.Fatalf("first Get = %+v, %v; want %+v", got, err, a)
	}
	got.Name, got.Disabled = "changed by the caller", true
	if again, err := m.Get(ctx, a.ID); err != nil || again != a { // a hit
		t.Fatalf("Get after the caller changed its copy = %+v, %v; want %+v", again, err, a)
	}
	disabled, err := m.Disable(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Get(ctx, a.ID); err != nil || !got.Disabled || got != disabled {
		t.Fatalf("Get after Disable = %+v, %v; want %+v", got, err, disabled)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Get(done, a.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a done context = %v; want context.Canceled", err)
	}
	if _, err := m.Get(ctx, "acct_unknown"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("Get of an unknown ID = %v; want ErrNotFound", err)
	}
}
