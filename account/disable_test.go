package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
)

func TestDisableEnable(t *testing.T) {
	e := newEnv(t, nil)
	ctx := keygate.WithActor(context.Background(), "admin_1")
	a, err := e.m.Create(ctx, account.CreateParams{Name: "Shop", Package: "GO"})
	require.NoError(t, err)
	e.log.take()

	e.clock.Advance(time.Hour)
	d, err := e.m.Disable(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, account.Account{ID: a.ID, Name: "Shop", Package: "GO", Disabled: true, TokensNotBefore: e.clock.Now(), Created: a.Created, Updated: e.clock.Now(), Version: 2}, d)
	assert.Equal(t, []keygate.Change{{Action: keygate.ActionAccountDisabled, Time: e.clock.Now(), Actor: "admin_1", Account: a.ID}}, e.log.take())
	got, err := e.m.Get(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, d, got)

	// Disabling again stores and reports nothing.
	e.clock.Advance(time.Hour)
	again, err := e.m.Disable(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, d, again)
	assert.Empty(t, e.log.take())

	// An update keeps the account disabled.
	u, err := e.m.Update(ctx, a.ID, account.Changes{Package: ptr("PRIME")})
	require.NoError(t, err)
	assert.True(t, u.Disabled, "an update leaves Disabled alone")
	e.log.take()

	e.clock.Advance(time.Hour)
	en, err := e.m.Enable(ctx, a.ID)
	require.NoError(t, err)
	assert.False(t, en.Disabled)
	assert.Equal(t, int64(4), en.Version)
	assert.Equal(t, e.clock.Now(), en.Updated)
	assert.Equal(t, []keygate.Change{{Action: keygate.ActionAccountEnabled, Time: e.clock.Now(), Actor: "admin_1", Account: a.ID}}, e.log.take())

	same, err := e.m.Enable(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, en, same)
	assert.Empty(t, e.log.take(), "enabling an enabled account reports nothing")

	for _, id := range []string{"acct_unknown", "", "not an id"} {
		_, err := e.m.Disable(ctx, id)
		assert.ErrorIs(t, err, account.ErrNotFound, "%q", id)
		_, err = e.m.Enable(ctx, id)
		assert.ErrorIs(t, err, account.ErrNotFound, "%q", id)
	}
	assert.Empty(t, e.log.take())
}

func TestDisableRetriesConflicts(t *testing.T) {
	s := &conflictingStore{Store: account.NewMemoryStore()}
	e := newEnv(t, s)
	a, err := e.m.Create(context.Background(), account.CreateParams{Name: "Shop", Package: "GO"})
	require.NoError(t, err)
	s.n = 3
	d, err := e.m.Disable(context.Background(), a.ID)
	require.NoError(t, err)
	assert.True(t, d.Disabled)
	assert.Equal(t, "OTHER", d.Package, "the retry applies the change to what the other writer stored")

	s.n = 1000
	_, err = e.m.Enable(context.Background(), a.ID)
	assert.ErrorIs(t, err, account.ErrConflict, "gives up under endless contention")
}

func TestDisableStoreFailure(t *testing.T) {
	boom := errors.New("boom")
	e := newEnv(t, failingStore{boom})
	_, err := e.m.Disable(context.Background(), "acct_1")
	assert.ErrorIs(t, err, boom)
	_, err = e.m.Enable(context.Background(), "acct_1")
	assert.ErrorIs(t, err, boom)
	assert.Empty(t, e.log.take())
}

// The Manager and every store are Lookups.
var (
	_ account.Lookup = (*account.Manager)(nil)
	_ account.Lookup = (*account.MemoryStore)(nil)
	_ account.Lookup = (*account.CachedStore)(nil)
)

// TestDisableCutsTokensOff: Disable sets the account's token cut-off to
// now, Enable leaves it where it is (the tokens obtained before the
// disable stay refused), and a later Disable moves it on. CutOff compares
// whole seconds, the cut-off's own second included.
func TestDisableCutsTokensOff(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, err := e.m.Create(ctx, account.CreateParams{Name: "Shop", Package: "GO"})
	require.NoError(t, err)
	assert.True(t, a.TokensNotBefore.IsZero(), "a new account cuts nothing off")
	assert.False(t, a.CutOff(e.clock.Now().Add(-time.Hour)))

	e.clock.Advance(time.Hour)
	disabledAt := e.clock.Now()
	d, err := e.m.Disable(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, disabledAt, d.TokensNotBefore)

	e.clock.Advance(time.Hour)
	en, err := e.m.Enable(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, disabledAt, en.TokensNotBefore, "Enable does not bring the old tokens back")
	for _, tc := range []struct {
		name   string
		issued time.Time
		want   bool
	}{
		{"issued an hour before the disable", disabledAt.Add(-time.Hour), true},
		{"issued in the second of the disable", disabledAt.Add(999 * time.Millisecond), true},
		{"issued the second after", disabledAt.Add(time.Second), false},
		{"issued after the enable", e.clock.Now(), false},
	} {
		assert.Equal(t, tc.want, en.CutOff(tc.issued), tc.name)
	}

	// An update other than a disable leaves the cut-off alone.
	u, err := e.m.Update(ctx, a.ID, account.Changes{Name: ptr("Renamed")})
	require.NoError(t, err)
	assert.Equal(t, disabledAt, u.TokensNotBefore)

	e.clock.Advance(time.Hour)
	again, err := e.m.Disable(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now(), again.TokensNotBefore, "a second disable moves the cut-off on")
}
