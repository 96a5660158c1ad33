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
// an account disabled on A must be seen disabled by B long before B's
// cache entry expires, and so must a new package.
func TestInvalidationsAccounts(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	shared := account.NewMemoryStore()
	type instance struct{ accounts *account.Manager }
	newInstance := func() *instance {
		cache := account.NewCachedStore(shared, account.CacheConfig{TTL: time.Minute})
		accounts, err := account.NewManager(account.Config{Store: cache, OnChange: subscribeCache(t, cfg, cache)})
		require.NoError(t, err)
		return &instance{accounts: accounts}
	}
	a, b := newInstance(), newInstance()
	// seen waits until B's lookup of id satisfies ok.
	seen := func(id string, ok func(account.Account) bool) bool {
		for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(100 * time.Microsecond) {
			got, err := b.accounts.Get(ctx, id)
			require.NoError(t, err)
			if ok(got) {
				return true
			}
		}
		return false
	}

	const rounds = 10
	var worst time.Duration
	for i := range rounds {
		acct, err := a.accounts.Create(ctx, account.CreateParams{Name: "shop", Package: "GO"})
		require.NoError(t, err)
		got, err := b.accounts.Get(ctx, acct.ID) // now cached on B for a minute
		require.NoError(t, err)
		require.False(t, got.Disabled)

		start := time.Now()
		_, err = a.accounts.Disable(ctx, acct.ID)
		require.NoError(t, err)
		require.True(t, seen(acct.ID, func(a account.Account) bool { return a.Disabled }),
			"round %d: B still sees enabled an account disabled on A 10 s later (the broadcast did not arrive)", i)
		worst = max(worst, time.Since(start))

		pkg := "PRIME"
		_, err = a.accounts.Update(ctx, acct.ID, account.Changes{Package: &pkg})
		require.NoError(t, err)
		require.True(t, seen(acct.ID, func(a account.Account) bool { return a.Package == "PRIME" }), "a new package reaches B")
		_, err = a.accounts.Enable(ctx, acct.ID)
		require.NoError(t, err)
		require.True(t, seen(acct.ID, func(a account.Account) bool { return !a.Disabled }), "enabling reaches B")
	}
	t.Logf("account disabled on A seen by B after at most %v (%d rounds, cache TTL 1 min)", worst, rounds)
	assert.Less(t, worst, 10*time.Second)
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
