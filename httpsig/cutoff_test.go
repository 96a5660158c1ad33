package httpsig_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

// TestTokenCutOff: rotating without grace, disabling and revoking set the
// credential's token cut-off, so that the one-time tokens it obtained go
// with the old secret, as an API key's do; a rotation with grace and
// Enable leave it as it was. CutOff compares whole seconds: a token of the
// cut-off's second is cut off.
func TestTokenCutOff(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	_, c, err := e.m.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive}})
	require.NoError(t, err)
	assert.True(t, c.TokensNotBefore.IsZero(), "a new credential has no cut-off")
	assert.False(t, c.CutOff(e.clock.Now()))

	e.clock.Set(time.Minute)
	_, c, err = e.m.Rotate(ctx, c.KeyID, time.Hour)
	require.NoError(t, err)
	assert.True(t, c.TokensNotBefore.IsZero(), "a rotation with grace keeps the tokens")

	e.clock.Set(2 * time.Minute)
	rotated := e.clock.Now()
	_, c, err = e.m.Rotate(ctx, c.KeyID, 0)
	require.NoError(t, err)
	assert.True(t, c.TokensNotBefore.Equal(rotated), "a rotation without grace sets the cut-off")
	assert.True(t, c.CutOff(rotated.Add(-time.Second)))
	assert.True(t, c.CutOff(rotated.Add(999*time.Millisecond)), "the cut-off's second is cut off")
	assert.False(t, c.CutOff(rotated.Add(time.Second)))

	e.clock.Set(3 * time.Minute)
	disabled := e.clock.Now()
	c, err = e.m.Disable(ctx, c.KeyID)
	require.NoError(t, err)
	assert.True(t, c.TokensNotBefore.Equal(disabled), "Disable sets the cut-off")
	e.clock.Set(4 * time.Minute)
	c, err = e.m.Enable(ctx, c.KeyID)
	require.NoError(t, err)
	assert.True(t, c.TokensNotBefore.Equal(disabled), "Enable keeps it: old tokens stay refused")

	e.clock.Set(5 * time.Minute)
	revoked := e.clock.Now()
	c, err = e.m.Revoke(ctx, c.KeyID)
	require.NoError(t, err)
	assert.True(t, c.TokensNotBefore.Equal(revoked), "Revoke sets the cut-off")
	got, err := e.m.Get(ctx, c.KeyID)
	require.NoError(t, err)
	assert.True(t, got.TokensNotBefore.Equal(revoked), "the store keeps it")
}
