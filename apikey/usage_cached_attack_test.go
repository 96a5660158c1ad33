package apikey_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// idlessStore returns, for any ID, one record of its own without an ID
// (a Store that leaves the ID out of what it reads), sharing its Hashes.
type idlessStore struct {
	apikey.Store
	rec apikey.Record
}

func (s *idlessStore) Get(context.Context, string) (apikey.Record, error) { return s.rec, nil }

// TestCachedStoreClonesEveryReadRecord_attack: the CachedStore keeps a
// copy of its own of every record it reads successfully, whatever its ID:
// changing the backing store's memory afterwards does not change what the
// cache serves. (The cached usage slot's clone skipped the copy of any
// record with an empty ID, taking it for a failed read.)
func TestCachedStoreClonesEveryReadRecord_attack(t *testing.T) {
	ctx := context.Background()
	inner := &idlessStore{Store: apikey.NewMemoryStore(), rec: apikey.Record{Hashes: []apikey.Hash{{Sum: [32]byte{1}}}}}
	c := apikey.NewCachedStore(inner, apikey.CacheConfig{TTL: time.Hour})
	got, err := c.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, byte(1), got.Hashes[0].Sum[0])
	inner.rec.Hashes[0].Sum[0] = 2 // the backing store's own memory changes
	got, err = c.Get(ctx, "k")     // served from the cache
	require.NoError(t, err)
	require.Equal(t, byte(1), got.Hashes[0].Sum[0], "the cached copy shares the backing store's memory")
}

// TestCachedStoreUsageStress_attack: two Managers sharing one CachedStore
// verify one key concurrently with flushes, invalidations and the close of
// one of them (-race); every time noted reaches the backing store, none is
// lost to a slot cached in a copy the cache dropped.
func TestCachedStoreUsageStress_attack(t *testing.T) {
	ctx := context.Background()
	f := newSharedCachedStore(t)
	clk, now, inner, cs, a, b := f.clk, f.now, f.inner, f.cs, f.a, f.b
	k, _, err := a.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	key := k.Reveal()
	var wg sync.WaitGroup
	for _, m := range []*apikey.Manager{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var g keygate.Grant
			for range 300 {
				_, _, err := m.VerifyGrant(ctx, key, &g)
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 300 {
			clk.Add(int64(2 * time.Second))
			switch i % 4 {
			case 0:
				cs.Invalidate(k.ID())
			case 1:
				cs.InvalidateAll()
			case 2:
				_ = a.FlushUsage(ctx)
			case 3:
				_ = b.FlushUsage(ctx)
			}
			if i == 150 {
				_ = a.Close(ctx)
			}
		}
	}()
	wg.Wait()
	clk.Add(int64(2 * time.Second))
	last := now()
	for _, m := range []*apikey.Manager{a, b} {
		var g keygate.Grant
		_, _, err := m.VerifyGrant(ctx, key, &g)
		require.NoError(t, err)
	}
	require.NoError(t, a.Close(ctx))
	require.NoError(t, b.Close(ctx))
	rec, err := inner.Get(ctx, k.ID())
	require.NoError(t, err)
	require.True(t, rec.LastUsed.Equal(last), "last used %v, want %v", rec.LastUsed, last)
}

// TestCachedStoreUsageSlotOfAnother_attack: a record cached by a
// CachedStore that two Managers share caches the slot of the first that
// verified it; the second's times still reach the store, before and after
// the first is closed, never into the first's slot.
func TestCachedStoreUsageSlotOfAnother_attack(t *testing.T) {
	ctx := context.Background()
	f := newSharedCachedStore(t)
	clk, now, inner, a, b := f.clk, f.now, f.inner, f.a, f.b
	defer b.Close(ctx)
	k, _, err := a.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	var g keygate.Grant
	verify := func(m *apikey.Manager) {
		t.Helper()
		clk.Add(int64(2 * time.Second))
		_, _, err := m.VerifyGrant(ctx, k.Reveal(), &g)
		require.NoError(t, err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		rec, err := inner.Get(ctx, k.ID())
		require.NoError(t, err)
		return rec.LastUsed
	}
	verify(a) // the cached copy caches a's slot
	verify(b)
	require.NoError(t, a.FlushUsage(ctx)) // a Touch: the cache forgets the copy
	verify(a)
	verify(b)
	require.NoError(t, b.FlushUsage(ctx))
	require.True(t, lastUsed().Equal(now()), "b's time: %v, want %v", lastUsed(), now())
	require.NoError(t, a.Close(ctx))
	verify(b) // a is closed: b takes the cached cell over
	require.NoError(t, b.FlushUsage(ctx))
	require.True(t, lastUsed().Equal(now()), "after a's close, b's time: %v, want %v", lastUsed(), now())
}

// sharedCachedStore is two Managers, a and b, sharing one CachedStore in
// front of inner, on the clock now that clk sets.
type sharedCachedStore struct {
	clk   *atomic.Int64
	now   func() time.Time
	inner *apikey.MemoryStore
	cs    *apikey.CachedStore
	a, b  *apikey.Manager
}

func newSharedCachedStore(t *testing.T) sharedCachedStore {
	t.Helper()
	f := sharedCachedStore{clk: new(atomic.Int64), inner: apikey.NewMemoryStore()}
	f.clk.Store(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).UnixNano())
	f.now = func() time.Time { return time.Unix(0, f.clk.Load()).UTC() }
	f.cs = apikey.NewCachedStore(f.inner, apikey.CacheConfig{TTL: time.Hour, Now: f.now})
	var err error
	f.a, err = apikey.NewManager(apikey.Config{Store: f.cs, Now: f.now, LastUsedInterval: time.Hour})
	require.NoError(t, err)
	f.b, err = apikey.NewManager(apikey.Config{Store: f.cs, Now: f.now, LastUsedInterval: time.Hour})
	require.NoError(t, err)
	return f
}
