package httpsig_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

// TestVerifyGrantIsTheCallersOwn: a caller that writes to the grant Verify
// returned must not change the stored credential, nor what the next
// request is granted, although Verify reads the Manager's stored record
// without copying it.
func TestVerifyGrantIsTheCallersOwn(t *testing.T) {
	ctx := context.Background()
	clock := newCredClock()
	m, err := httpsig.NewManager(httpsig.Config{MasterKey: credMasterKey(7), Now: clock.Now})
	require.NoError(t, err)
	v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: m, Now: clock.Now})
	require.NoError(t, err)
	s, cred, err := m.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"s1"}, Permissions: []string{"orders:read"}}})
	require.NoError(t, err)
	a, err := v.Verify(scRequest(t, clock, cred.KeyID, s.Reveal()))
	require.NoError(t, err)
	a.Stores[0] = "s2"
	a.Permissions[0] = "orders:write"
	b, err := v.Verify(scRequest(t, clock, cred.KeyID, s.Reveal()))
	require.NoError(t, err)
	require.Equal(t, []string{"s1"}, b.Stores)
	require.Equal(t, []string{"orders:read"}, b.Permissions)
	got, err := m.Get(ctx, cred.KeyID)
	require.NoError(t, err)
	require.Equal(t, []string{"orders:read"}, got.Permissions)
}
