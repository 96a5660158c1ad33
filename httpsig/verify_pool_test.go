package httpsig_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

// TestVerifierPooledStatesEndWithTheSecret: once a replaced secret's grace
// is over, or the credential is revoked, disabled or rotated by another
// instance sharing the store, the pooled MAC states of the old secret no
// longer verify anything, although they were warm.
func TestVerifierPooledStatesEndWithTheSecret(t *testing.T) {
	ctx := context.Background()
	for _, entries := range []int{0, 1, -1} {
		t.Run(fmt.Sprintf("SecretCacheEntries %d", entries), func(t *testing.T) {
			clock := newCredClock()
			store := httpsig.NewMemoryCredentialStore()
			cfg := httpsig.Config{MasterKey: credMasterKey(7), Now: clock.Now, SecretCacheEntries: entries, Store: store}
			m, err := httpsig.NewManager(cfg)
			require.NoError(t, err)
			other, err := httpsig.NewManager(cfg) // another instance on the same store
			require.NoError(t, err)
			v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: m, Now: clock.Now})
			require.NoError(t, err)
			grant := keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"s1"}}
			first, cred, err := m.Create(ctx, httpsig.CreateParams{Grant: grant})
			require.NoError(t, err)
			verify := func(s httpsig.Secret) error {
				_, err := v.Verify(scRequest(t, clock, cred.KeyID, s.Reveal()))
				return err
			}
			require.NoError(t, verify(first))

			// Another instance rotates without grace: the old secret stops at once.
			second, _, err := other.Rotate(ctx, cred.KeyID, 0)
			require.NoError(t, err)
			assert.ErrorIs(t, verify(first), httpsig.ErrInvalidSignature)
			require.NoError(t, verify(second))

			// With grace: both verify (warming the old secret's pool), then
			// only the new one once the grace is over.
			third, _, err := m.Rotate(ctx, cred.KeyID, time.Minute)
			require.NoError(t, err)
			for range 3 {
				require.NoError(t, verify(second))
				require.NoError(t, verify(third))
			}
			clock.Set(2 * time.Minute)
			assert.ErrorIs(t, verify(second), httpsig.ErrInvalidSignature)
			require.NoError(t, verify(third))

			// Disabled, then revoked: nothing verifies.
			_, err = m.Disable(ctx, cred.KeyID)
			require.NoError(t, err)
			assert.Error(t, verify(third))
			_, err = m.Enable(ctx, cred.KeyID)
			require.NoError(t, err)
			require.NoError(t, verify(third))
			_, err = other.Revoke(ctx, cred.KeyID)
			require.NoError(t, err)
			assert.Error(t, verify(third))
		})
	}
}
