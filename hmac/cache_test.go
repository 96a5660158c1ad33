package hmac_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/hmac"
	"github.com/keygate/keygate/hmac/hmactest"
)

func TestCachedCredentialStoreConformance(t *testing.T) {
	hmactest.TestCredentialStore(t, func(*testing.T) hmac.CredentialStore {
		return hmac.NewCachedCredentialStore(hmac.NewMemoryCredentialStore(), hmac.CacheConfig{})
	})
}

// TestCachedCredentialStoreInstances plays two instances sharing a store:
// a revocation through A reaches B within the TTL, or at once with
// Invalidate; B's stale copy does not wedge B's own changes.
func TestCachedCredentialStoreInstances(t *testing.T) {
	ctx := context.Background()
	clock := newCredClock()
	shared := hmac.NewMemoryCredentialStore()
	newInstance := func() (*hmac.Manager, *hmac.CachedCredentialStore) {
		cache := hmac.NewCachedCredentialStore(shared, hmac.CacheConfig{TTL: time.Second, Now: clock.Now})
		m, err := hmac.NewManager(hmac.Config{Store: cache, MasterKey: credMasterKey(7), Now: clock.Now})
		require.NoError(t, err)
		return m, cache
	}
	a, _ := newInstance()
	b, cacheB := newInstance()

	_, cred, err := a.Create(ctx, hmac.CreateParams{Account: "acct_1", Mode: keygate.ModeTest})
	require.NoError(t, err)
	_, err = b.Lookup(ctx, cred.KeyID)
	require.NoError(t, err)

	_, err = a.Disable(ctx, cred.KeyID)
	require.NoError(t, err)
	_, err = a.Lookup(ctx, cred.KeyID)
	require.ErrorIs(t, err, hmac.ErrDisabled, "A sees its own change at once")
	_, err = b.Lookup(ctx, cred.KeyID)
	require.NoError(t, err, "B's copy is still fresh")
	cacheB.Invalidate(cred.KeyID)
	_, err = b.Lookup(ctx, cred.KeyID)
	require.ErrorIs(t, err, hmac.ErrDisabled, "invalidated: B reads the change")

	_, err = a.Enable(ctx, cred.KeyID) // B still caches "disabled"
	require.NoError(t, err)
	_, err = b.Revoke(ctx, cred.KeyID)
	require.NoError(t, err, "the conflict forgets B's stale copy and the retry succeeds")
	clock.Set(2 * time.Second)
	_, err = a.Lookup(ctx, cred.KeyID)
	require.ErrorIs(t, err, hmac.ErrRevoked)
}
