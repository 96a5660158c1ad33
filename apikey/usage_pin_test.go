package apikey

import (
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

// TestClosedManagerNotPinned: a Manager closed and dropped (replaced, say,
// on a configuration reload) is not kept alive by the records of the
// MemoryStore it shared through the usage slot they cached, once the
// Manager that replaced it verified them; that Manager caches its own
// slot there instead.
func TestClosedManagerNotPinned(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	newM := func() *Manager {
		m, err := NewManager(Config{Store: store, Now: clock})
		require.NoError(t, err)
		return m
	}
	old := newM()
	k, _, err := old.Create(ctx, CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	_, err = old.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	require.NoError(t, old.Close(ctx))
	gone := weak.Make(old)
	old = nil

	m := newM()
	defer m.Close(ctx)
	_, err = m.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	v, _ := store.recs.Load(k.ID())
	if s := v.(*memRecord).usage.Load(); s == nil || s.tracker != &m.usage {
		t.Error("the record caches a closed Manager's usage slot")
	}
	for range 3 {
		runtime.GC()
	}
	if gone.Value() != nil {
		t.Error("the closed Manager is still reachable")
	}
}
