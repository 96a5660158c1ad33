package httpsig_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

// scRequest signs a fresh POST with secret, at the clock's time.
func scRequest(t *testing.T, clock *credClock, keyID string, secret []byte) *http.Request {
	t.Helper()
	body := []byte(`{"n":1}`)
	r := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/orders", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	require.NoError(t, (&httpsig.Signer{KeyID: keyID, Secret: secret, Now: clock.Now}).Sign(r, body))
	return r
}

// TestSecretCacheRefusesOnTheNextRequest warms the cache of opened secrets
// with an accepted request, changes the credential, and checks that the
// very next request is refused (or, for a rotation, accepted only with the
// new secret).
func TestSecretCacheRefusesOnTheNextRequest(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, e credEnv, keyID string) []byte // the new secret, if any
		cause  error
	}{
		{"revoked", func(t *testing.T, e credEnv, keyID string) []byte {
			_, err := e.m.Revoke(ctx, keyID)
			require.NoError(t, err)
			return nil
		}, httpsig.ErrRevoked},
		{"disabled", func(t *testing.T, e credEnv, keyID string) []byte {
			_, err := e.m.Disable(ctx, keyID)
			require.NoError(t, err)
			return nil
		}, httpsig.ErrDisabled},
		{"expired", func(t *testing.T, e credEnv, keyID string) []byte {
			e.clock.Set(time.Hour)
			return nil
		}, httpsig.ErrExpired},
		{"rotated without grace", func(t *testing.T, e credEnv, keyID string) []byte {
			s, _, err := e.m.Rotate(ctx, keyID, 0)
			require.NoError(t, err)
			return s.Reveal()
		}, nil},
		{"grace ended", func(t *testing.T, e credEnv, keyID string) []byte {
			s, _, err := e.m.Rotate(ctx, keyID, time.Minute)
			require.NoError(t, err)
			e.clock.Set(time.Minute)
			return s.Reveal()
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newCredEnv(t)
			secret, cred := e.create(t, httpsig.CreateParams{Expires: credT0.Add(time.Hour)})
			v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: e.m, Now: e.clock.Now})
			require.NoError(t, err)
			for range 2 { // the second from the cache
				_, err = v.Verify(scRequest(t, e.clock, cred.KeyID, secret.Reveal()))
				require.NoError(t, err)
			}

			next := tc.change(t, e, cred.KeyID)
			_, err = v.Verify(scRequest(t, e.clock, cred.KeyID, secret.Reveal()))
			assert.ErrorIs(t, err, httpsig.ErrInvalidSignature)
			if tc.cause != nil {
				assert.ErrorIs(t, err, tc.cause)
			}
			if next != nil {
				_, err = v.Verify(scRequest(t, e.clock, cred.KeyID, next))
				assert.NoError(t, err, "the new secret")
			}
		})
	}
}

// TestSecretCacheAcrossInstances has two managers on one store, as two
// server instances: one revokes or rotates, the other, whose cache holds
// the secret, refuses the next request once its credential cache is
// invalidated (the broadcast of a change), and at once without one.
func TestSecretCacheAcrossInstances(t *testing.T) {
	ctx := context.Background()
	for _, cached := range []bool{false, true} {
		for _, op := range []string{"revoke", "rotate"} {
			t.Run(fmt.Sprintf("%s cached store %v", op, cached), func(t *testing.T) {
				clock := newCredClock()
				shared := httpsig.NewMemoryCredentialStore()
				admin, err := httpsig.NewManager(httpsig.Config{Store: shared, MasterKey: credMasterKey(7), Now: clock.Now})
				require.NoError(t, err)
				var store httpsig.CredentialStore = shared
				cache := httpsig.NewCachedCredentialStore(shared, httpsig.CacheConfig{Now: clock.Now})
				if cached {
					store = cache
				}
				other, err := httpsig.NewManager(httpsig.Config{Store: store, MasterKey: credMasterKey(7), Now: clock.Now})
				require.NoError(t, err)
				v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: other, Now: clock.Now})
				require.NoError(t, err)

				secret, cred, err := admin.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
				require.NoError(t, err)
				_, err = v.Verify(scRequest(t, clock, cred.KeyID, secret.Reveal()))
				require.NoError(t, err)

				if op == "revoke" {
					_, err = admin.Revoke(ctx, cred.KeyID)
				} else {
					_, _, err = admin.Rotate(ctx, cred.KeyID, 0)
				}
				require.NoError(t, err)
				cache.Invalidate(cred.KeyID) // the broadcast
				_, err = v.Verify(scRequest(t, clock, cred.KeyID, secret.Reveal()))
				assert.ErrorIs(t, err, httpsig.ErrInvalidSignature)
			})
		}
	}
}

// TestVerifierWithManager checks the verifier's MAC over a Manager's
// secrets, with the cache (pooled MAC states) and without: both secrets
// of a rotation with grace verify, a wrong MAC and an unknown key ID do
// not, and the verified credential carries its grant but no secret.
func TestVerifierWithManager(t *testing.T) {
	ctx := context.Background()
	for _, entries := range []int{0, -1} {
		t.Run(fmt.Sprintf("SecretCacheEntries %d", entries), func(t *testing.T) {
			clock := newCredClock()
			m, err := httpsig.NewManager(httpsig.Config{MasterKey: credMasterKey(7), Now: clock.Now, SecretCacheEntries: entries})
			require.NoError(t, err)
			v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: m, Now: clock.Now})
			require.NoError(t, err)
			old, cred, err := m.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"s1"}}})
			require.NoError(t, err)
			for range 2 {
				a, err := v.Verify(scRequest(t, clock, cred.KeyID, old.Reveal()))
				require.NoError(t, err)
				assert.Equal(t, httpsig.Active{KeyID: cred.KeyID, Grant: cred.Grant}, a)
			}
			current, _, err := m.Rotate(ctx, cred.KeyID, time.Hour)
			require.NoError(t, err)
			for range 2 {
				for _, s := range [][]byte{current.Reveal(), old.Reveal()} {
					_, err := v.Verify(scRequest(t, clock, cred.KeyID, s))
					assert.NoError(t, err)
				}
				wrong := bytes.Clone(current.Reveal())
				wrong[0] ^= 1
				_, err := v.Verify(scRequest(t, clock, cred.KeyID, wrong))
				assert.ErrorIs(t, err, httpsig.ErrInvalidSignature)
				_, err = v.Verify(scRequest(t, clock, "hk_0000000000000000", current.Reveal()))
				assert.ErrorIs(t, err, httpsig.ErrInvalidSignature)
				assert.ErrorIs(t, err, httpsig.ErrNotFound)
			}
		})
	}
}
