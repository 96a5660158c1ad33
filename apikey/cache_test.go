package apikey_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/apikey/apikeytest"
)

func TestCachedStoreConformance(t *testing.T) {
	apikeytest.TestStore(t, func(*testing.T) apikey.Store {
		return apikey.NewCachedStore(apikey.NewMemoryStore(), apikey.CacheConfig{})
	})
}

// countingStore counts the Gets that reach the backing store.
type countingStore struct {
	apikey.Store
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, id string) (apikey.Record, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, id)
}

// TestCachedStoreInstances plays two instances, A and B, each with its own
// cache in front of one shared store.
func TestCachedStoreInstances(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	shared := &countingStore{Store: apikey.NewMemoryStore()}
	newInstance := func() (*apikey.Manager, *apikey.CachedStore) {
		cache := apikey.NewCachedStore(shared, apikey.CacheConfig{TTL: time.Second, Now: clk.Now})
		m, err := apikey.NewManager(apikey.Config{Store: cache, Now: clk.Now})
		require.NoError(t, err)
		return m, cache
	}
	a, _ := newInstance()
	b, cacheB := newInstance()

	key, rec, err := a.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	_, err = b.Verify(ctx, key.Reveal())
	require.NoError(t, err, "a key created elsewhere works at once: unknown IDs are not cached")
	before := shared.gets.Load()
	for range 100 {
		_, err = b.Verify(ctx, key.Reveal())
		require.NoError(t, err)
	}
	assert.Equal(t, before, shared.gets.Load(), "verifications within the TTL are served from memory")

	// A revokes: A sees it at once, B within the TTL.
	_, err = a.Revoke(ctx, rec.ID)
	require.NoError(t, err)
	_, err = a.Verify(ctx, key.Reveal())
	require.ErrorIs(t, err, apikey.ErrRevoked)
	_, err = b.Verify(ctx, key.Reveal())
	require.NoError(t, err, "B's copy is still fresh")
	clk.Advance(time.Second)
	_, err = b.Verify(ctx, key.Reveal())
	require.ErrorIs(t, err, apikey.ErrRevoked, "after the TTL, B reads the revocation")

	// With an invalidation (what a broadcast does), B sees a change at once.
	key2, rec2, err := a.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	_, err = b.Verify(ctx, key2.Reveal())
	require.NoError(t, err)
	_, err = a.Disable(ctx, rec2.ID)
	require.NoError(t, err)
	cacheB.Invalidate(rec2.ID)
	_, err = b.Verify(ctx, key2.Reveal())
	require.ErrorIs(t, err, apikey.ErrDisabled)

	// B's stale copy does not wedge B's own changes: the compare-and-swap
	// conflict forgets it and the retry reads afresh.
	_, err = a.Enable(ctx, rec2.ID) // B still caches "disabled" after its read above
	require.NoError(t, err)
	_, err = b.Verify(ctx, key2.Reveal())
	require.ErrorIs(t, err, apikey.ErrDisabled, "B's stale copy")
	got, err := b.Revoke(ctx, rec2.ID)
	require.NoError(t, err)
	assert.Equal(t, apikey.StatusRevoked, got.Status)
	_, err = a.Verify(ctx, key2.Reveal())
	require.ErrorIs(t, err, apikey.ErrRevoked)
}
