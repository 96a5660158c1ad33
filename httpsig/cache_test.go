package httpsig_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/httpsig/httpsigtest"
)

func TestCachedCredentialStoreConformance(t *testing.T) {
	httpsigtest.TestCredentialStore(t, func(*testing.T) httpsig.CredentialStore {
		return httpsig.NewCachedCredentialStore(httpsig.NewMemoryCredentialStore(), httpsig.CacheConfig{})
	})
}

// TestCachedCredentialStoreInstances plays two instances sharing a store:
// a revocation through A reaches B within the TTL, or at once with
// Invalidate; B's stale copy does not wedge B's own changes.
func TestCachedCredentialStoreInstances(t *testing.T) {
	ctx := context.Background()
	clock := newCredClock()
	shared := httpsig.NewMemoryCredentialStore()
	newInstance := func() (*httpsig.Manager, *httpsig.CachedCredentialStore) {
		cache := httpsig.NewCachedCredentialStore(shared, httpsig.CacheConfig{TTL: time.Second, Now: clock.Now})
		m, err := httpsig.NewManager(httpsig.Config{Store: cache, MasterKey: credMasterKey(7), Now: clock.Now})
		require.NoError(t, err)
		return m, cache
	}
	a, _ := newInstance()
	b, cacheB := newInstance()

	_, cred, err := a.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	_, err = b.Lookup(ctx, cred.KeyID)
	require.NoError(t, err)

	_, err = a.Disable(ctx, cred.KeyID)
	require.NoError(t, err)
	_, err = a.Lookup(ctx, cred.KeyID)
	require.ErrorIs(t, err, httpsig.ErrDisabled, "A sees its own change at once")
	_, err = b.Lookup(ctx, cred.KeyID)
	require.NoError(t, err, "B's copy is still fresh")
	cacheB.Invalidate(cred.KeyID)
	_, err = b.Lookup(ctx, cred.KeyID)
	require.ErrorIs(t, err, httpsig.ErrDisabled, "invalidated: B reads the change")

	_, err = a.Enable(ctx, cred.KeyID) // B still caches "disabled"
	require.NoError(t, err)
	_, err = b.Revoke(ctx, cred.KeyID)
	require.NoError(t, err, "the conflict forgets B's stale copy and the retry succeeds")
	clock.Set(2 * time.Second)
	_, err = a.Lookup(ctx, cred.KeyID)
	require.ErrorIs(t, err, httpsig.ErrRevoked)
}
