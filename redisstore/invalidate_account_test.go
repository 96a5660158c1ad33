package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
)

// TestInvalidationsAccounts plays two instances whose account caches (TTL
// one minute) sit in front of one shared store, joined by Invalidations:
// once B's subscription has dropped an account disabled on A, B sees it
// disabled, long before its cache entry expires, and so a new package.
func TestInvalidationsAccounts(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	shared := account.NewMemoryStore()
	type instance struct {
		accounts *account.Manager
		dropped  *droppedIDs
	}
	newInstance := func() *instance {
		cache := account.NewCachedStore(shared, account.CacheConfig{TTL: time.Minute})
		dropped := newDroppedIDs(cache)
		accounts, err := account.NewManager(account.Config{Store: cache, OnChange: subscribeCache(t, cfg, dropped)})
		require.NoError(t, err)
		return &instance{accounts: accounts, dropped: dropped}
	}
	a, b := newInstance(), newInstance()
	// change runs fn on A, waits until B's cache has dropped the account,
	// and returns what B then sees.
	change := func(id string, fn func() error) account.Account {
		t.Helper()
		b.dropped.reset()
		require.NoError(t, fn())
		b.dropped.wait(t, id)
		got, err := b.accounts.Get(ctx, id)
		require.NoError(t, err)
		return got
	}

	const rounds = 10
	for i := range rounds {
		acct, err := a.accounts.Create(ctx, account.CreateParams{Name: "shop", Package: "GO"})
		require.NoError(t, err)
		got, err := b.accounts.Get(ctx, acct.ID) // now cached on B for a minute
		require.NoError(t, err)
		require.False(t, got.Disabled)

		got = change(acct.ID, func() error { _, err := a.accounts.Disable(ctx, acct.ID); return err })
		require.True(t, got.Disabled, "round %d: B sees enabled an account disabled on A once the broadcast arrived", i)
		pkg := "PRIME"
		got = change(acct.ID, func() error { _, err := a.accounts.Update(ctx, acct.ID, account.Changes{Package: &pkg}); return err })
		require.Equal(t, "PRIME", got.Package, "a new package reaches B")
		got = change(acct.ID, func() error { _, err := a.accounts.Enable(ctx, acct.ID); return err })
		require.False(t, got.Disabled, "enabling reaches B")
	}
}

// TestInvalidationsAccountPayload: an account's change publishes the
// account's ID; a key's change its key ID, never its account's.
func TestInvalidationsAccountPayload(t *testing.T) {
	cfg := testConfig(t)
	inv, err := NewInvalidations(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps := cfg.Client.Subscribe(ctx, inv.channel)
	defer ps.Close()
	_, err = ps.Receive(ctx) // the subscription
	require.NoError(t, err)
	for _, c := range []keygate.Change{
		{Action: keygate.ActionAccountCreated, Account: "acct_new"}, // nothing cached to drop
		{Action: keygate.ActionAccountDisabled, Account: "acct_1"},
		{Action: keygate.ActionKeyRevoked, KeyID: "key_1", Account: "acct_1"},
		{Action: keygate.ActionAccountEnabled, Account: "acct_2"},
		{Action: keygate.ActionAccountUpdated, Account: "acct_3"},
	} {
		inv.Publish(ctx, c)
	}
	var got []string
	for range 4 {
		m, err := ps.ReceiveMessage(ctx)
		require.NoError(t, err)
		got = append(got, m.Payload)
	}
	assert.Equal(t, []string{"acct_1", "key_1", "acct_2", "acct_3"}, got)
}
