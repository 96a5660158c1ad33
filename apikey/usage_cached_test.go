package apikey

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

// TestCachedStoreUsageSlot: a key verified through a CachedStore has its
// usage slot cached in the cached copy of its record (so that the next
// verification finds it without a lookup in the tracker's map), the slot
// of the Manager that verified it; the last-used time still reaches the
// backing store; and a copy read again after the cache forgot the record
// (a Touch, an update, its TTL) starts without a slot and caches the same
// one again.
func TestCachedStoreUsageSlot(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	inner := NewMemoryStore()
	cached := NewCachedStore(inner, CacheConfig{TTL: time.Hour, Now: clock})
	m, err := NewManager(Config{Store: cached, Now: clock, LastUsedInterval: 100 * time.Hour})
	require.NoError(t, err)
	defer m.Close(ctx)
	k, _, err := m.Create(ctx, CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)

	cell := func() *usageSlot {
		p, err := cached.s.GetRef(ctx, k.ID())
		require.NoError(t, err)
		require.NotNil(t, p.usage, "a cached record without a usage cell")
		return p.usage.Load()
	}
	_, err = m.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	first := cell()
	if first == nil || first.tracker != &m.usage {
		t.Fatalf("cached slot %+v, want the Manager's", first)
	}
	if s, _ := m.usage.seen.Load(k.ID()); s != first {
		t.Fatal("the cached slot is not the tracker's slot of the key")
	}
	now = now.Add(2 * time.Second)
	_, err = m.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	if cell() != first {
		t.Fatal("a second verification replaced the cached slot")
	}

	require.NoError(t, m.FlushUsage(ctx)) // Touch: the cache forgets the record
	rec, err := inner.Get(ctx, k.ID())
	require.NoError(t, err)
	if !rec.LastUsed.Equal(now) {
		t.Fatalf("last used %v, want %v", rec.LastUsed, now)
	}
	if p, err := cached.s.GetRef(ctx, k.ID()); err != nil || p.usage == nil || p.usage.Load() != nil {
		t.Fatalf("the copy read after the Touch: %v, %+v", err, p)
	}
	now = now.Add(2 * time.Second)
	_, err = m.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	if cell() != first {
		t.Fatal("the record read again does not cache the key's slot")
	}
	require.NoError(t, m.FlushUsage(ctx))
	rec, err = inner.Get(ctx, k.ID())
	require.NoError(t, err)
	if !rec.LastUsed.Equal(now) {
		t.Fatalf("last used %v after the second flush, want %v", rec.LastUsed, now)
	}
}
